import dataclasses

import pytest

from espnet_ddp.core.config import PruningConfig, TimeDropConfig
from espnet_ddp.core.errors import ConfigError


def test_pruning_defaults_and_int_for_float():
    cfg = PruningConfig.from_options("easy2hard", None)
    assert cfg == PruningConfig(strategy="easy2hard")
    cfg = PruningConfig.from_options("easy", {"keep_ratio": 1, "ema": 0})
    assert cfg.keep_ratio == 1.0 and isinstance(cfg.keep_ratio, float)
    assert isinstance(cfg.ema, float)


def test_pruning_is_frozen():
    cfg = PruningConfig()
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.keep_ratio = 0.5  # type: ignore[misc]


@pytest.mark.parametrize(
    "strategy, conf, expected",
    [
        ("foo", {}, "--data_pruning='foo'"),
        (None, {}, "--data_pruning=None"),
        ("easy", {"keep_ratio": 1.5}, "--data_pruning_conf keep_ratio=1.5: must be in (0, 1]"),
        ("easy", {"keep_ratio": 0}, "--data_pruning_conf keep_ratio=0"),
        ("easy", {"keep_ratio": float("nan")}, "--data_pruning_conf keep_ratio=nan"),
        ("easy", {"keep_ratio": "0.7"}, "--data_pruning_conf keep_ratio='0.7': must be a number"),
        ("easy", {"keep_ratio": True}, "--data_pruning_conf keep_ratio=True: must be a number"),
        ("easy", {"warmup_epochs": -1}, "--data_pruning_conf warmup_epochs=-1: must be >= 0"),
        ("easy", {"warmup_epochs": 1.0}, "--data_pruning_conf warmup_epochs=1.0: must be an int"),
        ("easy", {"warmup_epochs": True}, "--data_pruning_conf warmup_epochs=True"),
        ("easy", {"anneal_epochs": -2}, "--data_pruning_conf anneal_epochs=-2"),
        ("easy2hard", {"schedule": "exp"}, "--data_pruning_conf schedule='exp': must be one of"),
        (
            "easy2hard",
            {"schedule": "step", "schedule_steps": 1},
            "--data_pruning_conf schedule_steps=1: must be >= 2",
        ),
        ("easy", {"score": "mse"}, "--data_pruning_conf score='mse'"),
        ("easy", {"ctc_weight": 1.5}, "--data_pruning_conf ctc_weight=1.5"),
        ("easy", {"ctc_weight": "a"}, "--data_pruning_conf ctc_weight='a'"),
        ("easy", {"normalize": "frames"}, "--data_pruning_conf normalize='frames'"),
        ("easy", {"ema": 1.0}, "--data_pruning_conf ema=1.0: must be in [0, 1)"),
        ("easy", {"ema": -0.1}, "--data_pruning_conf ema=-0.1"),
        ("infobatch", {"prune_prob": 0}, "--data_pruning_conf prune_prob=0"),
        ("infobatch", {"prune_prob": 1}, "--data_pruning_conf prune_prob=1"),
        ("easy", {"seed": -1}, "--data_pruning_conf seed=-1"),
        ("easy", {"seed": "0"}, "--data_pruning_conf seed='0'"),
        ("easy", {"lr_trajectory": "time"}, "--data_pruning_conf lr_trajectory='time'"),
        ("easy", {"text_bins": "chars"}, "--data_pruning_conf text_bins='chars'"),
    ],
)
def test_pruning_invalid_values(strategy, conf, expected):
    with pytest.raises(ConfigError) as err:
        PruningConfig.from_options(strategy, conf)
    assert expected in str(err.value)


def test_pruning_unknown_key_lists_valid_keys():
    with pytest.raises(ConfigError) as err:
        PruningConfig.from_options("easy", {"keep": 0.5, "keep_ratio": 0.5})
    msg = str(err.value)
    assert msg.startswith("--data_pruning_conf")
    assert "unknown key(s) keep;" in msg
    assert "keep_ratio" in msg and "warmup_epochs" in msg and "text_bins" in msg
    with pytest.raises(ConfigError, match="unknown key.*strategy"):
        PruningConfig.from_options("easy", {"strategy": "hard"})


def test_pruning_conf_must_be_mapping():
    with pytest.raises(ConfigError, match="--data_pruning_conf: must be a mapping"):
        PruningConfig.from_options("easy", ["keep_ratio=0.5"])  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "strategy, conf, key",
    [
        ("easy", {"prune_prob": 0.3}, "prune_prob"),
        ("easy2hard", {"prune_prob": 0.3}, "prune_prob"),
        ("easy", {"schedule": "cosine"}, "schedule"),
        ("random", {"schedule": "step", "schedule_steps": 3}, "schedule"),
        ("infobatch", {"schedule_steps": 3}, "schedule_steps"),
        ("easy2hard", {"schedule_steps": 3}, "schedule_steps"),
        ("easy2hard", {"schedule": "cosine", "schedule_steps": 3}, "schedule_steps"),
    ],
)
def test_pruning_contradictions(strategy, conf, key):
    with pytest.raises(ConfigError) as err:
        PruningConfig.from_options(strategy, conf)
    msg = str(err.value)
    assert msg.startswith(f"--data_pruning_conf {key}=")
    assert "contradicts" in msg


def test_pruning_consistent_combinations_accepted():
    PruningConfig.from_options("infobatch", {"prune_prob": 0.3, "anneal_epochs": 2})
    cfg = PruningConfig.from_options("easy2hard", {"schedule": "step", "schedule_steps": 3})
    assert cfg.schedule_steps == 3
    assert PruningConfig.from_options("easy", {"ctc_weight": 0.3}).ctc_weight == 0.3
    # One YAML for every strategy; the glue fills ctc_weight from the model whatever the score.
    PruningConfig.from_options("infobatch", {"keep_ratio": 0.7})
    PruningConfig.from_options("easy", {"score": "ctc", "ctc_weight": 0.3})


def test_strategy_none_ignores_strategy_specific_keys():
    # A YAML may keep its --data_pruning_conf while the command line switches pruning off.
    cfg = PruningConfig.from_options("none", {"prune_prob": 0.3, "schedule": "cosine"})
    assert cfg.strategy == "none"


def test_check_epochs():
    cfg = PruningConfig.from_options("easy2hard", {"warmup_epochs": 2, "anneal_epochs": 1})
    cfg.check_epochs(4)
    with pytest.raises(ConfigError) as err:
        cfg.check_epochs(3)
    msg = str(err.value)
    assert "warmup_epochs=2" in msg and "anneal_epochs=1" in msg and "--max_epoch=3" in msg
    PruningConfig(strategy="none", warmup_epochs=5).check_epochs(1)
    with pytest.raises(ConfigError, match="--max_epoch=0"):
        cfg.check_epochs(0)


def test_with_model_ctc_weight():
    cfg = PruningConfig(strategy="easy")
    assert cfg.with_model_ctc_weight(0.3).ctc_weight == 0.3
    fixed = PruningConfig(strategy="easy", ctc_weight=0.5)
    assert fixed.with_model_ctc_weight(0.3).ctc_weight == 0.5


def test_time_drop_defaults():
    cfg = TimeDropConfig.from_options("chunk", None)
    assert cfg.drop_ratio == 0.3 and cfg.fs == 16000
    assert TimeDropConfig.from_options("point", {"drop_ratio": 0}).drop_ratio == 0.0


@pytest.mark.parametrize(
    "mode, conf, expected",
    [
        ("chunks", {}, "--time_drop='chunks': must be one of none, chunk, point"),
        ("chunk", {"drop_ratio": 1.0}, "--time_drop_conf drop_ratio=1.0: must be in [0, 1)"),
        ("chunk", {"drop_ratio": -0.1}, "--time_drop_conf drop_ratio=-0.1"),
        ("chunk", {"drop_ratio": "0.3"}, "--time_drop_conf drop_ratio='0.3': must be a number"),
        ("chunk", {"chunk_ms": 0}, "--time_drop_conf chunk_ms=0.0: must be > 0"),
        ("chunk", {"chunk_ms": -5}, "--time_drop_conf chunk_ms=-5.0"),
        ("chunk", {"num_chunks": 0}, "--time_drop_conf num_chunks=0: must be >= 1"),
        ("chunk", {"num_chunks": 2.5}, "--time_drop_conf num_chunks=2.5: must be an integer"),
        ("chunk", {"min_keep_ms": -1}, "--time_drop_conf min_keep_ms=-1.0: must be >= 0"),
        ("chunk", {"prob": 0}, "--time_drop_conf prob=0.0: must be in (0, 1]"),
        ("chunk", {"prob": 1.5}, "--time_drop_conf prob=1.5"),
        ("chunk", {"warmup_epochs": -1}, "--time_drop_conf warmup_epochs=-1"),
        ("chunk", {"anneal_epochs": -1}, "--time_drop_conf anneal_epochs=-1"),
        ("chunk", {"fs": 0}, "--time_drop_conf fs=0"),
        ("chunk", {"fs": 16000.0}, "--time_drop_conf fs=16000.0"),
        ("chunk", {"seed": -3}, "--time_drop_conf seed=-3"),
        ("chunk", {"ratio": 0.3}, "--time_drop_conf: unknown key(s) ratio; valid keys: drop_ratio"),
    ],
)
def test_time_drop_invalid_values(mode, conf, expected):
    with pytest.raises(ConfigError) as err:
        TimeDropConfig.from_options(mode, conf)
    assert expected in str(err.value)


@pytest.mark.parametrize(
    "mode, conf, key",
    [
        ("chunk", {"chunk_ms": 20, "num_chunks": 10}, "chunk_ms"),
        ("point", {"chunk_ms": 20}, "chunk_ms"),
        ("point", {"num_chunks": 10}, "num_chunks"),
    ],
)
def test_time_drop_contradictions(mode, conf, key):
    with pytest.raises(ConfigError) as err:
        TimeDropConfig.from_options(mode, conf)
    msg = str(err.value)
    assert msg.startswith(f"--time_drop_conf {key}=") and "contradicts" in msg


def test_effective_chunk_ms():
    assert TimeDropConfig.DEFAULT_CHUNK_MS == 20.0
    assert TimeDropConfig(mode="chunk").effective_chunk_ms == 20.0
    assert TimeDropConfig(mode="chunk", chunk_ms=10).effective_chunk_ms == 10.0
    assert TimeDropConfig(mode="chunk", num_chunks=10).effective_chunk_ms is None
    assert TimeDropConfig(mode="point").effective_chunk_ms is None
    assert TimeDropConfig(mode="none").effective_chunk_ms is None


def test_default_chunk_rationale_is_documented():
    doc = TimeDropConfig.__doc__
    assert "20 ms" in doc and "150 ms" in doc and "DESIGN.md section 5" in doc


def test_drop_ratio_at():
    cfg = TimeDropConfig(mode="chunk", drop_ratio=0.3, warmup_epochs=2, anneal_epochs=1)
    assert [cfg.drop_ratio_at(e, 6) for e in range(1, 7)] == [0.0, 0.0, 0.3, 0.3, 0.3, 0.0]
    assert TimeDropConfig(mode="none").drop_ratio_at(3, 6) == 0.0
    assert TimeDropConfig(mode="point").drop_ratio_at(1, 6) == 0.3


def test_time_drop_check_epochs():
    cfg = TimeDropConfig(mode="chunk", warmup_epochs=1, anneal_epochs=1)
    cfg.check_epochs(3)
    with pytest.raises(ConfigError, match="--max_epoch=2"):
        cfg.check_epochs(2)
