"""The budget frontier: how good full data gets, with a fitted schedule, for each amount of audio.

A speed-up method must beat full data trained for the same compute with a learning rate that
decays to zero within it (DESIGN.md section 7). The *curve* is built from the end points of the
fitted-schedule full-data runs: one point per configuration (its seeds averaged: mean audio fed,
mean value), sorted by audio, made monotone as the running-best envelope (the best value of any
configuration with at most that much audio), and interpolated piecewise-linearly in audio.

The *frontier ratio* of another run is the audio the curve needs to reach the run's value, divided
by the audio the run fed: above 1, the run beat simply training full data for less. Values
outside the curve's range (worse than its cheapest point, or better than its best) are "not
bracketed" (None): the curve never extrapolates.

Responsible for the arithmetic on (audio, value) pairs. Not responsible for reading experiments
(:mod:`espnet_ddp.report.table` picks the runs) or drawing (:mod:`espnet_ddp.report.plots`).

>>> curve = build_curve("valid acc", [("b0.5", 10.0, 0.75), ("b1.0", 20.0, 0.875)], True)
>>> curve.audio_to_reach(0.8125), curve.ratio(0.8125, audio_hours=12.5)
(15.0, 1.2)
>>> curve.ratio(0.95, audio_hours=12.5) is None   # better than the best budget: not bracketed
True
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from statistics import mean


@dataclass(frozen=True)
class CurvePoint:
    """One fitted-schedule full-data configuration on the curve."""

    label: str
    audio_hours: float  # mean over its seeds
    value: float  # mean over its seeds
    seeds: int
    envelope: float  # running best up to this point (what the curve interpolates)


@dataclass(frozen=True)
class Curve:
    """The running-best envelope of the budget points of one metric, sorted by audio."""

    metric: str
    higher_is_better: bool
    points: tuple[CurvePoint, ...]

    def _better_or_equal(self, a: float, b: float) -> bool:
        return a >= b if self.higher_is_better else a <= b

    def audio_to_reach(self, value: float) -> float | None:
        """Audio (hours) at which the curve first reaches ``value``; None: not bracketed."""
        points = self.points
        if self.outside(value) is not None:
            return None
        if self._better_or_equal(points[0].envelope, value):
            return points[0].audio_hours
        for lo, hi in zip(points, points[1:]):
            if self._better_or_equal(hi.envelope, value):
                share = (value - lo.envelope) / (hi.envelope - lo.envelope)
                return lo.audio_hours + share * (hi.audio_hours - lo.audio_hours)
        return None  # unreachable: the last envelope value reaches ``value``

    def outside(self, value: float) -> str | None:
        """``below`` (worse than the cheapest point), ``above`` (better than every point), or
        None when the curve brackets ``value``."""
        if not self.points:
            return "below"
        if not self._better_or_equal(value, self.points[0].envelope):
            return "below"
        if not self._better_or_equal(self.points[-1].envelope, value):
            return "above"
        return None

    def ratio(self, value: float | None, audio_hours: float | None) -> float | None:
        """The frontier ratio of a run with ``value`` after ``audio_hours``; None: not bracketed."""
        if value is None or not audio_hours:
            return None
        needed = self.audio_to_reach(value)
        return None if needed is None else needed / audio_hours


def build_curve(
    metric: str, samples: Iterable[tuple[str, float, float]], higher_is_better: bool
) -> Curve:
    """The curve from ``(configuration label, audio hours, value)`` samples, one per seed.

    Samples with the same label are seeds of one configuration and are averaged; a
    configuration with more audio but a worse mean than a cheaper one leaves the envelope flat.

    >>> c = build_curve("WER", [("a", 5, 30.0), ("b", 10, 20.0), ("b", 10, 22.0), ("c", 15, 25.0)],
    ...                 higher_is_better=False)
    >>> [(p.label, p.value, p.envelope, p.seeds) for p in c.points]
    [('a', 30.0, 30.0, 1), ('b', 21.0, 21.0, 2), ('c', 25.0, 21.0, 1)]
    """
    groups: dict[str, list[tuple[float, float]]] = {}
    for label, audio, value in samples:
        groups.setdefault(label, []).append((float(audio), float(value)))
    means = sorted(
        (mean(a for a, _ in pairs), mean(v for _, v in pairs), label, len(pairs))
        for label, pairs in groups.items()
    )
    points: list[CurvePoint] = []
    best: float | None = None
    for audio, value, label, seeds in means:
        if best is None or (value > best if higher_is_better else value < best):
            best = value
        points.append(CurvePoint(label, audio, value, seeds, best))
    return Curve(metric, higher_is_better, tuple(points))
