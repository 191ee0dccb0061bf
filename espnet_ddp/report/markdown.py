"""Renders a :class:`~espnet_ddp.report.table.Comparison` as Markdown tables.

Responsible for headers, number formats and notes; the numbers come from ``table``.
"""

from __future__ import annotations

from espnet_ddp.report.frontier import WIDE_SPAN
from espnet_ddp.report.frontier_table import CURVE, Frontier
from espnet_ddp.report.table import Comparison, Row

MISSING = "n/a"
NOT_REACHED = "not reached"


def format_seconds(seconds: float | None) -> str:
    """``45.2 s``, ``12.3 min`` or ``3.45 h``."""
    if seconds is None:
        return MISSING
    if seconds < 120:
        return f"{seconds:.1f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.2f} h"


def _number(value: float | None, fmt: str) -> str:
    return MISSING if value is None else format(value, fmt)


def _cell(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def markdown_table(headers: list[str], rows: list[list[str]]) -> str:
    """A pipe table; ``|`` inside cells is escaped."""
    lines = ["| " + " | ".join(_cell(h) for h in headers) + " |"]
    lines.append("|" + "|".join("---" for _ in headers) + "|")
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _speedup(row: Row) -> str:
    if row.is_baseline:
        return "1.00x (baseline)"
    if row.speedup is None:
        return MISSING
    return f"{row.speedup:.2f}x" + (" (per epoch)" if row.speedup_basis == "per epoch" else "")


def _to_target(row: Row, comparison: Comparison) -> list[str]:
    """Cells ``wall to target`` (with the epoch) and ``steps to target``."""
    hit = row.time_to_target
    if hit is not None:
        return [f"{format_seconds(hit.wall_seconds)} (epoch {hit.epoch})",
                _number(hit.optimizer_steps, "d")]  # fmt: skip
    if row.target_reached is False:
        return [NOT_REACHED, NOT_REACHED]
    return [MISSING, MISSING]


def target_sentence(comparison: Comparison) -> str:
    """How the time-to-target columns were computed, with the numbers used."""
    if comparison.reference is None or comparison.target_valid_acc is None:
        return "Time to target: n/a (the reference run has no validation accuracy)."
    ref = comparison.rows[comparison.reference].experiment
    return (
        f"Time to target: target valid acc = {comparison.target_fraction:g} x final valid acc "
        f"of {ref} ({comparison.reference_valid_acc:.4f}) = {comparison.target_valid_acc:.4f}; "
        "wall time and optimizer steps are cumulative at the end of the first epoch whose "
        "valid acc >= target (no interpolation)."
    )


def format_ratio(ratio: float | None, outside: str | None) -> str:
    """``1.23`` or ``not bracketed (below)`` / ``(above)``; n/a when there is nothing to say."""
    if ratio is not None:
        return f"{ratio:.2f}"
    if outside is not None:
        return f"not bracketed ({outside})"
    return MISSING


def _frontier_cell(row: Row, comparison: Comparison) -> str:
    if comparison.frontier is None:
        return MISSING
    if row.experiment not in comparison.frontier.runs:
        return "on the curve"
    return format_ratio(row.frontier_ratio, row.frontier_outside)


def curve_table(frontier: Frontier) -> tuple[list[str], list[list[str]]]:
    """The budget curve: one line per fitted-schedule full-data configuration."""
    test_sets = list(frontier.wer_curves)
    headers = ["configuration", "seeds", "audio fed (h)", "valid acc", "envelope"]
    headers += [f"WER {t}" for t in test_sets]
    wer = {t: {p.label: p for p in c.points} for t, c in frontier.wer_curves.items()}
    cells = []
    for p in frontier.acc_curve.points:
        line = [p.label, str(p.seeds), f"{p.audio_hours:.3f}", f"{p.value:.4f}",
                f"{p.envelope:.4f}"]  # fmt: skip
        for t in test_sets:
            q = wer[t].get(p.label)
            line.append(MISSING if q is None else f"{q.value:.2f} (envelope {q.envelope:.2f})")
        cells.append(line)
    return headers, cells


def configuration_table(frontier: Frontier) -> tuple[list[str], list[list[str]]]:
    """Seed means of every configuration, with the frontier ratios of the others."""
    test_sets = list(dict.fromkeys(t for c in frontier.configurations for t in c.wer))
    headers = ["configuration", "kind", "schedule", "seeds", "audio fed (h)", "valid acc",
               "frontier ratio (valid acc)"]  # fmt: skip
    headers += [f"WER {t}" for t in test_sets] + [f"frontier ratio (WER {t})" for t in test_sets]
    headers.append("wall time")
    cells = []
    full = max((p.audio_hours for p in frontier.acc_curve.points), default=None)

    def ratio_cell(curve, value, ratio, outside) -> str:
        text = format_ratio(ratio, outside)
        span = None if curve is None or value is None else curve.span_used(value)
        if ratio is not None and span is not None and full and span > WIDE_SPAN * full:
            text += " (wide)"
        return text

    for c in frontier.configurations:
        on_curve = c.kind == CURVE
        line = [c.label, c.kind, c.schedule, str(c.seeds), _number(c.audio_hours, ".3f"),
                _number(c.valid_acc, ".4f"),
                "on the curve" if on_curve else ratio_cell(
                    frontier.acc_curve, c.valid_acc, c.acc_ratio, c.acc_outside)]  # fmt: skip
        line += [_number(c.wer.get(t), ".2f") for t in test_sets]
        line += [
            "on the curve" if on_curve
            else ratio_cell(frontier.wer_curves.get(t), c.wer.get(t), c.wer_ratio.get(t),
                            c.wer_outside.get(t))  # fmt: skip
            for t in test_sets
        ]
        line.append(format_seconds(c.wall_seconds))
        cells.append(line)
    return headers, cells


def frontier_sentence(frontier: Frontier) -> str:
    return (
        "The curve: end points of the full-data runs on the fitted LR schedule (seeds averaged), "
        "joined as their convex hull (the curve most favourable to full data: a budget worse "
        "than the line through its neighbours never adds audio), linear in audio fed between "
        "its vertices; `envelope` is the curve's value at a point's audio; a ratio marked (wide) "
        "is read across more than 0.2 of the full budget, between measured points. Frontier "
        "ratio = audio the curve needs to reach a run's final valid accuracy (or WER) / audio "
        "the run fed; above 1, the run beat training full data for less. Outside the curve's "
        "range: not bracketed (no extrapolation). Full data on other schedules (warmuplr) is a "
        "separate series, not on the curve."
    )


def _epochs(row: Row) -> str:
    return f"{row.epochs}/{row.max_epoch}" if row.max_epoch is not None else str(row.epochs)


def main_table(comparison: Comparison) -> tuple[list[str], list[list[str]]]:
    """Headers and formatted cells of the comparison table."""
    score_columns = [(m, t) for m, sets in comparison.test_sets.items() for t in sets]
    headers = ["experiment", "strategy", "settings", "epochs"]
    headers += [f"{m} {t}" for m, t in score_columns]
    headers += ["LR schedule", "wall time", "train loop", "steps", "audio fed (h)", "speed-up"]
    headers += ["frontier ratio", "wall to target", "steps to target", "notes"]
    cells = []
    for row in comparison.rows:
        line = [row.experiment, row.strategy, row.settings or "-", _epochs(row)]
        line += [_number(row.error_rates.get(m, {}).get(t), ".2f") for m, t in score_columns]
        line += [
            row.lr_schedule,
            format_seconds(row.wall_seconds),
            format_seconds(row.train_loop_seconds),
            _number(row.optimizer_steps, "d"),
            _number(row.fed_hours, ".3f"),
            _speedup(row),
            _frontier_cell(row, comparison),
            *_to_target(row, comparison),
            "; ".join(row.notes),
        ]
        cells.append(line)
    return headers, cells


def sample_rate_table(comparison: Comparison, test_set: str) -> tuple[list[str], list[list[str]]]:
    """WER per evaluation sampling rate for ``test_set``: one line per experiment and mode."""
    rates = sorted(
        {
            r
            for row in comparison.rows
            for m in row.sample_rates.get(test_set, {}).values()
            for r in m
        },
        reverse=True,
    )
    headers = ["experiment", "mode", *[f"{r} Hz" for r in rates]]
    cells = []
    for row in comparison.rows:
        for mode, by_rate in sorted(row.sample_rates.get(test_set, {}).items()):
            cells.append([row.experiment, mode, *[_number(by_rate.get(r), ".2f") for r in rates]])
    return headers, cells


def render(comparison: Comparison) -> str:
    """The whole report: the comparison table, then one WER-by-rate table per test set."""
    if not comparison.rows:
        return "No experiments given.\n"
    base = comparison.rows[comparison.baseline].experiment
    parts = [
        f"## Comparison (baseline: {base})",
        markdown_table(*main_table(comparison)),
        "Error rates in %, from each RESULTS.md (decode tag: the last one unless chosen). "
        "Wall time: sum of epochs in train.log (start-up excluded); "
        "train loop, steps and audio fed: data_pruning records, else ESPnet's own files.",
        target_sentence(comparison),
    ]
    if comparison.frontier is not None:
        parts.append("## The frontier: full data on a fitted schedule, for less audio")
        parts.append(markdown_table(*curve_table(comparison.frontier)))
        parts.append("### Configurations (seed means)")
        parts.append(markdown_table(*configuration_table(comparison.frontier)))
        parts.append(frontier_sentence(comparison.frontier))
    for test_set in comparison.sample_rate_sets:
        parts.append(f"### WER (%) by evaluation sampling rate: {test_set}")
        parts.append(markdown_table(*sample_rate_table(comparison, test_set)))
    return "\n\n".join(parts) + "\n"
