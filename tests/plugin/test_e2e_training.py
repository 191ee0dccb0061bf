"""End to end: ESPnet's own trainer on a pruned, time-dropped stream, then stock decoding."""

from __future__ import annotations

import math
from pathlib import Path

import yaml
from conftest import TINY_EPOCHS, log_tail, run_module

from espnet_ddp.report.pruning_log import read_pruning_log

KEEP = 0.5
DROP = 0.3


def load_epochs(exp: Path) -> list[dict]:
    """Each epoch's record, with its kept ids and scores read from the binary part."""
    log = read_pruning_log(exp)
    assert [e.epoch for e in log.epochs] == list(range(1, TINY_EPOCHS + 1))
    return [{**e.raw, "kept": e.kept, "scores": e.scores} for e in log.epochs]


def read_shapes(path: Path) -> dict[str, int]:
    out = {}
    for line in path.read_text().splitlines():
        utt, shape = line.split()
        out[utt] = int(shape.split(",")[0])
    return out


def expected_easy2hard(table: dict[str, float], epoch: int) -> list[str]:
    """Independent restatement of the documented window: warm-up 1, linear, max_epoch 4."""
    order = sorted(table, key=lambda u: (table[u], u))
    n = len(order)
    k = max(1, math.floor(KEEP * n + 0.5))
    first, last = 2, TINY_EPOCHS
    progress = (epoch - first) / (last - first)
    start = math.floor(progress * (n - k) + 0.5)
    return sorted(order[start : start + k])


def test_kept_sets_follow_the_easy2hard_schedule(tiny_experiment):
    records = load_epochs(tiny_experiment)
    assert records[0]["phase"] == "warmup"
    assert records[0]["kept_utterances"] == records[0]["total_utterances"] == 24
    table: dict[str, float] = {}
    for rec in records:
        if rec["epoch"] > 1:
            assert rec["phase"] == "pruned"
            assert rec["kept"] == expected_easy2hard(table, rec["epoch"])
        table.update(rec["scores"])  # stale scores stay; trained ones are replaced
        assert sorted(rec["scores"]) == rec["kept"]  # every kept utterance was scored once
    # the window moves from the easy end to the hard end
    assert records[1]["kept"] != records[-1]["kept"]


def test_pruned_epochs_take_fewer_optimizer_steps(tiny_experiment):
    records = load_epochs(tiny_experiment)
    full = records[0]["full_data_batches"]
    for rec in records[1:]:
        assert rec["num_batches"] < full
        assert rec["optimizer_steps"] == rec["num_batches"]  # accum_grad 1, one rank
    assert records[0]["optimizer_steps"] == records[0]["num_batches"]


def ctc_floor(text: str) -> int:
    """Documented CTC floor: (tokens + repeats + 2) frames of hop 128 x subsampling 4, + n_fft."""
    repeats = sum(a == b for a, b in zip(text, text[1:]))
    return (len(text) + repeats + 2) * 128 * 4 + 512


def test_fed_audio_is_exactly_the_kept_audio_minus_the_drop(tiny_experiment, tiny_corpus):
    lengths = read_shapes(tiny_corpus / "stats/train/speech_shape")
    texts = dict(
        line.split(" ", 1) for line in (tiny_corpus / "data/train/text").read_text().splitlines()
    )
    floors = {u: max(ctc_floor(t), 3200) for u, t in texts.items()}  # min_keep_ms 200
    binding = 0
    for rec in load_epochs(tiny_experiment):
        kept = sum(lengths[u] for u in rec["kept"])
        fed = 0
        for u in rec["kept"]:
            n = lengths[u]
            removed = min(math.floor(DROP * n), max(0, n - floors[u]))
            binding += removed < math.floor(DROP * n)
            fed += n - removed
        assert round(rec["kept_seconds"] * 16000) == kept
        assert round(rec["fed_seconds"] * 16000) == fed
        # batches were sized with exactly what the loader fed (one floor, computed once)
        assert rec["planned_fed_seconds"] == rec["fed_seconds"]
        assert round(rec["total_seconds"] * 16000) == sum(lengths.values())
    assert binding > 0  # the corpus exercises the short-utterance rule


def test_each_epoch_is_logged_like_espnet_statistics(tiny_experiment):
    log = (tiny_experiment / "train.log").read_text()
    for epoch in range(1, TINY_EPOCHS + 1):
        line = next(x for x in log.splitlines() if f"{epoch}epoch results:" in x)
        assert "ddp_kept_ratio=" in line and "ddp_fed_hours=" in line
        assert f"espnet_ddp epoch {epoch}: phase=" in log


def test_config_has_stock_components_and_decodes_with_stock_espnet(tiny_experiment, tiny_corpus):
    config = yaml.safe_load((tiny_experiment / "config.yaml").read_text())
    assert config["data_pruning"] == "easy2hard" and config["time_drop"] == "chunk"
    assert config["frontend"] == "default" and config["preprocessor"] == "default"
    out = tiny_experiment / "decode"
    out.mkdir()
    log = out / "decode.log"
    args = [
        "--asr_train_config", str(tiny_experiment / "config.yaml"),
        "--asr_model_file", str(tiny_experiment / f"{TINY_EPOCHS}epoch.pth"),
        "--data_path_and_name_and_type", f"{tiny_corpus}/data/valid/wav.scp,speech,sound",
        "--output_dir", str(out),
        "--ngpu", "0",
        "--beam_size", "2",
        "--batch_size", "1",
    ]
    proc = run_module("espnet2.bin.asr_inference", args, log)
    assert proc.returncode == 0, log_tail(log)
    hyps = (out / "1best_recog" / "text").read_text().splitlines()
    assert len(hyps) == 6


def test_score_files_keep_the_last_two_epochs(tiny_experiment):
    d = tiny_experiment / "data_pruning"
    present = sorted(p.name for p in d.glob("scores_epoch*"))
    assert present == [f"scores_epoch{TINY_EPOCHS - 1}.npz", f"scores_epoch{TINY_EPOCHS}.npz"]
    assert not list(d.glob(".*tmp"))  # atomic writes leave no temporaries
