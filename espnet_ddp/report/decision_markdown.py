"""The intervals table and the decision, as ``compare`` prints them.

Responsible for choosing the reference on dev, computing every configuration's intervals
(:mod:`espnet_ddp.report.intervals`), applying the rule, and the Markdown of both, with a
sentence that says what the verdict means. Not responsible for the statistics themselves.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from espnet_ddp.core.decision import DEFAULT_MARGIN, Decision
from espnet_ddp.report.experiment import Experiment
from espnet_ddp.report.frontier_table import group_configurations
from espnet_ddp.report.intervals import (
    ConfigurationIntervals,
    Saving,
    decision_of,
    full_budget_audio,
    interval_rows,
    reference_configuration,
    saving,
)
from espnet_ddp.report.markdown import MISSING, markdown_table
from espnet_ddp.report.table import Comparison


def split_sets(wer_sets: Sequence[str], dev_sets: Sequence[str] | None,
               test_sets: Sequence[str] | None) -> tuple[list[str], list[str]]:  # fmt: skip
    """The dev sets (default: names starting with ``dev`` or ``valid``) and the decision test
    sets (default: every other WER set).

    >>> split_sets(["dev", "test_a", "test_b"], None, None)
    (['dev'], ['test_a', 'test_b'])
    >>> split_sets(["dev", "test_a", "test_b"], None, ["test_a"])
    (['dev'], ['test_a'])
    """
    dev = list(dev_sets) if dev_sets else [t for t in wer_sets if t.startswith(("dev", "valid"))]
    test = list(test_sets) if test_sets else [t for t in wer_sets if t not in dev]
    return dev, test


@dataclass
class DecisionReport:
    """What the section shows: the reference, every row, the decision and the saving."""

    reference: str | None
    dev_sets: list[str]
    test_sets: list[str]
    rows: list[ConfigurationIntervals]
    decision: Decision | None
    savings: list[Saving]
    margin: float


def build_decision(
    experiments: Sequence[Experiment], comparison: Comparison,
    dev_sets: Sequence[str] | None = None, test_sets: Sequence[str] | None = None,
    margin: float = DEFAULT_MARGIN, resamples: int = 2000,
) -> DecisionReport:  # fmt: skip
    """Reference on dev, intervals on every WER set, the rule, the recommendation's saving."""
    wer_sets = comparison.test_sets.get("WER", [])
    dev, test = split_sets(wer_sets, dev_sets, test_sets)
    configurations = group_configurations(list(experiments), wer_sets)
    reference = reference_configuration(configurations, dev, experiments)
    if reference is None:
        return DecisionReport(None, dev, test, [], None, [], margin)
    rows = interval_rows(experiments, wer_sets, reference, configurations, resamples)
    decision = decision_of(rows, reference.label, dev, test, margin)
    savings = []
    frontier = comparison.frontier
    chosen = next((r for r in rows if r.label == decision.recommended), None)
    if chosen is not None and frontier is not None:
        for t in dev:
            curve, interval = frontier.wer_curves.get(t), chosen.intervals.get(t)
            if curve is not None and interval is not None:
                s = saving(curve, interval, chosen.audio_hours, full_budget_audio(frontier))
                if s is not None:
                    savings.append(s)
    return DecisionReport(reference.label, dev, test, rows, decision, savings, margin)


def _interval_cell(row: ConfigurationIntervals, t: str) -> str:
    iv = row.intervals.get(t)
    if iv is None:
        return MISSING
    return (f"{iv.cand_wer:.2f}: {100 * iv.rel_point:+.1f}% [{100 * iv.rel_low:+.1f}%, "
            f"{100 * iv.rel_high:+.1f}%]")  # fmt: skip


def _ratio(value: float | None) -> str:
    return MISSING if value is None else f"{value:.2f}"


def render_decision(report: DecisionReport) -> str:
    """The section: the table of intervals, then the verdicts and the recommendation."""
    if report.reference is None:
        return "## Intervals and decision\n\nNo full-data run: nothing to compare against.\n"
    sets = [*report.dev_sets, *[t for t in report.test_sets if t not in report.dev_sets]]
    others = [t for r in report.rows for t in r.intervals if t not in sets]
    sets += list(dict.fromkeys(others))
    headers = ["configuration", "kind", "seeds", "audio fed (h)", "valid acc (mean ± sd)"]
    headers += [f"WER {t}: vs reference [95%]" for t in sets]
    headers += ["utterances", "verdict (dev)"]
    verdicts = report.decision.verdicts if report.decision else {}
    cells = []
    for row in report.rows:
        acc = MISSING if row.valid_acc_mean is None else (
            f"{row.valid_acc_mean:.4f}" + ("" if row.valid_acc_sd is None
                                           else f" ± {row.valid_acc_sd:.4f}"))  # fmt: skip
        utts = sorted({iv.utterances for iv in row.intervals.values() if iv is not None})
        verdict = "reference" if row.label == report.reference else verdicts.get(row.label, "-")
        cells.append([
            row.label, row.kind, str(row.seeds),
            MISSING if row.audio_hours is None else f"{row.audio_hours:.3f}", acc,
            *[_interval_cell(row, t) for t in sets],
            "/".join(str(u) for u in utts) or MISSING, verdict,
        ])  # fmt: skip
    margin = f"+{100 * report.margin:g}%"
    lines = [
        "## Intervals against the reference, and the decision",
        "",
        markdown_table(headers, cells),
        "",
        f"Reference: {report.reference} (the full-data configuration with "
        + (f"the lowest WER on {', '.join(report.dev_sets)}" if report.dev_sets else
           "the best valid accuracy: no dev set was decoded")
        + "). Each cell: "
        "the configuration's WER (seed mean, %), then its WER relative to the reference's with "
        "the 95% interval of a paired bootstrap over utterances (2,000 resamples, seeds "
        "resampled too, paired by seed where both have the same seeds). A cell without an "
        "interval has no per-utterance scores: read valid accuracy's spread over seeds instead. "
        f"Rule: a configuration qualifies when the upper end is below {margin} on every dev "
        "set; it is worse when a whole interval lies above 0; otherwise undecided.",
        "",
    ]
    d = report.decision
    if d is None:
        return "\n".join(lines) + "\n"
    if d.recommended is None:
        lines.append(f"**Decision: {d.reason}.** Nothing is shown to match the reference within "
                     f"{margin} on dev; an undecided configuration needs more seeds or more test "
                     "utterances, not a recommendation.")  # fmt: skip
    else:
        confirm = {None: "no test set to confirm it on",
                   "qualifies": f"confirmed on {', '.join(report.test_sets)}"}.get(
            d.confirmation, f"NOT confirmed on {', '.join(report.test_sets)} ({d.confirmation})")
        lines.append(f"**Decision: recommend {d.recommended}** ({d.reason}; {confirm}).")
        for s in report.savings:
            lines.append(f"- Saving on {s.test_set}: frontier ratio {_ratio(s.ratio)} "
                         f"[{_ratio(s.low)}, {_ratio(s.high)}] (audio the budget curve needs "
                         "for its WER, at the WER and at both ends of its interval, over the "
                         "audio it fed)" + ("; interpolated across more than 0.2 of the full "
                                            "budget" if s.wide else "") + ".")  # fmt: skip
    return "\n".join(lines) + "\n"
