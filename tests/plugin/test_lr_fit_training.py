"""The fitted schedule in real ESPnet trainings, read back from ``train.log`` (``log_interval 1``).

Budget: about 80 s (three 3-epoch trainings of the tiny conformer, one of them killed and resumed).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from conftest import REPO, log_tail, run_module

from plugin.corpus import train_command

PEAK = 0.0009  # below 1e-3 ESPnet logs 4 significant digits (above it, only 3 decimals)
WARMUP = 4
EPOCHS = 3
FIT = [
    "--max_epoch", str(EPOCHS), "--log_interval", "1", "--batch_bins", "60000",
    "--optim_conf", f"lr={PEAK}", "--scheduler_conf", f"warmup_steps={WARMUP}",
    "--lr_fit", "linear",
]
PRUNE = ["--data_pruning", "easy2hard", "--data_pruning_conf", "keep_ratio=0.5"]
LINE = re.compile(r"(\d+)epoch:train:(\d+)-\d+batch: .*optim0_lr0=([0-9.e+-]+)")


def logged_lrs(*logs: Path) -> list[tuple[int, str]]:
    """(epoch, logged LR text) of every training iteration, in order."""
    out = []
    for log in logs:
        for line in log.read_text().splitlines():
            m = LINE.search(line)
            if m:
                out.append((int(m[1]), m[3]))
    return out


def train(tiny_corpus: Path, exp: Path, *extra: str) -> Path:
    exp.mkdir(parents=True)
    args = train_command(tiny_corpus, exp, tiny_corpus / "tiny.yaml", *FIT, *extra)
    proc = run_module("espnet_ddp.bin.asr_train", args, exp / "train.log")
    assert proc.returncode == 0, log_tail(exp / "train.log")
    return exp


@pytest.fixture(scope="module")
def runs(tiny_corpus, tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("lr_fit")
    return {
        "full": train(tiny_corpus, root / "full"),
        "pruned": train(tiny_corpus, root / "pruned", *PRUNE),
    }


def steps_per_epoch(exp: Path) -> list[int]:
    return [
        json.loads((exp / "data_pruning" / f"epoch{e}.json").read_text())["optimizer_steps"]
        for e in range(1, EPOCHS + 1)
    ]


def warmuplr_peak_index(total_steps: int) -> int:
    """Index of the largest LR that ESPnet's own warmuplr would log, one value per step."""
    from espnet2.schedulers.warmup_lr import WarmupLR

    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=PEAK)
    sched = WarmupLR(opt, warmup_steps=WARMUP)
    logged = []
    for _ in range(total_steps):
        opt.step()
        sched.step()
        logged.append(opt.param_groups[0]["lr"])
    return logged.index(max(logged))


@pytest.mark.parametrize("name", ["full", "pruned"])
def test_peak_where_warmuplr_peaks_and_end_at_zero(runs, name):
    lrs = [float(v) for _, v in logged_lrs(runs[name] / "train.log")]
    steps = steps_per_epoch(runs[name])
    assert len(lrs) == sum(steps)  # one line per optimizer step (accum_grad 1)
    assert max(lrs) == pytest.approx(PEAK, rel=1e-3)
    assert lrs.index(max(lrs)) == warmuplr_peak_index(sum(steps)) == WARMUP - 2
    assert lrs[-1] <= 0.02 * PEAK
    assert all(a >= b for a, b in zip(lrs[WARMUP - 2 :], lrs[WARMUP - 1 :]))  # no jump back up


def test_the_pruned_run_decays_over_its_own_fewer_steps(runs):
    full, pruned = steps_per_epoch(runs["full"]), steps_per_epoch(runs["pruned"])
    assert pruned[0] == full[0] and sum(pruned) < sum(full)
    lrs = [float(v) for e, v in logged_lrs(runs["pruned"] / "train.log") if e == EPOCHS]
    # the last epoch of the pruned run goes from about a third of the peak to zero
    assert lrs[-1] == 0.0 and 0.2 * PEAK < lrs[0] < 0.45 * PEAK


def test_a_killed_and_resumed_run_has_the_same_learning_rate_at_every_step(
    runs, tiny_corpus, tmp_path
):
    exp = tmp_path / "resumed"
    exp.mkdir()
    args = train_command(tiny_corpus, exp, tiny_corpus / "tiny.yaml", *FIT, *PRUNE)
    env = dict(os.environ, PYTHONPATH=f"{REPO}:{REPO / 'tests'}", OMP_NUM_THREADS="1")
    with (exp / "first.log").open("w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "espnet_ddp.bin.asr_train", *args],
            stdout=log, stderr=subprocess.STDOUT, env=env,
        )
        deadline = time.time() + 300
        while not (exp / "2epoch.pth").exists() and proc.poll() is None:
            assert time.time() < deadline, "epoch 2 never finished"
            time.sleep(0.05)
        proc.kill()
        proc.wait()
    assert not (exp / f"{EPOCHS}epoch.pth").exists(), "the run finished before the kill"
    resume = run_module("espnet_ddp.bin.asr_train", [*args, "--resume", "true"], exp / "train.log")
    assert resume.returncode == 0, log_tail(exp / "train.log")
    first = [x for x in logged_lrs(exp / "first.log") if x[0] <= 2]
    assert first + logged_lrs(exp / "train.log") == logged_lrs(runs["pruned"] / "train.log")


def test_a_stock_warmup_longer_than_the_run_is_shortened_and_still_decays(tiny_corpus,
                                                                           tmp_path):  # fmt: skip
    exp = train(tiny_corpus, tmp_path / "long_warmup", "--lr_fit_conf", "warmup_steps=15000")
    log = (exp / "train.log").read_text()
    steps = steps_per_epoch(exp)
    shortened = re.findall(r"--lr_fit warm-up shortened from 15000 to (\d+) optimizer steps", log)
    assert shortened == [str(steps[0] * EPOCHS // 4)]  # once, a quarter of the planned steps
    lrs = [float(v) for _, v in logged_lrs(exp / "train.log")]
    assert max(lrs) == pytest.approx(PEAK, rel=1e-3)
    assert lrs[-1] <= 0.02 * PEAK
