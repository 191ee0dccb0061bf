"""What one benchmark run changes: the plugin's options, its epochs and its LR schedule.

Responsible for :class:`Variant` (the plugin's five options as in a training YAML, epochs as a
budget share, shares of epochs resolved per run), the command-line options it gives, checking it
with the very function the training entry point runs (before anything starts), and choosing
variants by name (``--only``/``--skip``). Not responsible for which variants a mode runs (the
lists are in :mod:`gpu.quick`, :mod:`gpu.sweep` and :mod:`gpu.full`) nor for launching them.

Every pruned or dropped run on ESPnet's own schedule gets ``lr_trajectory=epoch`` (its step-based
schedule advances per epoch as on full data, so a comparison at matched epochs is not skewed by a
lower learning rate); a run on the fitted schedule (``lr_fit``) never does: the pair is refused.

>>> budget = Variant("budget0.3", "full data, 0.3 of the epochs", lr_fit="linear", budget=0.3)
>>> budget.epochs(24), budget.args(24)
(7, ['--data_pruning', 'none', '--time_drop', 'none', '--lr_fit', 'linear'])
>>> Variant("e2h70", "easy2hard 0.7", ("easy2hard", {"keep_ratio": 0.7})).args(24)[2:]
['--data_pruning_conf', 'keep_ratio=0.7', '--data_pruning_conf', 'lr_trajectory=epoch', \
'--time_drop', 'none']
"""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

from espnet_ddp.core.errors import ConfigError
from espnet_ddp.tools.budget_config import budget_epochs

LR = {"lr_trajectory": "epoch"}


@dataclasses.dataclass(frozen=True)
class Share:
    """A number of epochs given as a share of the run's epochs (at least 1, rounded half up)."""

    fraction: float

    def epochs(self, max_epoch: int) -> int:
        """``fraction`` x ``max_epoch``, rounded half up, at least 1.

        >>> Share(1 / 4).epochs(24), Share(1 / 6).epochs(24), Share(1 / 6).epochs(3)
        (6, 4, 1)
        """
        return max(1, int(self.fraction * max_epoch + 0.5))


@dataclasses.dataclass(frozen=True)
class Variant:
    """One run: the plugin's options, as in a training YAML, and its share of the epochs."""

    name: str
    label: str
    data_pruning: tuple[str, Mapping[str, Any]] = ("none", {})
    time_drop: tuple[str, Mapping[str, Any]] = ("none", {})
    lr_fit: str = "none"  # none: the config's scheduler (warmuplr); linear | cosine | wsd: fitted
    budget: float | None = None  # share of the plan's epochs (budget_config's rounding)
    lr_fit_conf: tuple[tuple[str, Any], ...] = ()  # --lr_fit_conf key=value pairs

    @property
    def is_full_data(self) -> bool:
        return self.data_pruning[0] == "none" and self.time_drop[0] == "none"

    def epochs(self, max_epoch: int) -> int:
        """This run's ``--max_epoch`` when the plan trains ``max_epoch``."""
        return max_epoch if self.budget is None else budget_epochs(max_epoch, self.budget)

    def options(self, max_epoch: int) -> dict[str, Any]:
        """``data_pruning(_conf)``, ``time_drop(_conf)`` with shares of this run's epochs
        resolved, and ``lr_fit``; ``lr_trajectory=epoch`` added as the module says."""
        epochs = self.epochs(max_epoch)

        def resolve(conf: Mapping[str, Any]) -> dict[str, Any]:
            return {k: v.epochs(epochs) if isinstance(v, Share) else v for k, v in conf.items()}

        pruning_conf = resolve(self.data_pruning[1])
        if not self.is_full_data and self.lr_fit == "none":
            pruning_conf = {**pruning_conf, **LR}
        return {
            "data_pruning": self.data_pruning[0],
            "data_pruning_conf": pruning_conf,
            "time_drop": self.time_drop[0],
            "time_drop_conf": resolve(self.time_drop[1]),
            "lr_fit": self.lr_fit,
        }

    def args(self, max_epoch: int) -> list[str]:
        """Command-line options: one ``--x_conf key=value`` per key (ESPnet's NestedDictAction);
        ``--lr_fit`` only when fitted, so a run on ESPnet's schedule has the options it always had.
        """
        opts = self.options(max_epoch)
        out = []
        for option in ("data_pruning", "time_drop"):
            out += [f"--{option}", opts[option]]
            for key, value in opts[f"{option}_conf"].items():
                out += [f"--{option}_conf", f"{key}={_yaml(value)}"]
        if opts["lr_fit"] != "none":
            out += ["--lr_fit", opts["lr_fit"]]
        for key, value in self.lr_fit_conf:
            out += ["--lr_fit_conf", f"{key}={_yaml(value)}"]
        return out

    def check(self, max_epoch: int, config: Mapping[str, Any]) -> None:
        """Raise :class:`ConfigError` naming the variant if training would refuse it.

        ``config`` is the parsed training YAML (``Plan.config()``); the check is the training
        entry point's own, :func:`espnet_ddp.espnet.options.plugin_options_from_args`.
        """
        from espnet_ddp.espnet.options import plugin_options_from_args

        options = {**self.options(max_epoch), "max_epoch": self.epochs(max_epoch)}
        args = argparse.Namespace(**{**config, "lr_fit_conf": dict(self.lr_fit_conf), **options})
        try:
            plugin_options_from_args(args)
        except ConfigError as err:
            raise ConfigError(f"variant {self.name}: {err}") from None


def _yaml(value: Any) -> str:
    """A value as NestedDictAction reads it back (YAML): ``true``, ``0.3``, ``[0.3,0.5]``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return "[" + ",".join(_yaml(v) for v in value) + "]"
    return str(value)


def select(
    variants: Sequence[Variant], names: Sequence[str] | None, skip: Sequence[str] | None
) -> list[Variant]:
    """The variants to run: the first (the reference) always, first; unknown names are an error.

    >>> vs = [Variant("full", "f"), Variant("a", "a"), Variant("b", "b")]
    >>> [v.name for v in select(vs, ["b"], None)], [v.name for v in select(vs, None, ["a"])]
    (['full', 'b'], ['full', 'b'])
    """
    known = [v.name for v in variants]
    unknown = sorted((set(names or []) | set(skip or [])) - set(known))
    if unknown:
        raise ConfigError(f"--only/--skip: unknown variant(s) {', '.join(unknown)}; "
                          f"known: {', '.join(sorted(known))}")  # fmt: skip
    reference, *others = variants
    chosen = [v for v in others if (not names or v.name in names) and v.name not in (skip or [])]
    return [reference, *chosen]


def check_all(variants: Sequence[Variant], max_epoch: int, config: Mapping[str, Any]) -> None:
    """Check every variant before anything runs; one error listing all that cannot run."""
    problems = []
    for variant in variants:
        try:
            variant.check(max_epoch, config)
        except ConfigError as err:
            problems.append((variant.name, str(err)))
    if problems:
        raise ConfigError(
            "this checkout of espnet_ddp cannot run:\n  "
            + "\n  ".join(text for _, text in problems)
            + f"\n(run the others with --skip {' '.join(name for name, _ in problems)})"
        )


def dry_listing(variants: Sequence[Variant], max_epoch: int) -> dict[str, dict[str, Any]]:
    """Name -> label, epochs and options of each variant (the modes' ``--dry`` output)."""
    return {
        v.name: {"label": v.label, "epochs": v.epochs(max_epoch), "args": v.args(max_epoch)}
        for v in variants
    }
