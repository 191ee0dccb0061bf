"""Writes the full-data budget baseline of any ESPnet training config.

Given a config and a budget (a share of its ``max_epoch``), writes the config that a pruned run
must beat: full data (no ``data_pruning`` / ``time_drop`` keys), ``max_epoch`` scaled by the budget
and rounded half up, and the fitted learning-rate schedule (``lr_fit``: the config's own warm-up,
then a decay to zero at the run's last optimizer step). Everything else is kept as it is.

Responsible for the YAML transformation only: whether ESPnet and the plugin accept the result is
checked when training starts (``python -m espnet_ddp.bin.asr_train``).

Usage::

    python -m espnet_ddp.tools.budget_config conf/train_asr.yaml 0.7 \\
        --out conf/tuning/train_asr_budget0.7.yaml [--decay linear|cosine]

>>> budget_epochs(25, "0.3"), budget_epochs(75, "0.5"), budget_epochs(30, "0.7")
(8, 38, 21)
"""

from __future__ import annotations

import argparse
import sys
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import yaml

PLUGIN_DATA_KEYS = ("data_pruning", "data_pruning_conf", "time_drop", "time_drop_conf")
DECAYS = ("linear", "cosine")


class BudgetError(ValueError):
    """A config or budget that cannot give a budget baseline; the message names what."""


def budget_epochs(max_epoch: int, budget: str | float) -> int:
    """``max_epoch x budget`` rounded half up in decimal arithmetic (at least 1)."""
    try:
        share = Decimal(str(budget))
    except InvalidOperation as err:
        raise BudgetError(f"budget {budget!r}: not a number") from err
    if not share.is_finite() or not 0 < share <= 1:
        raise BudgetError(f"budget {budget!r}: must be in (0, 1]")
    epochs = int((Decimal(max_epoch) * share).quantize(Decimal(1), rounding=ROUND_HALF_UP))
    return max(epochs, 1)


def budget_config(config: dict[str, Any], budget: str | float, decay: str = "linear") -> dict:
    """The budget baseline of ``config`` (a parsed training YAML), as a new dict."""
    max_epoch = config.get("max_epoch")
    if isinstance(max_epoch, bool) or not isinstance(max_epoch, int) or max_epoch < 1:
        raise BudgetError(f"max_epoch={max_epoch!r}: the config needs an integer max_epoch >= 1")
    if decay not in DECAYS:
        raise BudgetError(f"--decay {decay!r}: must be one of {', '.join(DECAYS)}")
    out = {k: v for k, v in config.items() if k not in PLUGIN_DATA_KEYS}
    out["max_epoch"] = budget_epochs(max_epoch, budget)
    out["lr_fit"] = decay
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m espnet_ddp.tools.budget_config", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("config", type=Path, help="an ESPnet training YAML with max_epoch")
    parser.add_argument("budget", help="share of max_epoch in (0, 1], e.g. 0.7")
    parser.add_argument("--out", type=Path, default=None, help="output YAML (default: stdout)")
    parser.add_argument("--decay", default="linear", choices=DECAYS)
    args = parser.parse_args(argv)
    try:
        config = yaml.safe_load(args.config.read_text(encoding="utf-8"))
        if not isinstance(config, dict):
            raise BudgetError("not a YAML mapping")
        result = budget_config(config, args.budget, args.decay)
    except (OSError, yaml.YAMLError, BudgetError) as err:
        print(f"budget_config: error: {args.config}: {err}", file=sys.stderr)
        return 2
    text = (
        f"# Budget baseline of {args.config}: full data for {result['max_epoch']} of "
        f"{config['max_epoch']} epochs ({args.budget}), fitted LR ({args.decay} decay to 0).\n"
        "# Written by python -m espnet_ddp.tools.budget_config.\n"
        + yaml.safe_dump(result, sort_keys=False, default_flow_style=False)
    )
    if args.out is None:
        sys.stdout.write(text)
    else:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
