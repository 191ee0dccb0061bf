"""Experiment loading, table building and plots on hand-written experiment dirs (no ESPnet)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from espnet_ddp.report.experiment import load_experiment
from espnet_ddp.report.plots import selection_scores, write_plots
from espnet_ddp.report.pruning_log import read_pruning_log
from espnet_ddp.report.table import TimeToTarget, build_comparison

H = "[h] 2026-01-02"


def stamp(seconds: float) -> str:
    return f"{H} 10:{int(seconds) // 60:02d}:{int(seconds) % 60:02d},000 (trainer:1) INFO: "


def write_log(
    exp: Path,
    epoch_seconds: list[float],
    max_epoch: int,
    finished: bool,
    accs: list[float] | None = None,
) -> None:
    """train.log (10 iterations per epoch, valid acc ``accs`` or 0.<epoch>) and config.yaml."""
    lines, t = [], 0.0
    for epoch, seconds in enumerate(epoch_seconds, start=1):
        lines.append(stamp(t) + f"{epoch}/{max_epoch}epoch started")
        t += seconds
        train = f"[train] loss=1.0, time={seconds / 2} seconds, total_count={10 * epoch}"
        acc = accs[epoch - 1] if accs else f"0.{epoch}"
        valid = f"[valid] loss={5 - epoch}.0, acc={acc}"
        lines.append(stamp(t) + f"{epoch}epoch results: {train}, {valid}")
    if finished:
        lines.append(stamp(t) + f"The training was finished at {max_epoch} epochs")
    exp.mkdir(parents=True, exist_ok=True)
    (exp / "train.log").write_text("\n".join(lines) + "\n")
    (exp / "config.yaml").write_text(f"max_epoch: {max_epoch}\naccum_grad: 2\n")


def write_record(exp: Path, epoch: int, text: str | None = None, **fields) -> None:
    folder = exp / "data_pruning"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"epoch{epoch}.json").write_text(text or json.dumps({"epoch": epoch, **fields}))


def test_stock_steps_use_accum_grad_and_speedup_bases(tmp_path: Path) -> None:
    write_log(tmp_path / "base", [20, 20, 20], 3, finished=True)
    write_log(tmp_path / "fast", [20, 10, 10], 3, finished=True)
    write_log(tmp_path / "half", [20, 10], 3, finished=False)
    write_log(tmp_path / "short", [20, 20], 2, finished=True)  # a budget run: fewer epochs
    exps = [load_experiment(tmp_path / n) for n in ("base", "fast", "half", "short")]
    assert exps[0].optimizer_steps == 15  # 30 iterations, accum_grad 2
    assert exps[0].train_loop_seconds == pytest.approx(30.0)
    rows = build_comparison(exps, baseline=0).rows
    assert (rows[1].speedup, rows[1].speedup_basis) == (pytest.approx(1.5), "total")
    assert (rows[2].speedup, rows[2].speedup_basis) == (pytest.approx(20 / 15), "per epoch")
    assert rows[2].notes[0] == "partial: 2/3 epochs"
    # a finished run of fewer epochs is compared whole: 60 s against 40 s is faster, not slower
    assert (rows[3].speedup, rows[3].speedup_basis) == (pytest.approx(1.5), "total")
    # target 0.98 x 0.3 = 0.294: fast reaches it at epoch 3, after 40 s and 15 steps
    assert rows[1].time_to_target == TimeToTarget(3, 0.3, pytest.approx(40.0), 15)
    assert rows[2].time_to_target is None and rows[2].target_reached is False


def test_record_problems_become_notes(tmp_path: Path) -> None:
    exp = tmp_path / "exp"
    write_log(exp, [5, 5, 5], 3, finished=True)
    write_record(exp, 1, fed_seconds=3.0, optimizer_steps=4, train_seconds=1.0)
    write_record(exp, 2, text="{not json")
    loaded = load_experiment(exp)
    assert "unreadable record epoch2.json" in loaded.notes[0]
    assert "no data_pruning record for epoch(s) 2-3" in loaded.notes
    assert loaded.optimizer_steps == 4 and loaded.fed_hours == pytest.approx(3.0 / 3600)


def test_nothing_to_plot_writes_nothing(tmp_path: Path) -> None:
    exps = [load_experiment(tmp_path / "absent"), load_experiment(tmp_path)]
    assert write_plots(exps, build_comparison(exps), tmp_path / "plots") == []


def test_selection_scores_rebuild_the_table_with_ema(tmp_path: Path) -> None:
    write_record(tmp_path, 1, kept=["a", "b"], scores={"a": 2.0, "b": 4.0})
    write_record(tmp_path, 2, kept=["a"], scores={"a": 6.0})
    write_record(tmp_path, 3, kept=["b"], scores={"b": float("nan")})
    (tmp_path / "data_pruning" / "scores_epoch3.json").write_text('{"ema": 0.5, "scores": {}}')
    epochs = selection_scores(read_pruning_log(tmp_path))
    assert epochs == [
        (1, {"a": 2.0, "b": 4.0}, {"a", "b"}),
        (2, {"a": 2.0, "b": 4.0}, {"a"}),
        (3, {"a": 4.0, "b": 4.0}, {"b"}),
    ]
