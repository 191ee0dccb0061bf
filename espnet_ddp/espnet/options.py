"""Command-line / YAML options of the plugin, in ESPnet's ``--name`` / ``--name_conf`` style."""

from __future__ import annotations

import argparse
from dataclasses import dataclass

from espnet2.utils.nested_dict_action import NestedDictAction

from espnet_ddp.core.config import (
    DROP_MODES,
    PRUNING_CONF,
    STRATEGIES,
    PruningConfig,
    TimeDropConfig,
)
from espnet_ddp.core.errors import ConfigError
from espnet_ddp.core.lr_fit import LR_FIT_CONF, LR_FIT_DECAYS, LR_FIT_OPTION, LRFitConfig
from espnet_ddp.espnet.min_length import MinKeepRule


def add_plugin_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``--data_pruning(_conf)`` and ``--time_drop(_conf)`` to an ESPnet task parser."""
    group = parser.add_argument_group("Dynamic data pruning (espnet_ddp)")
    group.add_argument(
        "--data_pruning",
        type=str,
        default="none",
        choices=list(STRATEGIES),
        help="Instance-wise pruning strategy applied to the training set every epoch",
    )
    group.add_argument(
        "--data_pruning_conf",
        action=NestedDictAction,
        default=dict(),
        help="Options of --data_pruning, e.g. keep_ratio=0.7 warmup_epochs=1 (see PruningConfig)",
    )
    group.add_argument(
        "--time_drop",
        type=str,
        default="none",
        choices=list(DROP_MODES),
        help="Time-wise dropping of training waveforms",
    )
    group.add_argument(
        "--time_drop_conf",
        action=NestedDictAction,
        default=dict(),
        help="Options of --time_drop, e.g. drop_ratio=0.3 chunk_ms=20 (see TimeDropConfig)",
    )
    group.add_argument(
        "--lr_fit",
        type=str,
        default="none",
        choices=list(LR_FIT_DECAYS),
        help="Replace --scheduler by the fitted schedule: the baseline's warm-up in optimizer "
        "steps, then this decay to zero at the run's last optimizer step",
    )
    group.add_argument(
        "--lr_fit_conf",
        action=NestedDictAction,
        default=dict(),
        help="Options of --lr_fit: warmup_steps=N (default: --scheduler_conf's warmup_steps)",
    )


@dataclass(frozen=True)
class PluginOptions:
    """The validated plugin settings of one training run."""

    pruning: PruningConfig
    time_drop: TimeDropConfig
    lr_fit: LRFitConfig = LRFitConfig()

    @property
    def active(self) -> bool:
        """Whether the run prunes or drops (the fitted schedule alone changes no data)."""
        return self.pruning.strategy != "none" or self.time_drop.mode != "none"


def plugin_options_from_args(args: argparse.Namespace) -> PluginOptions:
    """Build and validate the plugin settings; raises ConfigError naming the bad option."""
    model_conf = getattr(args, "model_conf", None) or {}
    pruning_conf, drop_conf = seeded_confs(args)
    pruning = PruningConfig.from_options(args.data_pruning, pruning_conf)
    pruning = pruning.with_model_ctc_weight(float(model_conf.get("ctc_weight", 0.5)))
    pruning.check_epochs(args.max_epoch)

    drop_conf.setdefault("fs", frontend_sample_rate(args))
    if args.time_drop == "frames":
        rule = MinKeepRule.from_args(args)
        drop_conf.setdefault("hop_length", rule.hop_length)
        drop_conf.setdefault("block_frames", rule.subsampling)  # one encoder frame
    time_drop = TimeDropConfig.from_options(args.time_drop, drop_conf)
    time_drop.check_epochs(args.max_epoch)
    lr_fit = LRFitConfig.from_options(
        getattr(args, "lr_fit", "none"), getattr(args, "lr_fit_conf", None)
    )
    if lr_fit.active:
        if lr_fit.warmup_steps is None:
            lr_fit = lr_fit.with_warmup_steps(baseline_warmup_steps(args))
        if pruning.lr_trajectory == "epoch":
            raise ConfigError(
                f"{PRUNING_CONF} lr_trajectory='epoch' contradicts {LR_FIT_OPTION}="
                f"{lr_fit.decay}: the fitted schedule already follows training progress "
                f"(drop lr_trajectory)"
            )
    return PluginOptions(pruning=pruning, time_drop=time_drop, lr_fit=lr_fit)


def seeded_confs(args: argparse.Namespace) -> tuple[dict, dict]:
    """Copies of ``--data_pruning_conf`` and ``--time_drop_conf`` whose ``seed`` defaults to
    ESPnet's ``--seed``: every random choice of the plugin (random and InfoBatch selections, time
    dropping) then varies with the run's seed, unless a ``seed`` is set in the ``*_conf``.

    >>> ns = argparse.Namespace(seed=3, data_pruning_conf={"keep_ratio": 0.7},
    ...                         time_drop_conf={"seed": 1})
    >>> seeded_confs(ns)
    ({'keep_ratio': 0.7, 'seed': 3}, {'seed': 1})
    >>> seeded_confs(argparse.Namespace(seed=-1, data_pruning_conf={}, time_drop_conf={}))
    Traceback (most recent call last):
    ...
    espnet_ddp.core.errors.ConfigError: --seed -1: the plugin derives its random choices from \
it and needs an integer >= 0 (or set seed in --data_pruning_conf and --time_drop_conf)
    """
    seed = getattr(args, "seed", 0)
    pruning_conf = dict(getattr(args, "data_pruning_conf", None) or {})
    drop_conf = dict(getattr(args, "time_drop_conf", None) or {})
    if "seed" not in pruning_conf or "seed" not in drop_conf:
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise ConfigError(
                f"--seed {seed!r}: the plugin derives its random choices from it and needs an "
                "integer >= 0 (or set seed in --data_pruning_conf and --time_drop_conf)"
            )
        pruning_conf.setdefault("seed", seed)
        drop_conf.setdefault("seed", seed)
    return pruning_conf, drop_conf


def record_seeds(args: argparse.Namespace) -> None:
    """Write the seeds :func:`seeded_confs` chose into ``args`` (so into ``config.yaml``) for
    the plugin's active options; a run without pruning or dropping keeps its options as given."""
    pruning_conf, drop_conf = seeded_confs(args)
    if getattr(args, "data_pruning", "none") != "none":
        args.data_pruning_conf = pruning_conf
    if getattr(args, "time_drop", "none") != "none":
        args.time_drop_conf = drop_conf


def baseline_warmup_steps(args: argparse.Namespace) -> int:
    """The warm-up, in optimizer steps, of the ``--scheduler`` that ``--lr_fit`` replaces.

    ``--lr_fit_conf warmup_steps`` wins; otherwise ``--scheduler_conf``'s ``warmup_steps`` (or
    that scheduler's default) for schedulers that take one (``warmuplr``, ``warmupsteplr``,
    ``noamlr``, ...), and 0 without a scheduler. Any other scheduler is refused: its warm-up,
    if any, cannot be read off.
    """
    name = getattr(args, "scheduler", None)
    if name is None:
        return 0
    conf = getattr(args, "scheduler_conf", None) or {}
    if "warmup_steps" in conf:
        steps = conf["warmup_steps"]
        if isinstance(steps, bool) or not isinstance(steps, int) or steps < 0:
            raise ConfigError(
                f"--scheduler_conf warmup_steps={steps!r}: {LR_FIT_OPTION} needs an integer >= 0"
            )
        return steps
    from espnet2.tasks.abs_task import scheduler_classes

    default = _warmup_default(scheduler_classes.get(name))
    if default is None:
        raise ConfigError(
            f"{LR_FIT_OPTION} replaces --scheduler {name}, which has no warmup_steps: give the "
            f"warm-up as {LR_FIT_CONF} warmup_steps=N (0 for none)"
        )
    return default


def _warmup_default(cls) -> int | None:
    if cls is None:
        return None
    import inspect

    param = inspect.signature(cls.__init__).parameters.get("warmup_steps")
    if param is None or not isinstance(param.default, int):
        return None
    return int(param.default)


def frontend_sample_rate(args: argparse.Namespace) -> int:
    """The waveform sampling rate the model expects (ESPnet's ``frontend_conf.fs``)."""
    fs = (getattr(args, "frontend_conf", None) or {}).get("fs", 16000)
    if isinstance(fs, str):
        import humanfriendly

        fs = humanfriendly.parse_size(fs)
    return int(fs)
