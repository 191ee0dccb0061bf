"""Launching trainings: one at a time with GPU sampling (timing), or many at once (WER).

Responsible for the ``espnet_ddp.bin.asr_train`` command line of a run, running it with its
output in the experiment folder, and running several concurrently on one device. Not responsible
for what a run changes (:mod:`gpu.variants`) nor for reading back what it wrote
(:mod:`gpu.figures`, :mod:`espnet_ddp.report`).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NamedTuple

from common import Corpus, env_for_children, log, run_logged

from .smi import GpuSampler


class Run(NamedTuple):
    """One training to launch: experiment name, the variant's options, its ``--max_epoch``."""

    name: str
    args: list[str]
    max_epoch: int


def train_command(
    corpus: Corpus, config: Path, exp: Path, extra: list[str], max_epoch: int, ngpu: int,
    seed: int = 0,
) -> list[str]:  # fmt: skip
    """The ``espnet_ddp.bin.asr_train`` command line of one variant (AMP on a GPU)."""
    cmd = [sys.executable, "-m", "espnet_ddp.bin.asr_train", *corpus.data_args()]
    cmd += [*corpus.normalize_args(), "--config", str(config)]
    cmd += ["--output_dir", str(exp), "--ngpu", str(ngpu), "--seed", str(seed)]
    cmd += ["--max_epoch", str(max_epoch), "--resume", "true", "--use_tensorboard", "false"]
    cmd += ["--use_matplotlib", "false", "--num_att_plot", "0"]
    if ngpu:
        cmd += ["--use_amp", "true"]
    return cmd + extra


def train(corpus: Corpus, out: Path, run: Run, ngpu: int, smi_period_ms: int = 500) -> dict:
    """Train (or continue, ``--resume true``) one run, alone on the device, sampling the GPU.

    Each call is attempt ``n`` of the experiment: ``train.<n>.log``, ``command.<n>.txt`` and
    ``nvidia_smi.<n>.csv``. Returns its process seconds, GPU summary, command and CSV name.
    """
    exp = out / "exp" / run.name
    exp.mkdir(parents=True, exist_ok=True)
    cmd = train_command(corpus, out / "config.yaml", exp, run.args, run.max_epoch, ngpu)
    n = len(list(exp.glob("train*.log")))
    sampler = GpuSampler(exp / f"nvidia_smi.{n}.csv", smi_period_ms)
    try:
        seconds = run_logged(cmd, exp / f"train.{n}.log", env_for_children())
    finally:
        gpu = sampler.stop()
    (exp / f"command.{n}.txt").write_text(" ".join(cmd) + "\n")
    return {"process_seconds": seconds, "gpu": gpu, "command": cmd, "smi": f"nvidia_smi.{n}.csv"}


def train_all(
    corpus: Corpus, out: Path, runs: Sequence[Run], ngpu: int, parallel: int, seed: int = 0,
    deadline: float | None = None, on_finish: Callable[[str, dict], None] | None = None,
) -> dict[str, dict]:  # fmt: skip
    """Train every run from scratch with ``--seed seed``, at most ``parallel`` at once; name ->
    status and seconds.

    Each experiment folder gets ``command.txt`` and ``train.log`` (ESPnet's output). The CPU
    threads of each process are the CPU count / ``parallel``. At ``deadline`` (``time.time()``)
    the runs still training are stopped (SIGTERM, then SIGKILL) and those not started are
    skipped; each gets a status saying so. ``on_finish(name, status)`` is called as each run
    ends, in the order they end.
    """
    threads = max(1, (os.cpu_count() or 2) // max(1, parallel))
    env = env_for_children(threads)
    waiting, running, done = list(runs), {}, {}

    def end(name: str, status: str, started: float) -> None:
        done[name] = {"status": status, "seconds": time.perf_counter() - started}
        log(f"{name}: {status}")
        if on_finish is not None:
            on_finish(name, done[name])

    while waiting or running:
        late = deadline is not None and time.time() >= deadline
        while waiting and len(running) < parallel and not late:
            run = waiting.pop(0)
            exp = out / "exp" / run.name
            shutil.rmtree(exp, ignore_errors=True)
            exp.mkdir(parents=True)
            cmd = train_command(corpus, out / "config.yaml", exp, run.args, run.max_epoch, ngpu,
                                seed)  # fmt: skip
            (exp / "command.txt").write_text(" ".join(cmd) + "\n")
            with (exp / "train.log").open("w") as f:
                proc = subprocess.Popen(cmd, stdout=f, stderr=subprocess.STDOUT, env=env)
            running[run.name] = (proc, time.perf_counter())
            log(f"started {run.name} ({len(running)} running, {len(waiting)} waiting)")
        if late:
            for name, (proc, started) in running.items():
                stop(proc)
                end(name, "stopped at the training deadline", started)
            for run in waiting:
                done[run.name] = {"status": "not started: training deadline", "seconds": 0.0}
            break
        time.sleep(1.0)
        for name, (proc, started) in list(running.items()):
            if proc.poll() is None:
                continue
            del running[name]
            end(name, "ok" if proc.returncode == 0 else f"failed (exit {proc.returncode})",
                started)  # fmt: skip
    return done


def stop(proc: subprocess.Popen, grace: float = 10.0) -> None:
    """End a training process: SIGTERM, then SIGKILL after ``grace`` seconds."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def finished(exp: Path) -> dict:
    """The status of an earlier training (``--decode_only``): ok when it wrote its model."""
    model = any((exp / f).exists() for f in ("valid.acc.ave.pth", "valid.acc.best.pth"))
    return {"status": "ok" if model else "not trained", "seconds": None}
