"""Names the training strategy of an experiment from its ``config.yaml``.

Responsible for a short, stable label such as ``easy2hard + chunk drop`` and the settings behind
it. A stock ESPnet config (no plugin keys) is strategy ``none``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

NONE = "none"


@dataclass(frozen=True)
class Strategy:
    """Pruning and time-dropping choices with their ``*_conf`` settings."""

    data_pruning: str = NONE
    data_pruning_conf: dict[str, Any] = field(default_factory=dict)
    time_drop: str = NONE
    time_drop_conf: dict[str, Any] = field(default_factory=dict)
    lr_fit: str = NONE
    scheduler: str | None = None

    @property
    def full_data(self) -> bool:
        """Neither pruning nor dropping: every utterance, full length, every epoch."""
        return self.label == NONE

    @property
    def lr_schedule(self) -> str:
        """``fitted linear`` under ``--lr_fit``, else the ESPnet scheduler's name (or ``none``)."""
        if self.lr_fit not in (NONE, ""):
            return f"fitted {self.lr_fit}"
        return self.scheduler or NONE

    @property
    def label(self) -> str:
        """Short name such as ``easy2hard + chunk drop`` (``none`` when neither is active)."""
        parts = []
        if self.data_pruning not in (NONE, ""):
            parts.append(self.data_pruning)
        if self.time_drop not in (NONE, ""):
            parts.append(f"{self.time_drop} drop")
        return " + ".join(parts) if parts else NONE

    @property
    def settings(self) -> str:
        """``easy2hard: keep_ratio=0.7; chunk: drop_ratio=0.3`` ("" when nothing is active)."""
        out = []
        if self.data_pruning not in (NONE, "") and self.data_pruning_conf:
            out.append(f"{self.data_pruning}: {_format_conf(self.data_pruning_conf)}")
        if self.time_drop not in (NONE, "") and self.time_drop_conf:
            out.append(f"{self.time_drop}: {_format_conf(self.time_drop_conf)}")
        return "; ".join(out)


def _format_conf(conf: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(conf.items()))


def _conf(value: Any) -> dict[str, Any]:
    return dict(value) if isinstance(value, dict) else {}


def strategy_from_config(config: dict[str, Any]) -> Strategy:
    """Reads ``data_pruning``/``time_drop``, their ``*_conf`` keys, ``lr_fit`` and ``scheduler``
    (absent -> ``none``)."""
    return Strategy(
        data_pruning=str(config.get("data_pruning") or NONE),
        data_pruning_conf=_conf(config.get("data_pruning_conf")),
        time_drop=str(config.get("time_drop") or NONE),
        time_drop_conf=_conf(config.get("time_drop_conf")),
        lr_fit=str(config.get("lr_fit") or NONE),
        scheduler=None if config.get("scheduler") is None else str(config["scheduler"]),
    )
