"""A resumed run continues with the selections, drops and batches of an uninterrupted one."""

from __future__ import annotations

import numpy as np
import pytest

from espnet_ddp.core.config import PruningConfig, TimeDropConfig
from espnet_ddp.core.seeding import stable_hash64
from espnet_ddp.espnet.distributed import RankInfo
from espnet_ddp.espnet.epoch_batches import BatchSpec, ShapeTable
from espnet_ddp.espnet.loss_capture import CapturedLosses
from espnet_ddp.espnet.min_length import MinKeepRule
from espnet_ddp.espnet.options import PluginOptions
from espnet_ddp.espnet.pruning_run import DataPruningRun
from espnet_ddp.report.pruning_log import read_pruning_log

MAX_EPOCH = 5


def make_run(corpus, out, strategy="easy2hard") -> DataPruningRun:
    stats = corpus / "stats" / "train"
    shapes = ShapeTable.load(
        [str(stats / "speech_shape"), str(stats / "text_shape.char")], ["speech", "text"]
    )
    options = PluginOptions(
        pruning=PruningConfig.from_options(strategy, {"keep_ratio": 0.5, "ctc_weight": 0.3}),
        time_drop=TimeDropConfig.from_options("chunk", {"drop_ratio": 0.3}),
    )
    spec = BatchSpec("numel", 1, 150000, (), "descending", "ascending", False, 1)
    return DataPruningRun(options, shapes, spec, out, MAX_EPOCH, MinKeepRule(), RankInfo())


def fake_losses(run: DataPruningRun, plan) -> CapturedLosses:
    """Deterministic stand-in for one epoch's training losses."""
    ids = list(plan.selection.kept)
    value = [(stable_hash64(f"{u}/{plan.epoch}") % 1000) / 10.0 for u in ids]
    return CapturedLosses(
        utt_ids=ids,
        ctc=value,
        att=[v / 2 for v in value],
        tokens=[run._tokens(u) for u in ids],
        fed_samples=plan.fed_samples,
    )


def train(run: DataPruningRun, epochs) -> dict:
    plans = {}
    for epoch in epochs:
        plan = run.plan_epoch(epoch)
        run.check_plan(plan)
        run.finish_epoch(
            plan,
            fake_losses(run, plan),
            train_seconds=1.0,
            optimizer_steps=len(plan.batches),
            plugin_seconds=0.0,
            has_ctc=True,
            has_att=True,
        )
        plans[epoch] = plan
    return plans


@pytest.mark.parametrize("strategy", ["easy2hard", "random", "infobatch"])
def test_resume_reproduces_the_uninterrupted_run(tiny_corpus, tmp_path, strategy):
    reference = train(make_run(tiny_corpus, tmp_path / "a", strategy), range(1, MAX_EPOCH + 1))
    # Interrupted after epoch 3 had saved its scores but before ESPnet's checkpoint of epoch 3:
    # ESPnet resumes at epoch 3, which must be planned from the scores after epoch 2.
    train(make_run(tiny_corpus, tmp_path / "b", strategy), range(1, 4))
    resumed = train(make_run(tiny_corpus, tmp_path / "b", strategy), range(3, MAX_EPOCH + 1))
    for epoch in range(3, MAX_EPOCH + 1):
        a, b = reference[epoch], resumed[epoch]
        assert a.selection.kept == b.selection.kept
        assert a.selection.weights == b.selection.weights
        assert a.fed_lengths == b.fed_lengths
        assert a.batches == b.batches
    log_a, log_b = read_pruning_log(tmp_path / "a"), read_pruning_log(tmp_path / "b")
    for ea, eb in zip(log_a.epochs[2:], log_b.epochs[2:], strict=True):
        assert ea.epoch == eb.epoch and ea.epoch >= 3
        assert ea.kept == eb.kept and ea.scores == eb.scores and ea.weights == eb.weights
        for key in ("score_mean", "selection_digest", "num_batches"):
            assert ea.raw[key] == eb.raw[key]


def test_pruned_epochs_have_fewer_batches_than_full_data(tiny_corpus, tmp_path):
    plans = train(make_run(tiny_corpus, tmp_path), range(1, 3))
    assert len(plans[2].batches) < plans[2].full_data_batches
    assert sum(len(b) for b in plans[2].batches) == 12


def test_records_hold_the_kept_ids_and_scores_in_binary(tiny_corpus, tmp_path):
    run = make_run(tiny_corpus, tmp_path, "infobatch")
    plans = train(run, range(1, 4))
    folder = tmp_path / "data_pruning"
    log = read_pruning_log(tmp_path)
    ids_files = list(folder.glob("utt_ids.*.txt"))
    assert len(ids_files) == 1 and ids_files[0].read_text().splitlines() == run.utt_ids
    for record in log.epochs:
        plan = plans[record.epoch]
        assert "kept" not in record.raw and "scores" not in record.raw  # statistics only
        assert record.raw["utterances"] == f"epoch{record.epoch}.npz"
        assert record.kept == list(plan.selection.kept)
        assert record.weights == dict(plan.selection.weights)
        losses = fake_losses(run, plan)
        expected = [0.3 * c + 0.7 * a for c, a in zip(losses.ctc, losses.att, strict=True)]
        expected = [v / max(t, 1) for v, t in zip(expected, losses.tokens, strict=True)]
        assert record.scores == {
            u: float(np.float32(v)) for u, v in zip(losses.utt_ids, expected, strict=True)
        }
    assert any(log.epochs[e].weights for e in (1, 2))  # infobatch re-weighted some
    # the table the next epoch is planned from holds exactly the recorded scores
    assert run.table.scores() == {**log.epochs[0].scores, **log.epochs[1].scores,
                                  **log.epochs[2].scores}  # fmt: skip


def test_resume_reads_a_json_score_table_of_older_runs(tiny_corpus, tmp_path):
    reference = train(make_run(tiny_corpus, tmp_path / "a"), range(1, MAX_EPOCH + 1))
    old = make_run(tiny_corpus, tmp_path / "b")
    train(old, range(1, 3))
    folder = tmp_path / "b" / "data_pruning"
    old.table.save(folder / "scores_epoch2.json")  # the format written before the binary one
    (folder / "scores_epoch2.npz").unlink()
    resumed = train(make_run(tiny_corpus, tmp_path / "b"), range(3, MAX_EPOCH + 1))
    for epoch in range(3, MAX_EPOCH + 1):
        assert resumed[epoch].selection.kept == reference[epoch].selection.kept
        assert resumed[epoch].batches == reference[epoch].batches


def test_resume_without_the_score_table_fails_naming_it(tiny_corpus, tmp_path):
    train(make_run(tiny_corpus, tmp_path), range(1, 3))
    (tmp_path / "data_pruning" / "scores_epoch2.npz").unlink()
    with pytest.raises(RuntimeError, match=r"scores_epoch2\.npz, which rank 0 does not have"):
        make_run(tiny_corpus, tmp_path).plan_epoch(3)
    # without pruning no epoch needs scores: it starts from an empty table, as before
    assert make_run(tiny_corpus, tmp_path, "none").plan_epoch(3).selection.kept_ratio == 1.0
