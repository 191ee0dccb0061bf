"""bench/gpu --quick: its plan, its per-epoch figures on a hand-written experiment dir, its table
and the goal's verdict, and run.sh reaching it (budget: 60 s in all, most of it run.sh's
torch import)."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "bench"))

from gpu import __main__ as entry  # noqa: E402
from gpu import figures, quick, quick_report  # noqa: E402

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
ENV = {k: "x" for k in ("date", "gpu", "cpu", "python", "torch", "espnet", "espnet_ddp commit")}


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
    first, second = figures.epoch_figures(exp, [exp / "nvidia_smi.0.csv"])
    assert first["data_wait_seconds"] == pytest.approx(0.05 * 20)  # iter_time x 20 iterations
    assert second["data_wait_seconds"] == pytest.approx(0.1 * 10)  # 30 - 20 iterations
    # loop of epoch 1: the 10 s ending where validation (2 s) began, 10:00:00-10:00:10
    assert first["gpu_busy_seconds"] == pytest.approx(5.0)
    # epoch 2: 6 s ending at 10:00:19.5 (20.5 - 1 s validation): 1.5 s at 50%, 4.5 s at 100%
    assert second["gpu_busy_seconds"] == pytest.approx(0.75 + 4.5)
    assert (first["wall_seconds"], second["wall_seconds"]) == (12.5, 8.5)
    assert figures.medians([first, second]) == {
        "train_seconds": 6.0, "wall_seconds": 8.5, "optimizer_steps": 10, "fed_seconds": 7200.0,
        "plugin_seconds": 0.25, "data_wait_seconds": pytest.approx(1.0),
        "gpu_busy_seconds": pytest.approx(5.25),
    }  # fmt: skip


def test_without_nvidia_smi_busy_is_unknown(exp: Path) -> None:
    found = figures.epoch_figures(exp, [exp / "absent.csv"])
    assert [f["gpu_busy_seconds"] for f in found] == [None, None]
    assert figures.medians(found)["gpu_busy_seconds"] is None


def test_full_benchmark_timing_uses_the_same_epoch_figures(exp: Path) -> None:
    assert figures.timing(exp) == {
        "epochs": 2, "median_train_seconds": 6.0, "total_train_seconds": 16.0,
        "total_wall_seconds": 21.0, "median_steps": 10, "fed_hours": 3.0,
        "plugin_share": pytest.approx(0.25 / 6.0),
    }  # fmt: skip


def report_with(exp: Path, d_train: float, d_wall: float) -> dict:
    result = {"process_seconds": 40.0, "gpu": None, "command": ["x"], "smi": "nvidia_smi.0.csv"}
    rows = quick.run_report(exp.parent, {"b_e2h": result}, {"b_e2h": "(b) e2h"})
    base = {"label": "(a) full data", "startup_seconds": 30.0, "median": {
        **rows["b_e2h"]["median"], "train_seconds": 9.0, "wall_seconds": 17.0}}  # fmt: skip
    d = {"label": "(d) e2h + chunks", "startup_seconds": 20.0, "median": {
        **rows["b_e2h"]["median"], "train_seconds": d_train, "wall_seconds": d_wall}}  # fmt: skip
    return {
        "small": False, "environment": ENV, "ngpu": 1, "max_epoch": 2, "corpus_hours": 7.0,
        "params_m": 30.6, "plan": dataclasses.asdict(quick.QUICK),
        "timeline": {"install and start": 31.2, "b_e2h": 40.0, "total": 99.0},
        "runs": {"a_full": base, **rows, "d_e2h_drop20": d},
    }  # fmt: skip


def test_report_rows_ratios_and_the_goal(exp: Path) -> None:
    report = report_with(exp, d_train=4.5, d_wall=9.0)  # 2.00x and 1.89x
    assert report["runs"]["b_e2h"]["startup_seconds"] == pytest.approx(40.0 - 21.0)
    md = quick_report.markdown(report)
    assert "Timeline (s): install and start 31, b_e2h 40, total 99." in md
    assert (
        "| (b) e2h | 6.00 | 1.50x | 8.50 | 2.00x | 10 | 2.000 | 0.250 | 1.00 | 5.25 (88%) | 19.0 |"
        in md
    )
    assert md.endswith(
        "Goal: (d) e2h + chunks >= 1.9x faster than (a) per epoch in the train loop and >= 1.8x "
        "in wall time: 2.00x train loop, 1.89x wall -> met.\n"
    )
    slow = quick_report.markdown(report_with(exp, d_train=4.8, d_wall=9.0))  # 1.875x train
    assert "1.88x train loop, 1.89x wall -> NOT met." in slow
    del report["runs"]["d_e2h_drop20"]
    assert "(d) did not run -> open." in quick_report.markdown(report)


def test_quick_plan_fits_the_documented_budget(capsys: pytest.CaptureFixture) -> None:
    assert entry.main(["--quick", "--dry"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["mode"] == "quick"
    assert list(out["variants"]) == ["a_full", "b_e2h", "d_e2h_drop20"]
    assert out["variants"]["d_e2h_drop20"]["args"] == [
        "--data_pruning", "easy2hard",
        "--data_pruning_conf", "keep_ratio=0.7", "--data_pruning_conf", "lr_trajectory=epoch",
        "--time_drop", "chunk", "--time_drop_conf", "drop_ratio=0.3", "--time_drop_conf",
        "chunk_ms=20",
    ]  # fmt: skip
    plan = out["plan"]
    assert (plan["blocks"], plan["dim"], plan["dec_blocks"]) == (12, 256, 6)  # LibriSpeech-100
    sizes = (plan["num_train"], plan["num_dev"], plan["num_test"], plan["epochs"])
    assert sizes == (10_000, 300, 0, 6)
    assert entry.main(["--quick", "--dry", "--epochs", "4", "--num_train", "500"]) == 0
    plan = json.loads(capsys.readouterr().out)["plan"]
    assert (plan["num_train"], plan["epochs"]) == (500, 4)


def test_run_sh_reaches_the_one_entry_point(tmp_path: Path) -> None:
    text = (REPO / "bench/gpu/run.sh").read_text()
    assert 'exec "${py}" -m gpu "$@"' in text
    proc = subprocess.run(
        ["bash", "bench/gpu/run.sh", "--quick", "--dry", "--small"], capture_output=True,
        text=True, timeout=300, cwd=REPO,
        env={"PATH": "/usr/bin:/bin", "BENCH_WORK": str(tmp_path), "PYTHON": sys.executable},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = json.loads(proc.stdout)
    assert out["mode"] == "quick" and out["plan"]["num_train"] == quick.QUICK_SMALL.num_train
