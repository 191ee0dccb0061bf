"""The LibriSpeech and LRS3 recipes: files, links, the config grid, and run.sh's defaults."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
import yaml

from recipes.corpora import REPO, recipe_env, stage_recipe

RECIPES = ["librispeech_ddp", "lrs3_ddp"]
LIBRI = REPO / "egs2" / "librispeech_ddp" / "asr1"
PLUGIN_KEYS = {"data_pruning", "data_pruning_conf", "time_drop", "time_drop_conf", "lr_fit"}
SPECAUG_KEYS = {"specaug", "specaug_conf"}

# config -> (strategy, keep_ratio, drop mode, drop ratio, SpecAugment: full | time_mask | none)
GRID = {
    "train_asr": ("none", None, "none", None, "full"),
    "train_asr_e2h0.7": ("easy2hard", 0.7, "none", None, "full"),
    "train_asr_e2h0.5": ("easy2hard", 0.5, "none", None, "full"),
    "train_asr_e2h0.9": ("easy2hard", 0.9, "none", None, "full"),
    "train_asr_random0.7": ("random", 0.7, "none", None, "full"),
    "train_asr_easy0.7": ("easy", 0.7, "none", None, "full"),
    "train_asr_hard0.7": ("hard", 0.7, "none", None, "full"),
    "train_asr_infobatch": ("infobatch", None, "none", None, "full"),
    "train_asr_chunk0.3": ("none", None, "chunk", 0.3, "full"),
    "train_asr_point0.3": ("none", None, "point", 0.3, "full"),
    "train_asr_tmask": ("none", None, "none", None, "time_mask"),
    "train_asr_tdrop0.3": ("none", None, "chunk", 0.3, "none"),
    "train_asr_tmask_tdrop0.3": ("none", None, "chunk", 0.3, "time_mask"),
    "train_asr_e2h0.7_chunk0.3": ("easy2hard", 0.7, "chunk", 0.3, "full"),
    "train_asr_e2h0.7_chunk0.3_wa": ("easy2hard", 0.7, "chunk", 0.3, "full"),
    "train_asr_e2h0.6": ("easy2hard", 0.6, "none", None, "full"),
    "train_asr_ddp_recommended": ("infobatch", None, "none", None, "full"),
    "train_asr_e2h0.7_frames0.3": ("easy2hard", 0.7, "frames", 0.3, "full"),
    "train_asr_e2h0.7_tempo0.3": ("easy2hard", 0.7, "tempo", 0.3, "full"),
    "train_asr_e2h0.7_energy0.3": ("easy2hard", 0.7, "chunk", 0.3, "full"),
    "train_asr_e2h0.7_chunk0.3_decay": ("easy2hard", 0.7, "chunk", 0.3, "full"),
    "train_asr_e2h0.7_chunk0.3_byscore": ("easy2hard", 0.7, "chunk", 0.3, "full"),
    "train_asr_e2h0.5_then_full": ("easy2hard", 0.5, "none", None, "full"),
}
# the recommended pruning configuration (docs/EVIDENCE.md, "The decision"): on the fitted schedule
RECOMMENDED = "train_asr_ddp_recommended"
# every variant but the baseline and the recommended config has an _lrfit twin (fitted schedule)
GRID.update({
    f"{name}_lrfit": spec for name, spec in list(GRID.items())
    if name not in ("train_asr", "train_asr_ddp_recommended")
})
# budget baselines: full data for a share of the baseline's epochs, fitted schedule
BUDGETS = {f"train_asr_budget{b}": b for b in (0.3, 0.5, 0.7, 0.8, 0.9, 1.0)}
GRID.update({name: ("none", None, "none", None, "full") for name in BUDGETS})
# baseline max_epoch -> budget -> epochs, rounded half up (22.5 -> 23, 37.5 -> 38, 7.2 -> 7)
BUDGET_EPOCHS = {
    75: {0.3: 23, 0.5: 38, 0.7: 53, 0.8: 60, 0.9: 68, 1.0: 75},
    30: {0.3: 9, 0.5: 15, 0.7: 21, 0.8: 24, 0.9: 27, 1.0: 30},
    24: {0.3: 7, 0.5: 12, 0.7: 17, 0.8: 19, 0.9: 22, 1.0: 24},
}
# the keys each variant adds to time_drop_conf besides drop_ratio, chunk_ms and its schedule
EXTRA_DROP_KEYS = {
    "train_asr_e2h0.7_energy0.3": {"select": "energy"},
    "train_asr_e2h0.7_chunk0.3_decay": {"drop_schedule": "linear_decay"},
    "train_asr_e2h0.7_chunk0.3_byscore": {"ratio_by_score": True},
}


def config_path(name: str, recipe: Path = LIBRI) -> Path:
    return recipe / "conf" / ("train_asr.yaml" if name == "train_asr" else f"tuning/{name}.yaml")


def load(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


@pytest.mark.parametrize("name", RECIPES)
def test_recipe_layout(name):
    recipe = REPO / "egs2" / name / "asr1"
    template = (REPO / "egs2" / "TEMPLATE" / "asr1").resolve()
    for link in ("asr.sh", "path.sh", "utils", "cmd.sh"):
        assert (recipe / link).is_symlink(), f"{name}/{link} should link to the TEMPLATE"
        assert not Path(os.readlink(recipe / link)).is_absolute()
        assert (recipe / link).resolve() == template / link
    assert (recipe / "conf" / "slurm.conf").resolve() == template / "conf" / "slurm.conf"
    for script in ("run.sh", "local/data.sh"):
        assert os.access(recipe / script, os.X_OK), f"{name}/{script} is not executable"
    for script in ("run.sh", "local/data.sh", "db.sh"):
        proc = subprocess.run(["bash", "-n", str(recipe / script)], capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr
    assert (recipe / "README.md").is_file()
    for conf in ("train_asr.yaml", "decode_asr.yaml", "decode_asr_cpu.yaml"):
        assert (recipe / "conf" / conf).is_file()
    assert sorted(p.stem for p in (recipe / "conf" / "tuning").glob("*.yaml")) == sorted(
        n for n in GRID if n != "train_asr"
    )


def test_lrs3_shares_the_librispeech_grid():
    lrs3 = REPO / "egs2" / "lrs3_ddp" / "asr1"
    shared = ("train_asr.yaml", "tuning", "decode_asr.yaml", "decode_asr_cpu.yaml")
    for rel in (f"conf/{name}" for name in shared):
        assert (lrs3 / rel).is_symlink(), rel
        assert (lrs3 / rel).resolve() == (LIBRI / rel).resolve()


# recipe -> its full-data baseline; utils/make_tuning_configs.sh writes conf/tuning/ from it
BASELINES = {
    "librispeech_ddp": "conf/train_asr.yaml",
    "mini_ddp": "conf/train_asr_full.yaml",
    "fsdd_digits_ddp": "conf/train_asr_full.yaml",
}


def grid_of(recipe: str) -> dict[str, tuple]:
    """The variants the generator writes for RECIPE (SpecAugment ones if it has SpecAugment)."""
    root = REPO / "egs2" / recipe / "asr1"
    if load(root / BASELINES[recipe]).get("specaug"):
        return {n: v for n, v in GRID.items() if n != "train_asr"}
    return {n: v for n, v in GRID.items() if n != "train_asr" and v[4] == "full"}


@pytest.mark.parametrize("recipe", sorted(BASELINES))
def test_tuning_configs_are_the_generator_output(recipe, tmp_path):
    root = REPO / "egs2" / recipe / "asr1"
    proc = subprocess.run(
        ["bash", "utils/make_tuning_configs.sh", BASELINES[recipe], str(tmp_path)],
        cwd=root,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    made = sorted(p.name for p in tmp_path.glob("*.yaml"))
    assert made == sorted(f"{n}.yaml" for n in grid_of(recipe))
    assert made == sorted(p.name for p in (root / "conf" / "tuning").glob("*.yaml"))
    for f in made:
        committed = (root / "conf" / "tuning" / f).read_text()
        assert (tmp_path / f).read_text() == committed, f"rerun utils/make_tuning_configs.sh ({f})"


def test_demo_configs_are_the_generator_output_at_12_epochs(tmp_path):
    """conf/demo/ of the mini recipe (what ``make demo`` trains): the grid's full-data budgets 1.0
    and 0.7 and the recommended configuration, written with --max_epoch 12."""
    root = REPO / "egs2" / "mini_ddp" / "asr1"
    names = ["train_asr_budget1.0", "train_asr_budget0.7", RECOMMENDED]
    proc = subprocess.run(
        ["bash", "utils/make_tuning_configs.sh", "--max_epoch", "12", "--only", " ".join(names),
         "conf/train_asr_full.yaml", str(tmp_path)],
        cwd=root, capture_output=True, text=True,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in tmp_path.glob("*.yaml")) == sorted(f"{n}.yaml" for n in names)
    for name in names:
        committed = (root / "conf" / "demo" / f"{name}.yaml").read_text()
        assert (tmp_path / f"{name}.yaml").read_text() == committed, name
    epochs = {n: load(root / "conf" / "demo" / f"{n}.yaml")["max_epoch"] for n in names}
    assert epochs == {"train_asr_budget1.0": 12, "train_asr_budget0.7": 8, RECOMMENDED: 12}


def test_generator_refuses_a_baseline_without_max_epoch(tmp_path):
    base = tmp_path / "train.yaml"
    base.write_text("# header\n\nencoder: conformer\n")
    proc = subprocess.run(
        ["bash", str(LIBRI / "utils" / "make_tuning_configs.sh"), str(base), str(tmp_path / "out")],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 1 and f"{base} has no max_epoch" in proc.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("recipe", "name"), [(r, n) for r in sorted(BASELINES) for n in sorted(grid_of(r))]
)
def test_grid_config_is_the_baseline_plus_its_own_keys(recipe, name):
    strategy, keep, mode, ratio, specaug = GRID[name]
    root = REPO / "egs2" / recipe / "asr1"
    base, conf = load(root / BASELINES[recipe]), load(root / "conf" / "tuning" / f"{name}.yaml")
    epochs = base["max_epoch"]
    changed = {k for k in base.keys() | conf.keys() if base.get(k) != conf.get(k)}
    fitted = name.endswith("_lrfit") or name in BUDGETS or name == RECOMMENDED
    assert conf.get("lr_fit", "none") == ("linear" if fitted else "none")
    if name in BUDGETS:  # max_epoch scaled, rounded half up; nothing else but the schedule
        assert conf["max_epoch"] == BUDGET_EPOCHS[epochs][BUDGETS[name]]
        assert changed <= {"max_epoch", "lr_fit"}
        changed -= {"max_epoch"}
    assert changed <= PLUGIN_KEYS | SPECAUG_KEYS
    if specaug == "full":
        assert not changed & SPECAUG_KEYS
    assert conf.get("data_pruning", "none") == strategy
    pruning_conf = conf.get("data_pruning_conf") or {}
    assert pruning_conf.get("keep_ratio") == keep
    if strategy == "infobatch":
        assert pruning_conf["prune_prob"] == 0.5
        assert pruning_conf["anneal_epochs"] == int(0.125 * epochs + 0.5)  # 9 of 75
    if name.startswith("train_asr_e2h0.5_then_full"):
        assert pruning_conf["anneal_epochs"] == int(epochs / 3 + 0.5)  # 25 of 75, 10 of 30
    if (strategy != "none" or mode != "none") and not fitted:
        assert pruning_conf.get("lr_trajectory") == "epoch"
    if fitted:  # the fitted schedule contradicts lr_trajectory: epoch
        assert "lr_trajectory" not in pruning_conf
    assert conf.get("time_drop", "none") == mode
    drop_conf = conf.get("time_drop_conf") or {}
    assert drop_conf.get("drop_ratio") == ratio
    if mode == "chunk":
        assert drop_conf["chunk_ms"] == 20
    extra = {k: v for k, v in drop_conf.items()
             if k not in ("drop_ratio", "chunk_ms", "warmup_epochs", "anneal_epochs")}
    assert extra == EXTRA_DROP_KEYS.get(name.removesuffix("_lrfit"), {})
    schedule = (drop_conf.get("warmup_epochs", 0), drop_conf.get("anneal_epochs", 0))
    wa = (int(0.24 * epochs + 0.5), int(0.16 * epochs + 0.5))  # 18 and 12 of 75
    assert schedule == (wa if name.removesuffix("_lrfit").endswith("_wa") else (0, 0))
    assert sum(schedule) < base["max_epoch"]
    if specaug == "none":
        assert conf["specaug"] is None
    elif specaug == "time_mask":
        s = conf["specaug_conf"]
        assert conf["specaug"] == "specaug" and s["apply_time_mask"]
        assert not s["apply_freq_mask"] and not s["apply_time_warp"]


def test_baseline_is_the_librispeech_100_conformer():
    c = load(config_path("train_asr"))
    enc, dec = c["encoder_conf"], c["decoder_conf"]
    assert (c["encoder"], enc["num_blocks"], enc["output_size"]) == ("conformer", 12, 256)
    assert (enc["attention_heads"], enc["linear_units"], enc["cnn_module_kernel"]) == (4, 1024, 31)
    assert enc["macaron_style"] and enc["pos_enc_layer_type"] == "rel_pos"
    assert (c["decoder"], dec["num_blocks"], dec["linear_units"]) == ("transformer", 6, 2048)
    assert c["model_conf"]["ctc_weight"] == 0.3 and c["model_conf"]["lsm_weight"] == 0.1
    assert c["batch_type"] == "numel" and c["optim"] == "adam" and c["scheduler"] == "warmuplr"
    assert c["specaug"] == "specaug"
    for decode in ("decode_asr.yaml", "decode_asr_cpu.yaml"):
        assert load(LIBRI / "conf" / decode)["ctc_weight"] == 0.3
    assert load(LIBRI / "conf" / "decode_asr.yaml")["beam_size"] == 10


def test_every_config_is_accepted_by_espnet_and_the_plugin():
    """ESPnet's parser knows every key; the plugin validates its options; the model builds."""
    from espnet_ddp.espnet.options import plugin_options_from_args
    from espnet_ddp.espnet.task import PrunedASRTask

    tokens = ["<blank>", "<unk>", *(f"t{i}" for i in range(60)), "<sos/eos>"]
    built: dict[str, float] = {}
    for name in sorted(GRID):
        path = config_path(name)
        # a new parser each time: ESPnet's --config sets the parser's defaults for good
        args = PrunedASRTask.get_parser().parse_args(["--config", str(path), "--token_list", "x"])
        options = plugin_options_from_args(args)
        assert options.pruning.strategy == GRID[name][0]
        assert options.time_drop.mode == GRID[name][2]
        fitted = name.endswith("_lrfit") or name in BUDGETS or name == RECOMMENDED
        assert options.lr_fit.decay == ("linear" if fitted else "none")
        assert options.lr_fit.warmup_steps == (15000 if fitted else None)  # the baseline's
        model_part = {
            k: v for k, v in load(path).items() if k not in PLUGIN_KEYS | {"max_epoch"}
        }
        key = yaml.safe_dump(model_part)
        if key not in built:
            args.token_list = tokens
            model = PrunedASRTask.build_model(args)
            built[key] = sum(p.numel() for p in model.parameters())
            assert (model.specaug is None) == (GRID[name][4] == "none")
    assert len(built) == 3  # full SpecAugment, time masks only, none


def dry_run(recipe: Path, *args: str) -> str:
    """./run.sh with stages that do nothing: only the option handling of run.sh and asr.sh."""
    proc = subprocess.run(
        ["./run.sh", "--stage", "14", "--stop_stage", "13", *args],
        cwd=recipe,
        env=recipe_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout + proc.stderr


@pytest.mark.parametrize(
    ("name", "default_exp", "sets"),
    [
        ("librispeech_ddp", "exp/asr_train_asr_raw_en_bpe5000_sp", "train_clean_100 dev"),
        ("lrs3_ddp", "exp/asr_train_asr_raw_en_bpe1000_sp", "train dev"),
    ],
)
def test_run_sh_defaults_and_overrides_reach_asr_sh(tmp_path, name, default_exp, sets):
    recipe = stage_recipe(tmp_path, name)
    out = dry_run(recipe)
    assert f"asr_exp={default_exp} " in out
    train_set, valid_set = sets.split()
    assert f"--train_set {train_set} --valid_set {valid_set}" in out
    out = dry_run(recipe, "--asr_config", "conf/tuning/train_asr_e2h0.7_chunk0.3.yaml")
    assert f"asr_exp={default_exp.replace('train_asr_', 'train_asr_e2h0.7_chunk0.3_')} " in out
    out = dry_run(recipe, "--token_type", "char", "--speed_perturb_factors", "")
    assert "asr_exp=exp/asr_train_asr_raw_en_char " in out
