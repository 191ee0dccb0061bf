"""Parses the durations ESPnet writes with ``humanfriendly.format_timespan``."""

from __future__ import annotations

import re

_UNITS = {
    "nanosecond": 1e-9,
    "microsecond": 1e-6,
    "millisecond": 1e-3,
    "second": 1.0,
    "minute": 60.0,
    "hour": 3600.0,
    "day": 86400.0,
    "week": 604800.0,
    "year": 31536000.0,
}
_PART = re.compile(r"([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*([a-z]+?)s?\b")


def parse_timespan(text: str) -> float:
    """Returns seconds for text such as ``"1 hour, 2 minutes and 3.5 seconds"``.

    >>> parse_timespan("1 minute and 1.5 seconds")
    61.5

    Raises ``ValueError`` when no ``<number> <unit>`` part is found or a unit is unknown.
    """
    parts = _PART.findall(text.strip().lower())
    if not parts:
        raise ValueError(f"not a timespan: {text!r}")
    total = 0.0
    for number, unit in parts:
        if unit not in _UNITS:
            raise ValueError(f"unknown time unit {unit!r} in {text!r}")
        total += float(number) * _UNITS[unit]
    return total
