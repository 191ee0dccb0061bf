"""A resumed run continues with the selections, drops and batches of an uninterrupted one."""

from __future__ import annotations

import json

import pytest

from espnet_ddp.core.config import PruningConfig, TimeDropConfig
from espnet_ddp.core.seeding import stable_hash64
from espnet_ddp.espnet.distributed import RankInfo
from espnet_ddp.espnet.epoch_batches import BatchSpec, ShapeTable
from espnet_ddp.espnet.loss_capture import CapturedLosses
from espnet_ddp.espnet.min_length import MinKeepRule
from espnet_ddp.espnet.options import PluginOptions
from espnet_ddp.espnet.pruning_run import DataPruningRun

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
        utt_ids=ids, ctc=value, att=[v / 2 for v in value],
        tokens=[run._tokens(u) for u in ids], fed_samples=sum(plan.fed_lengths.values()),
    )


def train(run: DataPruningRun, epochs) -> dict:
    plans = {}
    for epoch in epochs:
        plan = run.plan_epoch(epoch)
        run.finish_epoch(
            plan, fake_losses(run, plan), train_seconds=1.0, optimizer_steps=len(plan.batches),
            plugin_seconds=0.0, has_ctc=True, has_att=True,
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
    for epoch in range(3, MAX_EPOCH + 1):
        ra = json.loads((tmp_path / "a" / "data_pruning" / f"epoch{epoch}.json").read_text())
        rb = json.loads((tmp_path / "b" / "data_pruning" / f"epoch{epoch}.json").read_text())
        for key in ("kept", "scores", "score_mean", "selection_digest", "num_batches"):
            assert ra[key] == rb[key]


def test_pruned_epochs_have_fewer_batches_than_full_data(tiny_corpus, tmp_path):
    plans = train(make_run(tiny_corpus, tmp_path), range(1, 3))
    assert len(plans[2].batches) < plans[2].full_data_batches
    assert sum(len(b) for b in plans[2].batches) == 12
