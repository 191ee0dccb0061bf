"""A resumed run must continue with the settings it started with.

Pruning, time dropping and the fitted schedule each carry state from one epoch to the next (the
scores, the schedule's phase, the seeds of the draws, the learning rate's shape): a resume with
other settings would make a run that is neither the old configuration nor the new one, and
ESPnet's ``config.yaml``, rewritten at every start, would describe the whole run by the new
settings. Responsible for comparing the plugin's settings of this start with those in the
``config.yaml`` of the start that wrote ``checkpoint.pth``, before ESPnet rewrites it, and for
refusing a change with an error that names each changed setting. Not responsible for ESPnet's
own options (a longer ``--max_epoch`` is how ESPnet users extend a run, and stays allowed).
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path
from typing import Any

import yaml

from espnet_ddp.core.errors import ConfigError
from espnet_ddp.espnet.options import PluginOptions, plugin_options_from_args

# settings a fresh start may derive from the run (they are checked through what they give)
_IGNORED = {"fs", "hop_length", "block_frames"}


def _flat(options: PluginOptions) -> dict[str, Any]:
    out = {}
    for part, option in (("pruning", "--data_pruning_conf"), ("time_drop", "--time_drop_conf"),
                         ("lr_fit", "--lr_fit_conf")):  # fmt: skip
        for key, value in dataclasses.asdict(getattr(options, part)).items():
            if key in _IGNORED:
                continue
            name = {"strategy": "--data_pruning", "mode": "--time_drop", "decay": "--lr_fit"}.get(
                key, f"{option} {key}")
            out[name] = value
    return out


def changed_settings(before: PluginOptions, now: PluginOptions) -> list[str]:
    """``--x_conf key: old -> new`` for every plugin setting that differs.

    >>> from espnet_ddp.core.config import PruningConfig, TimeDropConfig
    >>> a = PluginOptions(PruningConfig.from_options("infobatch", {}), TimeDropConfig())
    >>> b = PluginOptions(PruningConfig.from_options("easy2hard", {"keep_ratio": 0.5}),
    ...                   TimeDropConfig())
    >>> changed_settings(a, b)
    ["--data_pruning: 'infobatch' -> 'easy2hard'", '--data_pruning_conf keep_ratio: 0.7 -> 0.5']
    """
    old, new = _flat(before), _flat(now)
    return [f"{k}: {old.get(k)!r} -> {new.get(k)!r}" for k in old if old.get(k) != new.get(k)]


def check_resume_settings(args: argparse.Namespace) -> None:
    """Raise :class:`ConfigError` when ``--resume true`` continues a run whose ``config.yaml``
    has other plugin settings than ``args`` (nothing to check without a checkpoint)."""
    if not getattr(args, "resume", False) or getattr(args, "output_dir", None) is None:
        return
    out = Path(args.output_dir)
    if not (out / "checkpoint.pth").exists() or not (out / "config.yaml").is_file():
        return
    try:
        saved = yaml.safe_load((out / "config.yaml").read_text(encoding="utf-8")) or {}
        previous = argparse.Namespace(**{**vars(args), **saved})
        before = plugin_options_from_args(previous)
    except (yaml.YAMLError, ConfigError, TypeError) as err:
        raise ConfigError(
            f"--resume true: {out / 'config.yaml'} (the settings the run started with) cannot "
            f"be read back ({err}); resume with that file intact, or start a new --output_dir"
        ) from None
    changes = changed_settings(before, plugin_options_from_args(args))
    if changes:
        raise ConfigError(
            f"--resume true: {out} was trained with other espnet_ddp settings than this start "
            f"({'; '.join(changes)}). Resume with the settings in {out / 'config.yaml'}, or "
            "train the new settings in a new --output_dir"
        )
