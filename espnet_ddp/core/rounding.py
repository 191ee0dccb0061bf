"""Rounding used wherever a count is derived from a ratio, so every module rounds the same way."""

import math

# Absorbs float error in products such as 0.35 * 10 == 3.4999999999999996.
_EPS = 1e-9


def round_half_up(x: float) -> int:
    """``floor(x + 0.5)``: 2.5 -> 3, 3.5 -> 4 (unlike Python's half-to-even ``round``)."""
    return math.floor(x + 0.5 + _EPS)


def floor_tolerant(x: float) -> int:
    """``floor(x)``, but a value a rounding error below an integer counts as that integer."""
    return math.floor(x + _EPS)
