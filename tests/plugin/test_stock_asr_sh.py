"""ESPnet's own ``asr.sh`` trains with the plugin through ``--python espnet-ddp-python``.

Stages 10 (statistics) and 11 (training through ``espnet2.bin.launch`` and the job backend) are
run with the command lines stock ``asr.sh`` builds (``stock_asr_sh.py``), the shim as
``${python}``, the pruning keys in the training YAML and the time drop in ``--asr_args`` (stock
``asr.sh`` passes both to stage 10 too). The job backend is the recipes' ``utils/run_local.sh``,
called as ``espnet2.bin.launch`` calls ``run.pl``. The result is decoded by stock
``espnet2.bin.asr_inference``, in this process (stage 12's command line adds nothing the shim's
own tests do not cover, and a third ESPnet process would cost another ~18 s of imports).

The shim is the installed console script when it exists next to the interpreter, otherwise its
module form (``python -m espnet_ddp.bin.python_shim``, the same code). Budget: 90 s (measured
2026-12-02: 95 s wall, about 70 s of CPU, on 2 cores shared with a training campaign; two ESPnet
processes with about 18 s of imports each, and 3 epochs of the tiny model).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest
import yaml
from conftest import REPO, log_tail

from plugin.stock_asr_sh import StockRecipe

EPOCHS = 3
KEEP = 0.5
CONSOLE_SCRIPT = Path(sys.executable).parent / "espnet-ddp-python"
RUN_LOCAL = REPO / "egs2" / "TEMPLATE" / "asr1" / "utils" / "run_local.sh"
PRUNING_YAML = f"""
data_pruning: easy2hard
data_pruning_conf:
    keep_ratio: {KEEP}
    warmup_epochs: 1
"""


def shim_python() -> str:
    """What a user passes as ``--python``."""
    if CONSOLE_SCRIPT.exists():
        return str(CONSOLE_SCRIPT)
    return f"{sys.executable} -m espnet_ddp.bin.python_shim"


@pytest.fixture(scope="module")
def stock_run(tiny_corpus, tmp_path_factory):
    """Stages 10 and 11 as stock asr.sh runs them."""
    root = tmp_path_factory.mktemp("stock_recipe")
    config = root / "conf" / "train_asr.yaml"
    config.parent.mkdir()
    config.write_text((tiny_corpus / "tiny.yaml").read_text() + PRUNING_YAML)
    recipe = StockRecipe(
        python=shim_python(),
        train_cmd=str(RUN_LOCAL),
        train_dir=tiny_corpus / "data" / "train",
        valid_dir=tiny_corpus / "data" / "valid",
        token_list=tiny_corpus / "token_list.txt",
        asr_stats_dir=root / "exp" / "asr_stats_raw_char",
        asr_exp=root / "exp" / "asr_train_asr_raw_char",
        asr_config=config,
        asr_args=f"--max_epoch {EPOCHS} --time_drop chunk --time_drop_conf drop_ratio=0.3",
        env=dict(os.environ, PYTHONPATH=str(REPO), OMP_NUM_THREADS="1"),
    )
    stats = recipe.stage10()
    logdir = recipe.asr_stats_dir / "logdir"
    assert all(p.returncode == 0 for p in stats), log_tail(logdir / "stats.1.log")
    train = recipe.stage11()
    assert train.returncode == 0, log_tail(recipe.asr_exp / "train.log")
    return recipe


def records(exp: Path) -> list[dict]:
    return [
        json.loads((exp / "data_pruning" / f"epoch{e}.json").read_text())
        for e in range(1, EPOCHS + 1)
    ]


def test_stage10_collects_stats_through_the_plugin_with_pruning_keys(stock_run):
    recipe = stock_run
    log = (recipe.asr_stats_dir / "logdir" / "stats.1.log").read_text().splitlines()
    assert " -m espnet2.bin.asr_train --collect_stats true " in log[0]  # the stock job line
    ran = [x for x in log if "asr_train.py --collect_stats true" in x]  # ESPnet logs its argv
    assert len(ran) == 1 and "espnet_ddp/bin/asr_train.py" in ran[0]
    stats = recipe.asr_stats_dir / "train"
    assert (stats / "feats_stats.npz").exists()
    assert len((stats / "speech_shape").read_text().splitlines()) == 24
    assert not (recipe.asr_stats_dir / "logdir" / "stats.1" / "data_pruning").exists()


def test_stage11_prunes_with_the_yaml_keys_and_the_asr_args(stock_run):
    recipe = stock_run
    config = yaml.safe_load((recipe.asr_exp / "config.yaml").read_text())
    assert config["data_pruning"] == "easy2hard"
    assert config["data_pruning_conf"]["keep_ratio"] == KEEP  # from the YAML
    assert config["time_drop"] == "chunk"  # from --asr_args
    assert config["normalize"] == "global_mvn"  # stock stage 11's override of the YAML
    recs = records(recipe.asr_exp)
    assert [r["phase"] for r in recs] == ["warmup", "pruned", "pruned"]
    assert [r["kept_utterances"] for r in recs] == [24, 12, 12]
    assert all(r["total_utterances"] == 24 for r in recs)
    assert all(r["time_drop"]["mode"] == "chunk" for r in recs)
    log = (recipe.asr_exp / "train.log").read_text()
    assert " -m espnet2.bin.asr_train " in log.splitlines()[0]  # what launch gave the backend
    assert "espnet_ddp/bin/asr_train.py --use_preprocessor true" in log
    assert "espnet_ddp epoch 3: phase=pruned kept=12/24" in log


def test_pruned_epochs_take_fewer_optimizer_steps(stock_run):
    recipe = stock_run
    recs = records(recipe.asr_exp)
    full = recs[0]["full_data_batches"]
    assert recs[0]["optimizer_steps"] == recs[0]["num_batches"]
    for rec in recs[1:]:
        assert rec["full_data_batches"] == full
        assert rec["optimizer_steps"] == rec["num_batches"] < full


def test_the_result_decodes_with_stock_espnet(stock_run, tmp_path):
    from espnet2.bin.asr_inference import main as stock_inference

    recipe = stock_run
    stock_inference([
        "--ngpu", "0", "--batch_size", "1", "--beam_size", "2", "--ctc_weight", "0.3",
        "--data_path_and_name_and_type", f"{recipe.valid_dir}/wav.scp,speech,sound",
        "--asr_train_config", str(recipe.asr_exp / "config.yaml"),
        "--asr_model_file", str(recipe.asr_exp / "valid.acc.ave.pth"),  # stock asr.sh's default
        "--output_dir", str(tmp_path),
    ])  # fmt: skip
    keys = [line.split()[0] for line in (recipe.valid_dir / "wav.scp").read_text().splitlines()]
    hyps = (tmp_path / "1best_recog" / "text").read_text().splitlines()
    assert sorted(h.split(maxsplit=1)[0] for h in hyps) == sorted(keys)
