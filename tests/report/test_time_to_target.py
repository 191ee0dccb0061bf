"""Time to target on hand-written experiment dirs: exact epochs, wall times, steps (no ESPnet)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_report_experiment import write_log, write_record

from espnet_ddp.bin.compare import main
from espnet_ddp.report.experiment import load_experiment
from espnet_ddp.report.markdown import main_table, render
from espnet_ddp.report.plots import valid_vs_wall_figure
from espnet_ddp.report.table import TimeToTarget, build_comparison

PRUNED_CONFIG = "data_pruning: easy2hard\ndata_pruning_conf: {keep_ratio: 0.7}\n"


@pytest.fixture()
def exps(tmp_path: Path) -> dict[str, Path]:
    """full (reference, final acc 0.5), a pruned run that reaches 0.49 at epoch 3, one that never.

    train.log: 10 iterations per epoch, accum_grad 2 (5 steps per epoch from the log); the pruned
    run has records with 5, 3, 3, 3 optimizer steps.
    """
    dirs = {n: tmp_path / n for n in ("full", "fast", "slow")}
    write_log(dirs["full"], [10, 10, 10, 10], 4, True, accs=[0.2, 0.4, 0.45, 0.5])
    write_log(dirs["fast"], [10, 5, 5, 5], 4, True, accs=[0.3, 0.48, 0.495, 0.47])
    write_log(dirs["slow"], [10, 5, 5, 5], 4, True, accs=[0.1, 0.2, 0.3, 0.44])
    for name in ("fast", "slow"):
        with (dirs[name] / "config.yaml").open("a") as f:
            f.write(PRUNED_CONFIG)
    for epoch, steps in enumerate([5, 3, 3, 3], start=1):
        write_record(dirs["fast"], epoch, optimizer_steps=steps)
    return dirs


def load(dirs: dict[str, Path], order: tuple[str, ...] = ("full", "fast", "slow")):
    return [load_experiment(dirs[n]) for n in order]


def test_first_epoch_at_or_above_target_without_interpolation(exps) -> None:
    comparison = build_comparison(load(exps))
    assert comparison.reference == 0 and comparison.reference_valid_acc == 0.5
    assert comparison.target_valid_acc == pytest.approx(0.49)
    full, fast, slow = comparison.rows
    # the reference itself: epoch 4, 40 s, 4 x 10 iterations / accum_grad 2 = 20 steps
    assert full.time_to_target == TimeToTarget(4, 0.5, 40.0, 20)
    # 0.48 at epoch 2 is below; 0.495 at epoch 3: 10 + 5 + 5 s, 5 + 3 + 3 steps (records);
    # the dip to 0.47 at epoch 4 does not undo it
    assert fast.time_to_target == TimeToTarget(3, 0.495, 20.0, 11)
    assert slow.time_to_target is None and slow.target_reached is False
    assert full.target_reached and fast.target_reached


def test_fraction_one_counts_equality_and_reference_option(exps) -> None:
    rows = build_comparison(load(exps), target_fraction=1.0).rows
    assert rows[0].time_to_target == TimeToTarget(4, 0.5, 40.0, 20)  # 0.5 >= 0.5
    assert rows[1].target_reached is False  # best 0.495 < 0.5
    by_slow = build_comparison(load(exps), reference=2, target_fraction=1.0)
    assert by_slow.target_valid_acc == 0.44
    assert by_slow.rows[0].time_to_target == TimeToTarget(3, 0.45, 30.0, 15)
    assert by_slow.rows[1].time_to_target == TimeToTarget(2, 0.48, 15.0, 8)
    with pytest.raises(ValueError, match="target_fraction"):
        build_comparison(load(exps), target_fraction=1.5)


def test_default_reference_is_the_full_data_run_not_the_baseline(exps) -> None:
    comparison = build_comparison(load(exps, ("fast", "slow", "full")), baseline=0)
    assert comparison.baseline == 0 and comparison.reference == 2
    assert comparison.target_valid_acc == pytest.approx(0.49)
    assert comparison.rows[0].time_to_target == TimeToTarget(3, 0.495, 20.0, 11)


def test_no_train_log_is_unknown_not_unreached(exps, tmp_path: Path) -> None:
    write_record(tmp_path / "records_only", 1, optimizer_steps=4)
    comparison = build_comparison([*load(exps), load_experiment(tmp_path / "records_only")])
    assert comparison.rows[3].target_reached is None
    text = render(comparison)
    assert "| 40.0 s (epoch 4) | 20 |" in text
    assert "| 20.0 s (epoch 3) | 11 |" in text
    assert text.count("| not reached | not reached |") == 1
    assert main_table(comparison)[1][3][-3:-1] == ["n/a", "n/a"]
    assert "0.98 x final valid acc of full (0.5000) = 0.4900" in text


def test_command_line_json_and_plot_marks(exps, tmp_path: Path, capsys) -> None:
    out = tmp_path / "cmp.json"
    args = [str(exps[n]) for n in ("fast", "full", "slow")]
    assert main([*args, "--json", str(out), "--target_fraction", "0.9"]) == 0  # target 0.45
    payload = json.loads(out.read_text())
    assert payload["reference"] == "full" and payload["baseline"] == "fast"
    assert payload["target_valid_acc"] == pytest.approx(0.45)
    rows = {r["experiment"]: r for r in payload["rows"]}
    assert rows["full"]["time_to_target"] == {
        "epoch": 3, "valid_acc": 0.45, "wall_seconds": 30.0, "optimizer_steps": 15
    }  # fmt: skip
    assert rows["fast"]["time_to_target"]["epoch"] == 2
    assert rows["slow"]["time_to_target"] is None and rows["slow"]["target_reached"] is False
    columns = payload["table"]["columns"]
    assert columns[-3:] == ["wall to target", "steps to target", "notes"]
    assert payload["table"]["rows"][1][-3:-1] == ["30.0 s (epoch 3)", "15"]

    assert main([*args, "--reference", "slow", "--json", str(out)]) == 0
    assert json.loads(out.read_text())["reference"] == "slow"
    assert main([*args, "--reference", "nope"]) == 2
    assert main([*args, "--target_fraction", "0"]) == 2
    assert "--target_fraction 0.0: must be in (0, 1]" in capsys.readouterr().err

    comparison = build_comparison(load(exps))
    fig = valid_vs_wall_figure(load(exps), comparison)
    acc_ax = fig.axes[1]
    (line,) = [a for a in acc_ax.lines if a.get_gid() == "target_line"]
    assert list(line.get_ydata()) == pytest.approx([0.49, 0.49])
    stars = {a.get_gid(): (a.get_xdata()[0], a.get_ydata()[0]) for a in acc_ax.lines
             if (a.get_gid() or "").startswith("target_hit:")}  # fmt: skip
    assert stars == {
        "target_hit:full": pytest.approx((40 / 60, 0.5)),
        "target_hit:fast": pytest.approx((20 / 60, 0.495)),
    }
