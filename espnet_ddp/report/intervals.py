"""Confidence intervals of every configuration against a reference, and the decision they give.

Responsible for reading each experiment's per-utterance errors of a decoded set (the
``per_utt.tsv`` that ``espnet_ddp.tools.score_asr`` writes beside ``result.txt``, else an
alignment of the ``ref.trn`` / ``hyp.trn`` that ESPnet's own scoring stage leaves), grouping the
runs of a configuration by seed (the configurations of
:func:`espnet_ddp.report.frontier_table.group_configurations`), the paired bootstrap of each
configuration against the reference configuration on every WER test set
(:func:`espnet_ddp.core.bootstrap.paired_bootstrap`), where there is none the spread of valid
accuracy over seeds, and the decision rule on the dev and test sets
(:func:`espnet_ddp.core.decision.decide`), with the saving of the recommendation read off the
frontier at both ends of its WER interval. Not responsible for formatting
(:mod:`espnet_ddp.report.markdown`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from statistics import mean, stdev

from espnet_ddp.core.bootstrap import Interval, paired_bootstrap
from espnet_ddp.core.decision import DEFAULT_MARGIN, Candidate, Decision, decide
from espnet_ddp.core.utterance_errors import FILE_NAME, read_tsv
from espnet_ddp.report.experiment import Experiment
from espnet_ddp.report.frontier import WIDE_SPAN, Curve
from espnet_ddp.report.frontier_table import (
    CURVE,
    FULL_OTHER,
    Configuration,
    Frontier,
    final_valid_acc,
    group_configurations,
)

_TRN = re.compile(r"^(?P<tokens>.*)\((?P<id>[^()]*)\)\s*$")


def utterance_errors(exp: Experiment, test_set: str) -> dict[str, tuple[int, int]] | None:
    """Utterance -> (errors, reference words) of ``exp``'s chosen decode tag on ``test_set``;
    None when neither ``per_utt.tsv`` nor the ``.trn`` pair is there."""
    if exp.decode_tag is None:
        return None
    score = exp.path / exp.decode_tag / test_set / "score_wer"
    if (score / FILE_NAME).is_file():
        return {u: (e.errors, e.ref) for u, e in read_tsv(score / FILE_NAME).items()}
    if (score / "ref.trn").is_file() and (score / "hyp.trn").is_file():
        return _align_trn(score / "ref.trn", score / "hyp.trn")
    return None


def _read_trn(path: Path) -> dict[str, list[str]]:
    out = {}
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        if match := _TRN.match(line):
            out[match["id"]] = match["tokens"].split()
    return out


def _align_trn(ref_path: Path, hyp_path: Path) -> dict[str, tuple[int, int]]:
    from espnet_ddp.tools.edit_distance import align_counts

    ref, hyp = _read_trn(ref_path), _read_trn(hyp_path)
    return {u: (align_counts(r, hyp.get(u, [])).errors, len(r)) for u, r in ref.items()}


def seed_of(exp: Experiment, index: int) -> int:
    """The run's ``seed`` from its config (else its position, so two runs never collide)."""
    seed = exp.config.get("seed")
    return seed if isinstance(seed, int) else 10_000 + index


def by_seed(config: Configuration, experiments: Sequence[Experiment],
            test_set: str) -> dict[int, dict[str, tuple[int, int]]] | None:  # fmt: skip
    """Seed -> per-utterance errors of a configuration's members (None when any lacks them)."""
    out = {}
    for i, exp in enumerate(experiments):
        if exp.name in config.members:
            errors = utterance_errors(exp, test_set)
            if errors is None:
                return None
            out[seed_of(exp, i)] = errors
    return out or None


@dataclass
class ConfigurationIntervals:
    """One configuration against the reference: an interval per WER test set (None: none)."""

    label: str
    kind: str
    seeds: int
    audio_hours: float | None
    intervals: dict[str, Interval | None]
    valid_acc_mean: float | None
    valid_acc_sd: float | None
    notes: list[str] = field(default_factory=list)


def reference_configuration(configurations: Sequence[Configuration], dev_sets: Sequence[str],
                            experiments: Sequence[Experiment]) -> Configuration | None:  # fmt: skip
    """The reference chosen on dev: the full-data configuration (any schedule) with the lowest
    mean WER over ``dev_sets``; without dev WERs, the one with the best valid accuracy."""
    full = [c for c in configurations if c.kind in (CURVE, FULL_OTHER)]
    if not full:
        return None
    with_dev = [c for c in full if dev_sets and all(t in c.wer for t in dev_sets)]
    if with_dev:
        return min(with_dev, key=lambda c: mean(c.wer[t] for t in dev_sets))
    return max(full, key=lambda c: c.valid_acc if c.valid_acc is not None else -1.0)


def interval_rows(
    experiments: Sequence[Experiment], test_sets: Sequence[str], reference: Configuration,
    configurations: Sequence[Configuration] | None = None, resamples: int = 2000,
) -> list[ConfigurationIntervals]:  # fmt: skip
    """Every configuration (the reference included, against itself) with its intervals."""
    configurations = configurations or group_configurations(list(experiments), list(test_sets))
    rows = []
    ref_errors = {t: by_seed(reference, experiments, t) for t in test_sets}
    for config in configurations:
        notes = []
        intervals: dict[str, Interval | None] = {}
        for t in test_sets:
            mine = by_seed(config, experiments, t)
            if mine is None or ref_errors[t] is None:
                intervals[t] = None
                continue
            try:
                intervals[t] = paired_bootstrap(ref_errors[t], mine, resamples=resamples)
            except ValueError as err:
                intervals[t] = None
                notes.append(f"{t}: {err}")
        accs = [final_valid_acc(e) for e in experiments if e.name in config.members]
        accs = [a for a in accs if a is not None]
        rows.append(ConfigurationIntervals(
            label=config.label, kind=config.kind, seeds=config.seeds,
            audio_hours=config.audio_hours, intervals=intervals,
            valid_acc_mean=mean(accs) if accs else None,
            valid_acc_sd=stdev(accs) if len(accs) > 1 else None, notes=notes,
        ))  # fmt: skip
    return rows


@dataclass(frozen=True)
class Saving:
    """The frontier ratio of a configuration at its WER and at both ends of its interval."""

    test_set: str
    ratio: float | None
    low: float | None  # at the upper (worse) end of the WER interval
    high: float | None  # at the lower (better) end
    wide: bool  # interpolated across more than WIDE_SPAN of the full budget


def saving(curve: Curve, interval: Interval, audio_hours: float | None,
           full_audio: float | None) -> Saving | None:  # fmt: skip
    """Audio the curve needs at the candidate's WER (and at both ends of its interval) over
    the audio it fed."""
    if audio_hours is None:
        return None
    point = interval.cand_wer
    worst = point + (interval.abs_high - interval.abs_point)
    best = point + (interval.abs_low - interval.abs_point)
    span = curve.span_used(point)
    wide = span is not None and full_audio is not None and span > WIDE_SPAN * full_audio
    metric = curve.metric.removeprefix("WER ")
    return Saving(metric, curve.ratio(point, audio_hours), curve.ratio(worst, audio_hours),
                  curve.ratio(best, audio_hours), wide)  # fmt: skip


def decision_of(rows: Sequence[ConfigurationIntervals], reference: str, dev_sets: Sequence[str],
                test_sets: Sequence[str], margin: float = DEFAULT_MARGIN) -> Decision:  # fmt: skip
    """The rule over every pruned or dropped configuration (full-data ones are baselines)."""
    candidates = [
        Candidate(r.label, r.audio_hours, {t: r.intervals.get(t) for t in dev_sets},
                  {t: r.intervals.get(t) for t in test_sets})
        for r in rows if r.label != reference and r.kind not in (CURVE, FULL_OTHER)
    ]  # fmt: skip
    return decide(candidates, margin)


def full_budget_audio(frontier: Frontier | None) -> float | None:
    """The audio of the most expensive point on the valid-accuracy curve (the full budget)."""
    if frontier is None or not frontier.acc_curve.points:
        return None
    return max(p.audio_hours for p in frontier.acc_curve.points)
