"""The recommended configuration of every recipe: its full-data config plus InfoBatch pruning on
the fitted schedule (docs/EVIDENCE.md, "The decision"), and nothing else."""

from __future__ import annotations

import pytest
import yaml

from recipes.corpora import REPO

RECIPES = {
    "mini_ddp": ("conf/train_asr_full.yaml", "conf/tuning/train_asr_ddp_recommended.yaml"),
    "fsdd_digits_ddp": ("conf/train_asr_full.yaml", "conf/tuning/train_asr_ddp_recommended.yaml"),
    "librispeech_ddp": ("conf/train_asr.yaml", "conf/tuning/train_asr_ddp_recommended.yaml"),
    "lrs3_ddp": ("conf/train_asr.yaml", "conf/tuning/train_asr_ddp_recommended.yaml"),
}


@pytest.mark.parametrize("recipe", sorted(RECIPES))
def test_recommended_is_the_full_config_plus_infobatch_on_the_fitted_schedule(recipe):
    root = REPO / "egs2" / recipe / "asr1"
    full, recommended = (yaml.safe_load((root / p).read_text()) for p in RECIPES[recipe])
    changed = {k for k in full.keys() | recommended.keys() if full.get(k) != recommended.get(k)}
    assert changed == {"data_pruning", "data_pruning_conf", "lr_fit"}, changed
    assert recommended["data_pruning"] == "infobatch"
    anneal = int(full["max_epoch"] * 0.125 + 0.5)  # 12.5% of the epochs, rounded half up
    assert recommended["data_pruning_conf"] == {
        "prune_prob": 0.5, "warmup_epochs": 1, "anneal_epochs": anneal
    }
    assert recommended["lr_fit"] == "linear"
    assert recommended.get("time_drop", "none") == "none"


def test_the_demo_trains_both_budgets_and_the_recommended_configuration():
    run_sh = (REPO / "egs2" / "mini_ddp" / "asr1" / "run.sh").read_text()
    configs = " ".join(
        f"conf/demo/{n}.yaml"
        for n in ("train_asr_budget1.0", "train_asr_budget0.7", "train_asr_ddp_recommended")
    )
    assert f'asr_configs="{configs}"' in run_sh
