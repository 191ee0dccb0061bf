"""The recommended configuration of every recipe: its full-data config plus Easy2hard 0.7 only."""

from __future__ import annotations

import pytest
import yaml

from recipes.corpora import REPO

PLUGIN_KEYS = {"data_pruning", "data_pruning_conf", "time_drop", "time_drop_conf"}
RECIPES = {
    "mini_ddp": ("conf/train_asr_full.yaml", "conf/tuning/train_asr_ddp_recommended.yaml"),
    "fsdd_digits_ddp": ("conf/train_asr_full.yaml", "conf/tuning/train_asr_ddp_recommended.yaml"),
    "librispeech_ddp": ("conf/train_asr.yaml", "conf/tuning/train_asr_ddp_recommended.yaml"),
    "lrs3_ddp": ("conf/train_asr.yaml", "conf/tuning/train_asr_ddp_recommended.yaml"),
}


@pytest.mark.parametrize("recipe", sorted(RECIPES))
def test_recommended_is_the_full_config_plus_easy2hard(recipe):
    root = REPO / "egs2" / recipe / "asr1"
    full, recommended = (yaml.safe_load((root / p).read_text()) for p in RECIPES[recipe])
    changed = {k for k in full.keys() | recommended.keys() if full.get(k) != recommended.get(k)}
    assert changed == {"data_pruning", "data_pruning_conf"}, changed
    assert recommended["data_pruning"] == "easy2hard"
    assert recommended["data_pruning_conf"] == {
        "keep_ratio": 0.7, "warmup_epochs": 1, "lr_trajectory": "epoch"
    }
    assert recommended.get("time_drop", "none") == "none"
    assert not changed & (PLUGIN_KEYS - {"data_pruning", "data_pruning_conf"})


def test_the_demo_trains_the_recommended_configuration_second():
    run_sh = (REPO / "egs2" / "mini_ddp" / "asr1" / "run.sh").read_text()
    configs = "conf/train_asr_full.yaml conf/tuning/train_asr_ddp_recommended.yaml"
    assert f'asr_configs="{configs}"' in run_sh
