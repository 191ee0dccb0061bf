"""The budget frontier: how good full data gets, with a fitted schedule, for each amount of audio.

A speed-up method must beat full data trained for the same compute with a learning rate that
decays to zero within it (DESIGN.md section 7). The *curve* is built from the end points of the
fitted-schedule full-data runs: one point per configuration (its seeds averaged: mean audio fed,
mean value), and it is the curve most favourable to full data that those points allow: the lower
convex hull of the (audio, WER) points (the upper one for accuracy), from the cheapest point to
the best one, interpolated linearly between its vertices. A budget point worse than the line
between its neighbours never adds audio to the curve, and beyond the best point the curve ends.
Each point's ``envelope`` is the curve's value at its audio.

The *frontier ratio* of another run is the audio the curve needs to reach the run's value, divided
by the audio the run fed: above 1, the run beat simply training full data for less. Values
outside the curve's range (worse than its cheapest point, or better than its best) are "not
bracketed" (None): the curve never extrapolates.

Responsible for the arithmetic on (audio, value) pairs. Not responsible for reading experiments
(:mod:`espnet_ddp.report.table` picks the runs) or drawing (:mod:`espnet_ddp.report.plots`).

>>> curve = build_curve("valid acc", [("b0.5", 10.0, 0.75), ("b1.0", 20.0, 0.875)], True)
>>> curve.audio_to_reach(0.8125), curve.ratio(0.8125, audio_hours=12.5)
(15.0, 1.2)
>>> worse = build_curve("WER", [("a", 5, 30.0), ("b", 10, 29.0), ("c", 15, 20.0)], False)
>>> [p.label for p in worse.hull], worse.audio_to_reach(25.0)   # b lies above the line a-c
(['a', 'c'], 10.0)
>>> curve.ratio(0.95, audio_hours=12.5) is None   # better than the best budget: not bracketed
True
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from statistics import mean

WIDE_SPAN = 0.2  # a ratio read across more than this share of the full budget is marked wide


@dataclass(frozen=True)
class CurvePoint:
    """One fitted-schedule full-data configuration on the curve."""

    label: str
    audio_hours: float  # mean over its seeds
    value: float  # mean over its seeds
    seeds: int
    envelope: float  # the curve's value at this audio (what the curve interpolates)
    on_hull: bool = True  # a vertex of the curve; False: the curve passes better than it


@dataclass(frozen=True)
class Curve:
    """The convex frontier of the budget points of one metric (see the module), by audio."""

    metric: str
    higher_is_better: bool
    points: tuple[CurvePoint, ...]

    @property
    def hull(self) -> tuple[CurvePoint, ...]:
        """The curve's vertices, by audio: from the cheapest point to the best."""
        return tuple(p for p in self.points if p.on_hull)

    def _better_or_equal(self, a: float, b: float) -> bool:
        return a >= b if self.higher_is_better else a <= b

    def audio_to_reach(self, value: float) -> float | None:
        """Audio (hours) at which the curve first reaches ``value``; None: not bracketed."""
        if self.outside(value) is not None:
            return None
        hull = self.hull
        if self._better_or_equal(hull[0].value, value):
            return hull[0].audio_hours
        for lo, hi in zip(hull, hull[1:]):
            if self._better_or_equal(hi.value, value):
                share = (value - lo.value) / (hi.value - lo.value)
                return lo.audio_hours + share * (hi.audio_hours - lo.audio_hours)
        return None  # unreachable: the last vertex reaches ``value``

    def span_used(self, value: float) -> float | None:
        """Audio between the two vertices that :meth:`audio_to_reach` interpolates between
        (0 at a vertex; None: not bracketed): a wide span is a guess across unmeasured budgets."""
        if self.outside(value) is not None:
            return None
        hull = self.hull
        if self._better_or_equal(hull[0].value, value):
            return 0.0
        for lo, hi in zip(hull, hull[1:]):
            if self._better_or_equal(hi.value, value):
                return 0.0 if hi.value == value else hi.audio_hours - lo.audio_hours
        return None

    def outside(self, value: float) -> str | None:
        """``below`` (worse than the cheapest point), ``above`` (better than every point), or
        None when the curve brackets ``value``."""
        hull = self.hull
        if not hull:
            return "below"
        if not self._better_or_equal(value, hull[0].value):
            return "below"
        if not self._better_or_equal(hull[-1].value, value):
            return "above"
        return None

    def ratio(self, value: float | None, audio_hours: float | None) -> float | None:
        """The frontier ratio of a run with ``value`` after ``audio_hours``; None: not bracketed."""
        if value is None or not audio_hours:
            return None
        needed = self.audio_to_reach(value)
        return None if needed is None else needed / audio_hours


def _hull(points: list[tuple[float, float]], higher_is_better: bool) -> list[int]:
    """Indices of the convex frontier of ``points`` (sorted by audio): from the first point to
    the best one, the lower hull of (audio, loss) with loss = value, or -value for accuracy."""
    sign = -1.0 if higher_is_better else 1.0
    loss = [(a, sign * v) for a, v in points]
    best = min(range(len(loss)), key=lambda i: (loss[i][1], loss[i][0]))
    chain: list[int] = []
    for i in range(best + 1):
        while len(chain) >= 2:
            (x1, y1), (x2, y2), (x3, y3) = loss[chain[-2]], loss[chain[-1]], loss[i]
            # drop the middle point when it lies on or above the segment from the first to i
            if (x2 - x1) * (y3 - y1) - (y2 - y1) * (x3 - x1) <= 0:
                chain.pop()
            else:
                break
        chain.append(i)
    return chain


def build_curve(
    metric: str, samples: Iterable[tuple[str, float, float]], higher_is_better: bool
) -> Curve:
    """The curve from ``(configuration label, audio hours, value)`` samples, one per seed.

    Samples with the same label are seeds of one configuration and are averaged.

    >>> c = build_curve("WER", [("a", 5, 30.0), ("b", 10, 20.0), ("b", 10, 22.0), ("c", 15, 25.0)],
    ...                 higher_is_better=False)
    >>> [(p.label, p.value, p.envelope, p.seeds, p.on_hull) for p in c.points]
    [('a', 30.0, 30.0, 1, True), ('b', 21.0, 21.0, 2, True), ('c', 25.0, 21.0, 1, False)]
    """
    groups: dict[str, list[tuple[float, float]]] = {}
    for label, audio, value in samples:
        groups.setdefault(label, []).append((float(audio), float(value)))
    means = sorted(
        (mean(a for a, _ in pairs), mean(v for _, v in pairs), label, len(pairs))
        for label, pairs in groups.items()
    )
    if not means:
        return Curve(metric, higher_is_better, ())
    vertices = _hull([(a, v) for a, v, _, _ in means], higher_is_better)
    on = set(vertices)

    def curve_at(audio: float) -> float:
        hull = [means[i] for i in vertices]
        if audio >= hull[-1][0]:
            return hull[-1][1]
        for (a0, v0, *_), (a1, v1, *_) in zip(hull, hull[1:]):
            if a0 <= audio <= a1:
                return v0 if a1 == a0 else v0 + (v1 - v0) * (audio - a0) / (a1 - a0)
        return hull[0][1]

    points = tuple(
        CurvePoint(label, audio, value, seeds, value if i in on else curve_at(audio), i in on)
        for i, (audio, value, label, seeds) in enumerate(means)
    )
    return Curve(metric, higher_is_better, points)
