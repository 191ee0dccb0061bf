"""Command-line / YAML options of the plugin, in ESPnet's ``--name`` / ``--name_conf`` style."""

from __future__ import annotations

import argparse
from dataclasses import dataclass

from espnet2.utils.nested_dict_action import NestedDictAction

from espnet_ddp.core.config import DROP_MODES, STRATEGIES, PruningConfig, TimeDropConfig
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


@dataclass(frozen=True)
class PluginOptions:
    """The validated plugin settings of one training run."""

    pruning: PruningConfig
    time_drop: TimeDropConfig

    @property
    def active(self) -> bool:
        return self.pruning.strategy != "none" or self.time_drop.mode != "none"


def plugin_options_from_args(args: argparse.Namespace) -> PluginOptions:
    """Build and validate the plugin settings; raises ConfigError naming the bad option."""
    model_conf = getattr(args, "model_conf", None) or {}
    pruning = PruningConfig.from_options(args.data_pruning, args.data_pruning_conf)
    pruning = pruning.with_model_ctc_weight(float(model_conf.get("ctc_weight", 0.5)))
    pruning.check_epochs(args.max_epoch)

    drop_conf = dict(args.time_drop_conf or {})
    drop_conf.setdefault("fs", frontend_sample_rate(args))
    if args.time_drop == "frames":
        rule = MinKeepRule.from_args(args)
        drop_conf.setdefault("hop_length", rule.hop_length)
        drop_conf.setdefault("block_frames", rule.subsampling)  # one encoder frame
    time_drop = TimeDropConfig.from_options(args.time_drop, drop_conf)
    time_drop.check_epochs(args.max_epoch)
    return PluginOptions(pruning=pruning, time_drop=time_drop)


def frontend_sample_rate(args: argparse.Namespace) -> int:
    """The waveform sampling rate the model expects (ESPnet's ``frontend_conf.fs``)."""
    fs = (getattr(args, "frontend_conf", None) or {}).get("fs", 16000)
    if isinstance(fs, str):
        import humanfriendly

        fs = humanfriendly.parse_size(fs)
    return int(fs)
