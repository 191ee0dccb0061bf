"""Plugin options: YAML keys and command line, with clear errors before training starts."""

from __future__ import annotations

import pytest
from conftest import log_tail, run_module

from espnet_ddp.core.errors import ConfigError
from espnet_ddp.espnet.options import plugin_options_from_args
from espnet_ddp.espnet.task import PrunedASRTask, check_plugin_args
from plugin.corpus import train_command


def parse(*argv: str):
    return PrunedASRTask.get_parser().parse_args(["--output_dir", "x", *argv])


def test_yaml_keys_and_command_line_overrides(tmp_path):
    config = tmp_path / "train.yaml"
    config.write_text(
        "data_pruning: easy2hard\n"
        "data_pruning_conf: {keep_ratio: 0.7, warmup_epochs: 2}\n"
        "time_drop: chunk\n"
        "time_drop_conf: {drop_ratio: 0.3, chunk_ms: 10}\n"
        "model_conf: {ctc_weight: 0.4}\n"
        "max_epoch: 10\n"
    )
    args = parse("--config", str(config), "--data_pruning_conf", "keep_ratio=0.5")
    options = plugin_options_from_args(args)
    assert options.pruning.strategy == "easy2hard"
    assert options.pruning.keep_ratio == 0.5  # the command line wins over the YAML key
    assert options.pruning.warmup_epochs == 2
    assert options.pruning.ctc_weight == 0.4  # taken from the model when unset
    assert options.time_drop.chunk_ms == 10 and options.time_drop.fs == 16000


@pytest.mark.parametrize(
    "argv, needle",
    [
        (["--data_pruning", "easy2hard", "--data_pruning_conf", "keep_ratio=1.5"], "keep_ratio"),
        (["--data_pruning", "random", "--data_pruning_conf", "keep_ratio=0"], "keep_ratio"),
        (["--time_drop", "chunk", "--time_drop_conf", "drop_ratio=1.0"], "drop_ratio"),
        (["--time_drop", "chunk", "--time_drop_conf", "drop_ratio=-0.1"], "drop_ratio"),
        (["--time_drop", "chunk", "--time_drop_conf", "num_chunks=0"], "num_chunks"),
        (["--time_drop", "chunk", "--time_drop_conf", "num_chunks=4,chunk_ms=20"], "chunk_ms"),
        (["--time_drop", "point", "--time_drop_conf", "chunk_ms=20"], "chunk_ms"),
        (["--data_pruning", "easy2hard", "--data_pruning_conf", "keep_rate=0.7"], "keep_rate"),
        (
            ["--data_pruning", "easy2hard", "--data_pruning_conf", "warmup_epochs=3",
             "--max_epoch", "3"],
            "warmup_epochs",
        ),
        (["--data_pruning", "easy", "--num_iters_per_epoch", "10"], "--num_iters_per_epoch"),
        (["--time_drop", "chunk", "--max_cache_size", "1.0"], "--max_cache_size"),
    ],
)
def test_bad_settings_name_the_option(argv, needle):
    with pytest.raises(ConfigError) as err:
        check_plugin_args(parse(*argv))
    assert needle in str(err.value)


def test_unknown_strategy_is_refused_by_the_parser(capsys):
    with pytest.raises(SystemExit):
        parse("--data_pruning", "hardest")
    assert "--data_pruning" in capsys.readouterr().err


def test_bad_option_stops_the_command_before_training(tiny_corpus, tmp_path):
    exp = tmp_path / "exp"
    args = train_command(
        tiny_corpus, exp, tiny_corpus / "tiny.yaml",
        "--data_pruning", "easy2hard", "--data_pruning_conf", "keep_ratio=1.5",
    )
    log = tmp_path / "log"
    proc = run_module("espnet_ddp.bin.asr_train", args, log)
    assert proc.returncode == 2, log_tail(log)
    assert "keep_ratio" in log.read_text()
    assert not (exp / "config.yaml").exists()  # nothing started
