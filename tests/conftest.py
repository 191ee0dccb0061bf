"""Shared fixtures: a tiny synthesized corpus and one real pruned ESPnet training run on it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from plugin.corpus import TINY_CONFORMER, build_corpus, train_command  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
TINY_EPOCHS = 4
TINY_PRUNING = ["--data_pruning", "easy2hard", "--data_pruning_conf", "keep_ratio=0.5"]
TINY_DROP = ["--time_drop", "chunk", "--time_drop_conf", "drop_ratio=0.3"]


def run_module(module: str, args: list[str], log: Path, timeout: int = 600, **kw):
    """Run ``python -m module args`` with the repo importable; fail with the log tail."""
    env = dict(os.environ, PYTHONPATH=f"{REPO}:{REPO / 'tests'}", OMP_NUM_THREADS="1")
    with log.open("w") as f:
        proc = subprocess.run(
            [sys.executable, "-m", module, *args],
            stdout=f,
            stderr=subprocess.STDOUT,
            env=env,
            timeout=timeout,
            **kw,
        )
    return proc


def log_tail(log: Path, n: int = 40) -> str:
    return "\n".join(log.read_text(errors="replace").splitlines()[-n:])


@pytest.fixture(scope="session")
def tiny_corpus(tmp_path_factory) -> Path:
    """24 training and 6 validation utterances of espeak-ng speech, char tokens, shape files."""
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed (apt-get install espeak-ng)")
    root = tmp_path_factory.mktemp("tiny_corpus")
    build_corpus(root)
    (root / "tiny.yaml").write_text(TINY_CONFORMER)
    return root


@pytest.fixture(scope="session")
def tiny_experiment(tiny_corpus, tmp_path_factory) -> Path:
    """A 4-epoch easy2hard (keep 0.5) + 20 ms chunk drop (0.3) training of a tiny conformer."""
    exp = tmp_path_factory.mktemp("exp") / "asr_easy2hard_chunk"
    args = train_command(
        tiny_corpus,
        exp,
        tiny_corpus / "tiny.yaml",
        "--max_epoch",
        str(TINY_EPOCHS),
        *TINY_PRUNING,
        *TINY_DROP,
    )
    exp.mkdir(parents=True)
    proc = run_module("espnet_ddp.bin.asr_train", args, exp / "train.log")
    assert proc.returncode == 0, log_tail(exp / "train.log")
    return exp
