"""The decision rule: which configuration to recommend, from intervals against a reference.

The rule (README, "How we decide"):

- **non-inferiority**: a configuration *qualifies* when, on every decision set, the upper end of
  the 95% interval of its relative WER difference to the reference is BELOW the margin (+3%);
  an upper end at the margin itself does not qualify;
- otherwise it is *worse* when on some decision set the whole interval lies above 0 (shown
  worse than the reference), else *undecided* (the interval reaches past the margin: the lab
  cannot tell at this power);
- the reference and the candidates are compared on the **dev** sets; the recommendation is the
  cheapest qualifying configuration by audio fed; the **test** sets then confirm it, once.

Responsible for verdicts and the choice, on numbers given. Not responsible for the intervals
(:mod:`espnet_ddp.core.bootstrap`) nor for reading experiments (:mod:`espnet_ddp.report`).

>>> from espnet_ddp.core.bootstrap import Interval
>>> def iv(lo, hi):
...     return Interval(10, 10, 0, lo * 10, hi * 10, (lo + hi) / 2, lo, hi, 500, 3, 3, True)
>>> verdict({"dev": iv(-0.05, 0.02)}), verdict({"dev": iv(-0.05, 0.03)})
('qualifies', 'undecided')
>>> verdict({"dev": iv(0.01, 0.09)})
'worse'
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from espnet_ddp.core.bootstrap import Interval

DEFAULT_MARGIN = 0.03
QUALIFIES, WORSE, UNDECIDED, NO_DATA = "qualifies", "worse", "undecided", "no interval"


def verdict(intervals: Mapping[str, Interval | None], margin: float = DEFAULT_MARGIN) -> str:
    """The verdict of one configuration from its intervals on the decision sets."""
    if not intervals or any(iv is None for iv in intervals.values()):
        return NO_DATA
    ivs = [iv for iv in intervals.values() if iv is not None]
    if all(iv.rel_high < margin for iv in ivs):
        return QUALIFIES
    if any(iv.rel_low > 0 for iv in ivs):
        return WORSE
    return UNDECIDED


@dataclass(frozen=True)
class Candidate:
    """A configuration to decide on: its audio fed and its intervals per decision set."""

    label: str
    audio_hours: float | None
    dev: Mapping[str, Interval | None]
    test: Mapping[str, Interval | None] = field(default_factory=dict)


@dataclass(frozen=True)
class Decision:
    """Every candidate's verdict on dev, the recommendation and its confirmation on test."""

    verdicts: dict[str, str]
    recommended: str | None
    confirmation: str | None  # the recommended one's verdict on the test sets
    reason: str


def decide(candidates: Sequence[Candidate], margin: float = DEFAULT_MARGIN) -> Decision:
    """Apply the rule: verdicts on dev, the cheapest qualifying one, confirmed on test.

    >>> from espnet_ddp.core.bootstrap import Interval
    >>> def iv(lo, hi):
    ...     return Interval(10, 10, 0, lo * 10, hi * 10, (lo + hi) / 2, lo, hi, 500, 3, 3, True)
    >>> d = decide([Candidate("a", 8.0, {"dev": iv(-0.04, 0.02)}, {"test": iv(-0.03, 0.02)}),
    ...             Candidate("b", 6.0, {"dev": iv(-0.01, 0.08)})])
    >>> d.verdicts, d.recommended, d.confirmation
    ({'a': 'qualifies', 'b': 'undecided'}, 'a', 'qualifies')
    """
    verdicts = {c.label: verdict(c.dev, margin) for c in candidates}
    qualifying = [c for c in candidates if verdicts[c.label] == QUALIFIES]
    if not qualifying:
        undecided = [c.label for c in candidates if verdicts[c.label] == UNDECIDED]
        worse = [c.label for c in candidates if verdicts[c.label] == WORSE]
        parts = []
        if worse:
            parts.append(f"shown worse than the reference: {', '.join(worse)}")
        if undecided:
            parts.append(f"undecided (the interval reaches past +{100 * margin:g}%): "
                         f"{', '.join(undecided)}")  # fmt: skip
        missing = [c.label for c in candidates if verdicts[c.label] == NO_DATA]
        if missing:
            parts.append(f"no interval: {', '.join(missing)}")
        return Decision(verdicts, None, None, "nothing qualifies; " + "; ".join(parts))
    best = min(qualifying, key=lambda c: (c.audio_hours is None, c.audio_hours or 0.0))
    confirmation = verdict(best.test, margin) if best.test else None
    reason = (f"{best.label}: the cheapest qualifying configuration by audio fed "
              f"({len(qualifying)} of {len(candidates)} qualify on dev)")  # fmt: skip
    return Decision(verdicts, best.label, confirmation, reason)
