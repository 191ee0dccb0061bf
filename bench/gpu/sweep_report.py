"""The sweep's report: one row per variant (schedule, epochs, steps, audio fed, valid accuracy,
steps to target, frontier ratio, WER/CER), then the frontier's tables.

Responsible for turning the sweep's experiment folders into rows through
:mod:`espnet_ddp.report` (:func:`~espnet_ddp.report.table.build_comparison`, with full data as the
reference of the target and the budget runs as the frontier's curve) and for the Markdown of
``RESULTS_sweep.md``. The frontier's tables are ``python -m espnet_ddp.bin.compare``'s own
(:mod:`espnet_ddp.report.markdown`), without their wall-time column. Not responsible for the
arithmetic of the frontier (:mod:`espnet_ddp.report.frontier`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from espnet_ddp.report.experiment import Experiment, load_experiment
from espnet_ddp.report.markdown import (
    configuration_table,
    curve_table,
    format_ratio,
    frontier_sentence,
    markdown_table,
)
from espnet_ddp.report.table import Comparison, build_comparison, final_valid_acc

from .environment import environment_line
from .report import banner, cell, model_sentence, sets_phrase
from .variants import Variant


def collect(
    exp_root: Path, variants: Sequence[Variant], max_epoch: int, trained: dict[str, dict],
    scores: dict[str, dict], experiments: Sequence[Experiment] | None = None,
) -> tuple[list[dict], Comparison]:  # fmt: skip
    """Rows of the WER table, and the comparison they come from.

    ``experiments`` (one per variant, in order) default to ``load_experiment`` of
    ``exp_root/<name>``: ``config.yaml``, ``train.log``, the plugin's records and the
    ``RESULTS.md`` that :func:`gpu.decoding.score` wrote.
    """
    if experiments is None:
        experiments = [load_experiment(exp_root / v.name, name=v.name) for v in variants]
    comparison = build_comparison(list(experiments), baseline=0, reference=0)
    rows = []
    for variant, exp, row in zip(variants, experiments, comparison.rows, strict=True):
        hit = row.time_to_target
        frontier = comparison.frontier
        on_curve = frontier is not None and row.experiment not in frontier.runs
        rows.append(
            {
                "name": variant.name,
                "label": variant.label,
                "options": variant.options(max_epoch),
                "schedule": row.lr_schedule,
                "status": trained.get(variant.name, {}).get("status", "not run"),
                "epochs": exp.epochs_done,
                "steps": exp.optimizer_steps,
                "fed_hours": exp.fed_hours,
                "valid_acc": final_valid_acc(exp),
                "steps_to_target": hit.optimizer_steps if hit else None,
                "target_reached": row.target_reached,
                "frontier": "on the curve"
                if on_curve
                else "n/a"
                if frontier is None
                else format_ratio(row.frontier_ratio, row.frontier_outside),
                "scores": scores.get(variant.name, {}),
            }
        )
    return rows, comparison


def wer_table(rows: list[dict], test_sets: list[str]) -> str:
    """The Markdown WER table: one line per variant, WER/CER (%) per test set.

    >>> print(wer_table([{"name": "full", "label": "full data", "schedule": "warmuplr",
    ...     "status": "ok", "epochs": 2, "steps": 40, "fed_hours": 0.5, "valid_acc": 0.9,
    ...     "steps_to_target": 30, "target_reached": True, "frontier": "0.92",
    ...     "scores": {"t": {"wer": 10.0, "cer": 2.5}}}], ["t"]))
    | variant | LR | epochs | steps | audio fed (h) | valid acc | steps to target | frontier \
ratio | WER / CER t (%) |
    |---|---|---|---|---|---|---|---|---|
    | full data | warmuplr | 2 | 40 | 0.500 | 0.900 | 30 | 0.92 | 10.0 / 2.5 |
    """
    head = "| variant | LR | epochs | steps | audio fed (h) | valid acc | steps to target | "
    head += "frontier ratio | " + " | ".join(f"WER / CER {t} (%)" for t in test_sets) + " |"
    lines = [head, "|" + "---|" * (8 + len(test_sets))]
    for row in rows:
        if row["status"] != "ok":
            lines.append(f"| {row['label']} | {row['status']} |" + " |" * (6 + len(test_sets)))
            continue
        to_target = {True: cell(row["steps_to_target"], "d"), False: "not reached"}.get(
            row["target_reached"], "n/a"
        )
        errs = [row["scores"].get(t) for t in test_sets]
        cells = [f"{e['wer']:.1f} / {e['cer']:.1f}" if e else "n/a" for e in errs]
        lines.append(
            f"| {row['label']} | {row['schedule']} | {row['epochs']} | {cell(row['steps'], 'd')} "
            f"| {cell(row['fed_hours'], '.3f')} | {cell(row['valid_acc'], '.3f')} | {to_target} "
            f"| {row['frontier']} | " + " | ".join(cells) + " |"
        )
    return "\n".join(lines)


def frontier_tables(comparison: Comparison) -> list[str]:
    """The frontier's curve and configuration tables (``compare``'s), or a line saying why
    there is none."""
    frontier = comparison.frontier
    if frontier is None:
        return ["No frontier: no budget run (full data, fitted LR) finished."]
    headers, cells = configuration_table(frontier)
    keep = [i for i, h in enumerate(headers) if h != "wall time"]  # the runs shared the GPU
    return [
        markdown_table(*curve_table(frontier)),
        markdown_table([headers[i] for i in keep], [[row[i] for i in keep] for row in cells]),
        frontier_sentence(frontier),
    ]


def markdown(report: dict) -> str:
    """The sweep report: set-up, the WER table, the frontier, and how to read them."""
    plan = report["plan"]
    lines = ["# WER sweep (`bash bench/gpu/run.sh --sweep`)", ""]
    lines += banner(report["small"], f"tiny corpus and model, {plan['epochs']} epochs; the error "
                    "rates mean nothing")  # fmt: skip
    target = report["target_valid_acc"]
    lines += [
        environment_line(report["environment"]),
        "",
        f"Corpus: {report['corpus_hours']:.2f} h of training speech ({plan['num_train']} "
        f"utterances), {plan['num_dev']} dev, test sets "
        f"{sets_phrase(report['test_sets'], plan['num_test'])} (voices and sentences held out "
        "of training). "
        + model_sentence(plan)
        + f" {plan['epochs']} epochs (budget runs: their share, rounded half up), "
        f"{report['parallel']} runs at a time on one device. On `warmuplr`, pruned and dropped "
        "runs use `lr_trajectory=epoch`; `fitted linear` runs (`--lr_fit linear`) warm up over "
        f"the same {plan['warmup']} steps, then decay to 0 at their last step. Decoding: stock "
        f"`espnet2.bin.asr_inference`, beam {plan['beam']}, CTC weight 0.3, `valid.acc.ave.pth` "
        f"({plan['nbest']} best).",
        "",
        "Full data's valid accuracy "
        + ("reached a plateau" if report["baseline_plateau"] else "had NOT reached a plateau")
        + f" (gain < {plan['plateau_delta']} over the last {plan['plateau_window']} epochs). "
        "Steps to target: optimizer steps until valid acc first reached 0.98 x full data's "
        f"final ({cell(target, '.4f')}). Frontier ratio: on final valid accuracy, against the "
        "curve of the budget runs (below). Times are not reported: the runs shared one device."
        + (
            " Decoded with `--decode_only`: the models come from an earlier run of the same "
            "command."
            if report.get("decode_only")
            else ""
        ),
        "",
        wer_table(report["rows"], report["test_sets"]),
        "",
        "## The frontier: full data on a fitted schedule, for less audio",
        "",
        "\n\n".join(report["frontier_tables"]),
    ]
    return "\n".join(lines) + "\n"
