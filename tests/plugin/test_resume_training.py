"""A real ESPnet run killed after an epoch and resumed keeps the uninterrupted run's selections."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from conftest import REPO, TINY_DROP, TINY_EPOCHS, TINY_PRUNING, log_tail, run_module

from espnet_ddp.report.pruning_log import read_pruning_log
from plugin.corpus import train_command


def test_killed_and_resumed_run_matches_the_uninterrupted_one(
    tiny_corpus, tiny_experiment, tmp_path
):
    exp = tmp_path / "asr_resumed"
    exp.mkdir()
    args = train_command(
        tiny_corpus, exp, tiny_corpus / "tiny.yaml",
        "--max_epoch", str(TINY_EPOCHS), *TINY_PRUNING, *TINY_DROP,
    )
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
        proc.kill()  # as abrupt as a lost node: no clean-up runs
        proc.wait()
    assert not (exp / f"{TINY_EPOCHS}epoch.pth").exists(), "the run finished before the kill"

    resume = run_module(
        "espnet_ddp.bin.asr_train", [*args, "--resume", "true"], exp / "train.log"
    )
    assert resume.returncode == 0, log_tail(exp / "train.log")
    a_log, b_log = read_pruning_log(tiny_experiment), read_pruning_log(exp)
    assert [e.epoch for e in b_log.epochs] == list(range(1, TINY_EPOCHS + 1))
    for a, b in zip(a_log.epochs, b_log.epochs, strict=True):
        assert a.kept == b.kept, f"epoch {a.epoch}"
        assert a.raw["selection_digest"] == b.raw["selection_digest"]
        assert a.raw["fed_seconds"] == b.raw["fed_seconds"]
        assert a.raw["num_batches"] == b.raw["num_batches"]
