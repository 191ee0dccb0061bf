"""bench/gpu/quick.py: its plan, and its per-epoch figures on a hand-written experiment dir."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "bench"))
sys.path.insert(0, str(REPO / "bench" / "gpu"))

import quick  # noqa: E402

H = "[h] 2026-01-02 10:00:"
LOG = f"""\
{H}00,000 (trainer:1) INFO: 1/2epoch started
{H}12,000 (trainer:1) INFO: 1epoch results: [train] iter_time=0.050, time=10 seconds, \
total_count=20, [valid] acc=0.5, time=2 seconds, total_count=4
{H}12,500 (trainer:1) INFO: 2/2epoch started
{H}20,500 (trainer:1) INFO: 2epoch results: [train] iter_time=0.100, time=6 seconds, \
total_count=30, [valid] acc=0.6, time=1 seconds, total_count=8
{H}21,000 (trainer:1) INFO: The training was finished at 2 epochs
"""


def record(epoch: int, train: float, steps: int, plugin: float) -> dict:
    return {
        "epoch": epoch, "phase": "pruned", "train_seconds": train, "optimizer_steps": steps,
        "fed_seconds": 3600.0 * epoch, "plugin_seconds": plugin, "kept": ["u1"],
    }  # fmt: skip


@pytest.fixture()
def exp(tmp_path: Path) -> Path:
    exp = tmp_path / "b_e2h"
    (exp / "data_pruning").mkdir(parents=True)
    (exp / "train.0.log").write_text(LOG)
    for rec in (record(1, 10.0, 20, 0.5), record(2, 6.0, 10, 0.25)):
        (exp / "data_pruning" / f"epoch{rec['epoch']}.json").write_text(json.dumps(rec))
    # one sample a second: 50% busy until 10:00:15, 100% from then on
    rows = [f"2026/01/02 10:00:{s:02d}.000, {50 if s < 15 else 100}, 900" for s in range(22)]
    (exp / "nvidia_smi.0.csv").write_text("\n".join(["garbage line", *rows]) + "\n")
    return exp


def test_epoch_figures_data_wait_and_gpu_busy(exp: Path) -> None:
    first, second = quick.epoch_figures(exp, [exp / "nvidia_smi.0.csv"])
    assert first["data_wait_seconds"] == pytest.approx(0.05 * 20)  # iter_time x 20 iterations
    assert second["data_wait_seconds"] == pytest.approx(0.1 * 10)  # 30 - 20 iterations
    # loop of epoch 1: the 10 s ending where validation (2 s) began, 10:00:00-10:00:10
    assert first["gpu_busy_seconds"] == pytest.approx(5.0)
    # epoch 2: 6 s ending at 10:00:19.5 (20.5 - 1 s validation): 1.5 s at 50%, 4.5 s at 100%
    assert second["gpu_busy_seconds"] == pytest.approx(0.75 + 4.5)
    assert (first["wall_seconds"], second["wall_seconds"]) == (12.5, 8.5)
    assert quick.medians([first, second]) == {
        "train_seconds": 6.0, "wall_seconds": 8.5, "optimizer_steps": 10, "fed_seconds": 7200.0,
        "plugin_seconds": 0.25, "data_wait_seconds": pytest.approx(1.0),
        "gpu_busy_seconds": pytest.approx(5.25),
    }  # fmt: skip


def test_without_nvidia_smi_busy_is_unknown(exp: Path) -> None:
    figures = quick.epoch_figures(exp, [exp / "absent.csv"])
    assert [f["gpu_busy_seconds"] for f in figures] == [None, None]
    assert quick.medians(figures)["gpu_busy_seconds"] is None


def test_report_rows_and_ratios(exp: Path) -> None:
    result = {"process_seconds": 40.0, "gpu": None, "command": ["x"], "smi": "nvidia_smi.0.csv"}
    variants = {"a_full": ("(a) full data", []), "b_e2h": ("(b) e2h", [])}
    rows = quick.run_report(exp.parent, {"b_e2h": result}, variants)
    assert rows["b_e2h"]["startup_seconds"] == pytest.approx(40.0 - 21.0)
    base = {"label": "(a) full data", "startup_seconds": 30.0, "median": {
        **rows["b_e2h"]["median"], "train_seconds": 9.0, "wall_seconds": 17.0}}  # fmt: skip
    env = {k: "x" for k in ("date", "gpu", "cpu", "python", "torch", "espnet", "espnet_ddp commit")}
    report = {
        "small": False, "environment": env, "ngpu": 1, "max_epoch": 2, "corpus_hours": 7.0,
        "params_m": 30.6, "plan": {**quick.dataclasses.asdict(quick.QUICK)},
        "timeline": {"install and start": 31.2, "b_e2h": 40.0, "total": 99.0},
        "runs": {"a_full": base, **rows},
    }  # fmt: skip
    md = quick.markdown(report)
    assert "Timeline (s): install and start 31, b_e2h 40, total 99." in md
    assert (
        "| (b) e2h | 6.00 | 1.50x | 8.50 | 2.00x | 10 | 2.000 | 0.250 | 1.00 | 5.25 (88%) | 19.0 |"
        in md
    )


def test_quick_plan_fits_the_documented_budget() -> None:
    proc = subprocess.run(
        [sys.executable, "bench/gpu/quick.py", "--dry"], capture_output=True, text=True,
        timeout=60, cwd=REPO,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = json.loads(proc.stdout)
    assert list(out["variants"]) == ["a_full", "b_e2h", "d_e2h_drop20"]
    plan = out["plan"]
    assert (plan["blocks"], plan["dim"], plan["dec_blocks"]) == (12, 256, 6)  # LibriSpeech-100
    assert (plan["num_train"], plan["num_dev"], plan["num_test"], plan["epochs"]) == (
        10_000,
        300,
        0,
        6,
    )


def test_run_sh_dispatches_modes(tmp_path: Path) -> None:
    text = (REPO / "bench/gpu/run.sh").read_text()
    assert "--quick | --sweep)" in text and "script=${arg#--}.py" in text
    proc = subprocess.run(
        ["bash", "bench/gpu/run.sh", "--quick", "--sweep"], capture_output=True, text=True,
        timeout=120, cwd=REPO, env={"PATH": "/usr/bin:/bin", "BENCH_WORK": str(tmp_path),
                                    "PYTHON": sys.executable},
    )  # fmt: skip
    assert proc.returncode != 0 and "give one of --quick and --sweep" in proc.stderr
