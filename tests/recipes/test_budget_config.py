"""tools/budget_config: the budget baseline of any ESPnet config equals the grid's. Budget: 5 s."""

from __future__ import annotations

import subprocess
import sys

import pytest
import yaml

from espnet_ddp.tools.budget_config import BudgetError, budget_config, budget_epochs
from recipes.corpora import REPO

MINI = REPO / "egs2" / "mini_ddp" / "asr1"


@pytest.mark.parametrize(
    "max_epoch, budget, epochs",
    [(30, "0.3", 9), (25, "0.3", 8), (75, "0.5", 38), (75, "0.7", 53), (24, "0.7", 17),
     (3, "0.1", 1), (30, "1.0", 30)],
)
def test_epochs_are_scaled_and_rounded_half_up(max_epoch, budget, epochs):
    assert budget_epochs(max_epoch, budget) == epochs


@pytest.mark.parametrize("budget", ["0.7", "1.0"])
def test_a_pruned_config_becomes_the_grids_budget_baseline(tmp_path, budget):
    out = tmp_path / "budget.yaml"
    proc = subprocess.run(
        [sys.executable, "-m", "espnet_ddp.tools.budget_config",
         str(MINI / "conf/tuning/train_asr_e2h0.7_chunk0.3.yaml"), budget, "--out", str(out)],
        capture_output=True, text=True,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    grid = yaml.safe_load((MINI / f"conf/tuning/train_asr_budget{budget}.yaml").read_text())
    assert yaml.safe_load(out.read_text()) == grid


def test_errors_name_the_config_and_the_problem(tmp_path):
    bad = tmp_path / "no_epochs.yaml"
    bad.write_text("encoder: conformer\n")
    proc = subprocess.run(
        [sys.executable, "-m", "espnet_ddp.tools.budget_config", str(bad), "0.5"],
        capture_output=True, text=True,
    )  # fmt: skip
    assert proc.returncode == 2
    assert f"budget_config: error: {bad}: max_epoch=None" in proc.stderr
    with pytest.raises(BudgetError, match="must be in"):
        budget_config({"max_epoch": 10}, "1.5")
    with pytest.raises(BudgetError, match="not a number"):
        budget_config({"max_epoch": 10}, "most")
