"""Type and range checks shared by the config dataclasses.

Each check takes the option prefix (``"--data_pruning_conf"``), the key and the value, and either
returns the value normalised (ints accepted for float fields become floats) or raises
:class:`ConfigError` naming ``PREFIX KEY=VALUE``. ``bool`` is never accepted as a number, although
it is a subclass of ``int`` in Python: ``keep_ratio: true`` in a YAML file is a mistake.
"""

import math
import numbers
from collections.abc import Sequence
from typing import Any

from espnet_ddp.core.errors import ConfigError


def fail(prefix: str, key: str, value: Any, why: str) -> ConfigError:
    """Build (not raise) the error ``PREFIX KEY=VALUE: WHY``; callers write ``raise fail(...)``."""
    return ConfigError(f"{prefix} {key}={value!r}: {why}")


def _is_bool(value: Any) -> bool:
    return isinstance(value, bool) or type(value).__name__ == "bool_"


def as_float(prefix: str, key: str, value: Any) -> float:
    """A finite real number (int or float, not bool), returned as ``float``."""
    if _is_bool(value) or not isinstance(value, numbers.Real):
        raise fail(prefix, key, value, f"must be a number, got {type(value).__name__}")
    value = float(value)
    if not math.isfinite(value):
        raise fail(prefix, key, value, "must be finite")
    return value


def as_int(prefix: str, key: str, value: Any) -> int:
    """An integer (not bool, not float even when integral), returned as ``int``."""
    if _is_bool(value) or not isinstance(value, numbers.Integral):
        raise fail(prefix, key, value, f"must be an integer, got {type(value).__name__}")
    return int(value)


def as_bool(prefix: str, key: str, value: Any) -> bool:
    """A boolean (``true``/``false`` in YAML); numbers and strings are refused."""
    if not _is_bool(value):
        raise fail(prefix, key, value, f"must be true or false, got {type(value).__name__}")
    return bool(value)


def as_choice(prefix: str, key: str, value: Any, choices: Sequence[str]) -> str:
    """One of ``choices``."""
    if not isinstance(value, str) or value not in choices:
        raise fail(prefix, key, value, f"must be one of {', '.join(choices)}")
    return value


def check_range(
    prefix: str,
    key: str,
    value: float,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
) -> None:
    """Raise unless ``value`` lies in the interval; the message spells the interval out."""
    ok = True
    if low is not None:
        ok = ok and (value > low if low_open else value >= low)
    if high is not None:
        ok = ok and (value < high if high_open else value <= high)
    if ok:
        return
    if low is not None and high is not None:
        interval = f"{'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
        raise fail(prefix, key, value, f"must be in {interval}")
    if low is not None:
        raise fail(prefix, key, value, f"must be {'>' if low_open else '>='} {low:g}")
    raise fail(prefix, key, value, f"must be {'<' if high_open else '<='} {high:g}")
