"""Frames, tempo and energy-first dropping in ESPnet's trainer: exact fed lengths, train-only."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from conftest import log_tail, run_module

from espnet_ddp.core.config import TimeDropConfig
from espnet_ddp.core.time_drop import TimeDropper
from espnet_ddp.espnet.frame_drop import FrameDropHook, frontend_frames
from plugin.corpus import train_command

EPOCHS = 2
HOP = 128


def _shapes(path: Path) -> dict[str, int]:
    return {u: int(s.split(",")[0]) for u, s in (x.split() for x in path.read_text().splitlines())}


def _floors(corpus: Path) -> dict[str, int]:
    """The documented CTC floor of each utterance (char tokens, repeats counted), min 200 ms."""
    out = {}
    for line in (corpus / "data/train/text").read_text().splitlines():
        utt, text = line.split(" ", 1)
        repeats = sum(a == b for a, b in zip(text, text[1:]))
        out[utt] = max((len(text) + repeats + 2) * HOP * 4 + 512, 3200)
    return out


def _train(corpus: Path, exp: Path, *extra: str) -> list[dict]:
    args = train_command(corpus, exp, corpus / "tiny.yaml", "--max_epoch", str(EPOCHS), *extra)
    exp.mkdir(parents=True)
    proc = run_module("espnet_ddp.bin.asr_train", args, exp / "train.log")
    assert proc.returncode == 0, log_tail(exp / "train.log")
    return [
        json.loads((exp / "data_pruning" / f"epoch{e}.json").read_text())
        for e in range(1, EPOCHS + 1)
    ]


@pytest.fixture(scope="module")
def frames_run(tiny_corpus, tmp_path_factory):
    exp = tmp_path_factory.mktemp("frames") / "exp"
    return exp, _train(tiny_corpus, exp, "--time_drop", "frames",
                       "--time_drop_conf", "drop_ratio=0.3")


def test_frames_mode_feeds_exactly_the_planned_frames(frames_run, tiny_corpus):
    _, records = frames_run
    lengths = _shapes(tiny_corpus / "stats/train/speech_shape")
    floors = _floors(tiny_corpus)
    fed = 0
    for u, n in lengths.items():
        t = n // HOP + 1  # frames of the centred STFT
        floor = math.ceil(floors[u] / HOP)
        fed += (t - min(math.floor(0.3 * t), max(0, t - floor))) * HOP
    for rec in records:
        assert rec["time_drop"] == {"mode": "frames", "drop_ratio": 0.3}
        assert round(rec["fed_seconds"] * 16000) == fed
        assert rec["planned_fed_seconds"] == rec["fed_seconds"]
        assert rec["fed_seconds"] < 0.75 * rec["kept_seconds"]


def test_frames_mode_leaves_the_saved_config_stock(frames_run):
    """Stock ESPnet rebuilds the model from config.yaml and loads the weights strictly."""
    from espnet2.tasks.asr import ASRTask

    exp, _ = frames_run
    config = yaml.safe_load((exp / "config.yaml").read_text())
    assert config["time_drop"] == "frames" and config["frontend"] == "default"
    model, _ = ASRTask.build_model_from_file(exp / "config.yaml", exp / f"{EPOCHS}epoch.pth")
    assert not model.frontend._forward_hooks and not model._forward_pre_hooks


def test_frame_hook_is_train_only_and_removable(tiny_corpus, tmp_path):
    from espnet2.tasks.asr import ASRTask

    from espnet_ddp.espnet.task import PrunedASRTask

    args = PrunedASRTask.get_parser().parse_args(
        train_command(tiny_corpus, tmp_path, tiny_corpus / "tiny.yaml")
    )
    model = ASRTask.build_model(args)
    cfg = TimeDropConfig.from_options("frames", {"drop_ratio": 0.5, "block_frames": 4,
                                                 "min_keep_ms": 0})
    dropper = TimeDropper(cfg, max_epoch=3)
    n = np.array([16000, 9000])
    frames = frontend_frames(n, HOP, 512, True)
    plan = {"a": (int(frames[0]), 40), "b": (int(frames[1]), 20)}
    seen = {}
    model.encoder.register_forward_pre_hook(lambda m, a: seen.__setitem__("len", a[1].tolist()))
    speech = torch.randn(2, 16000)
    batch = dict(speech=speech, speech_lengths=torch.tensor(n), text=torch.tensor([[3, 4], [5, 6]]),
                 text_lengths=torch.tensor([2, 2]))
    hook = FrameDropHook(model, dropper, plan.__getitem__, epoch=2)
    hook.attach()
    model.train()
    model(**batch, utt_id=["a", "b"])
    assert seen["len"] == [int(frames[0]) - 40, int(frames[1]) - 20]
    assert hook.fed_frames == int(frames.sum()) - 60
    model.eval()
    with torch.no_grad():
        model(**batch, utt_id=["a", "b"])  # validation: untouched
    assert seen["len"] == frames.tolist()
    hook.detach()
    assert not model.frontend._forward_hooks and not model._forward_pre_hooks
    wrong = FrameDropHook(model, dropper, {"a": (1, 0), "b": (1, 0)}.__getitem__, epoch=2)
    wrong.attach()
    model.train()
    with pytest.raises(RuntimeError, match="utterance a: the frontend made"):
        model(**batch, utt_id=["a", "b"])
    wrong.detach()


def _expected_sample_drop(corpus: Path, ratio: float) -> tuple[int, int]:
    lengths = _shapes(corpus / "stats/train/speech_shape")
    floors = _floors(corpus)
    fed = sum(n - min(math.floor(ratio * n), max(0, n - floors[u])) for u, n in lengths.items())
    return fed, sum(lengths.values())


def test_tempo_mode_feeds_exactly_the_planned_samples(tiny_corpus, tmp_path):
    records = _train(tiny_corpus, tmp_path / "exp", "--time_drop", "tempo",
                     "--time_drop_conf", "drop_ratio=0.3")
    fed, _ = _expected_sample_drop(tiny_corpus, 0.3)
    for rec in records:
        assert round(rec["fed_seconds"] * 16000) == fed
        assert rec["planned_fed_seconds"] == rec["fed_seconds"]


def test_energy_first_reports_the_silent_share(tiny_corpus, tmp_path):
    records = _train(tiny_corpus, tmp_path / "exp", "--time_drop", "chunk",
                     "--time_drop_conf", "drop_ratio=0.3", "--time_drop_conf", "select=energy")
    fed, _ = _expected_sample_drop(tiny_corpus, 0.3)
    for rec in records:
        assert round(rec["fed_seconds"] * 16000) == fed
        assert rec["planned_fed_seconds"] == rec["fed_seconds"]
        share = rec["time_drop"]["removed_below_threshold"]
        assert 0.05 < share <= 1.0  # espeak leaves silence at both ends and in pauses
