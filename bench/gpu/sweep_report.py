"""The sweep's report: per seed, one row per variant (schedule, epochs, steps, audio fed, valid
accuracy, the epoch at 98% of it, steps to target, frontier ratio, WER/CER); then, over every
saved seed, the frontier's tables from seed means.

Responsible for turning the sweep's experiment folders into rows through
:mod:`espnet_ddp.report` (:func:`~espnet_ddp.report.table.build_comparison`, with full data as the
reference of the target and the budget runs as the frontier's curve) and for the Markdown of
``RESULTS_sweep.md`` (:func:`rebuild`, from the seed folders of :mod:`gpu.seed_results`). The
frontier's tables are ``python -m espnet_ddp.bin.compare``'s own
(:mod:`espnet_ddp.report.markdown`), without their wall-time column. Not responsible for the
arithmetic of the frontier (:mod:`espnet_ddp.report.frontier`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from espnet_ddp.core.utterance_errors import read_tsv
from espnet_ddp.report.decision_markdown import build_decision, render_decision
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
from .report import banner, cell, model_sentence
from .seed_results import all_seeds, load_seeds, seed_dir
from .variants import Variant


def reached_98(acc: dict[int, float], fraction: float = 0.98) -> int | None:
    """The first epoch whose valid accuracy reached ``fraction`` of the LAST epoch's (None
    without epochs). Far before the last epoch: the run had reached its plateau.

    >>> reached_98({1: 0.5, 2: 0.85, 3: 0.89, 4: 0.9}), reached_98({})
    (3, None)
    """
    if not acc:
        return None
    target = fraction * acc[max(acc)]
    return next(e for e in sorted(acc) if acc[e] >= target)


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
    ...     "steps_to_target": 30, "target_reached": True, "frontier": "0.92", "reached_98": 2,
    ...     "scores": {"t": {"wer": 10.0, "cer": 2.5}}}], ["t"]))
    | variant | LR | epochs | steps | audio fed (h) | valid acc | 98% at epoch | steps to target \
| frontier ratio | WER / CER t (%) |
    |---|---|---|---|---|---|---|---|---|---|
    | full data | warmuplr | 2 | 40 | 0.500 | 0.900 | 2 | 30 | 0.92 | 10.0 / 2.5 |
    """
    head = "| variant | LR | epochs | steps | audio fed (h) | valid acc | 98% at epoch | "
    head += "steps to target | frontier ratio | "
    head += " | ".join(f"WER / CER {t} (%)" for t in test_sets) + " |"
    lines = [head, "|" + "---|" * (9 + len(test_sets))]
    for row in rows:
        if not str(row["status"]).startswith("ok"):
            lines.append(f"| {row['label']} | {row['status']} |" + " |" * (7 + len(test_sets)))
            continue
        to_target = {True: cell(row["steps_to_target"], "d"), False: "not reached"}.get(
            row["target_reached"], "n/a"
        )
        errs = [row["scores"].get(t) for t in test_sets]
        cells = [f"{e['wer']:.1f} / {e['cer']:.1f}" if e else "n/a" for e in errs]
        lines.append(
            f"| {row['label']} | {row['schedule']} | {row['epochs']} | {cell(row['steps'], 'd')} "
            f"| {cell(row['fed_hours'], '.3f')} | {cell(row['valid_acc'], '.3f')} "
            f"| {cell(row.get('reached_98'), 'd')} | {to_target} | {row['frontier']} | "
            + " | ".join(cells) + " |"
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


def scores_of(exp: Experiment) -> dict[str, dict[str, float]]:
    """Test set -> ``{"wer": %, "cer": %}`` from an experiment's ``RESULTS.md``."""
    wer, cer = exp.error_rates("WER"), exp.error_rates("CER")
    return {t: {"wer": wer[t], "cer": cer.get(t, float("nan"))} for t in wer}


def seed_section(root: Path, seed: int, run: dict, variants: Sequence[Variant]) -> list[str]:
    """One seed's set-up, phases and WER table (its own target and frontier ratios)."""
    plan = run["plan"]
    by_name = {v.name: v for v in variants}
    chosen = [by_name[n] for n in run["variants"] if n in by_name]
    base = seed_dir(root, seed) / "exp"
    exps = [load_experiment(base / v.name, name=v.name) for v in chosen]
    rows, comparison = collect(base, chosen, plan["epochs"], run.get("trained", {}),
                               {e.name: scores_of(e) for e in exps}, exps)  # fmt: skip
    for r in rows:
        r["reached_98"] = run.get("reached_98", {}).get(r["name"])
    decoded = run.get("decoded") or {}
    sets = list(decoded) or run.get("test_sets", [])
    phases = ", ".join(f"{k} {v:.0f} s" for k, v in (run.get("phase_seconds") or {}).items())
    return [
        f"## Seed {seed}",
        "",
        environment_line(run["environment"]) + f" Commit {run.get('commit') or 'unknown'}.",
        "",
        f"Corpus: {run['corpus_hours']:.2f} h of training speech ({plan['num_train']} "
        f"utterances, nine voices); sets decoded (utterances every model decoded): "
        + (", ".join(f"{t} ({n})" for t, n in decoded.items()) or "none")
        + ". "
        + model_sentence(plan)
        + f" {plan['epochs']} epochs (budget runs: their share, rounded half up), "
        f"`--seed {seed}`, {run['parallel']} runs at a time on one device. Fitted runs "
        f"(`--lr_fit linear`) warm up over the same {plan['warmup']} steps as `warmuplr`, then "
        f"decay to 0 at their last step. Decoding: ESPnet's `Speech2Text`, beam {plan['beam']}, "
        f"CTC weight 0.3, `valid.acc.ave.pth` ({plan['nbest']} best). Phases: {phases}.",
        "",
        "Full data on `warmuplr` "
        + ("reached a plateau" if run.get("baseline_plateau") else "had NOT reached a plateau")
        + f" (valid accuracy gain < {plan['plateau_delta']} over the last "
        f"{plan['plateau_window']} epochs). Steps to target: optimizer steps until valid acc "
        f"first reached 0.98 x its final ({cell(comparison.target_valid_acc, '.4f')}). "
        "Frontier ratio: on final valid accuracy, against this seed's budget runs.",
        "",
        *(f"- {note}" for note in run.get("notes", [])),
        *([""] if run.get("notes") else []),
        wer_table(rows, sets),
        "",
    ]


def rebuild(root: Path, variants: Sequence[Variant], small: bool = False,
            title: str = "`bash bench/gpu/run.sh --sweep --seed N`") -> str:  # fmt: skip
    """``RESULTS_sweep.md`` from every seed folder under ``root``: each seed's table, then the
    frontier over all seeds (seed means)."""
    lines = [f"# WER sweep ({title})", ""]
    lines += banner(small, "tiny corpus and model; the error rates mean nothing")
    seeds = load_seeds(root)
    if not seeds:
        return "\n".join([*lines, "No seed has been run yet: `bash bench/gpu/run.sh --sweep "
                           "--seed 0` on a GPU machine (one 9-minute command).", ""])  # fmt: skip
    lines += [
        f"Seeds: {', '.join(str(s) for s in seeds)} (one GPU run each; "
        f"`bench/gpu/results/sweep/seed<N>/`). This file is rebuilt from them by "
        "`bash bench/gpu/run.sh --sweep --rebuild`. Times are not compared: the runs of a seed "
        "shared one GPU.",
        "",
    ]
    for seed, run in seeds.items():
        lines += seed_section(root, seed, run, variants)
    names = [v.name for v in variants]
    combined = all_seeds(root, names)
    lines += ["## The frontier over all seeds (seed means)", ""]
    if combined is None:
        lines += ["No saved run.", ""]
        return "\n".join(lines) + "\n"
    comparison, experiments = combined
    lines += ["\n\n".join(frontier_tables(comparison)), ""]
    dev = [t for t in comparison.test_sets.get("WER", []) if t.startswith("dev")]
    test = [t for t in comparison.test_sets.get("WER", []) if t == "test_indomain"]
    report = build_decision(experiments, comparison, dev or None, test or None)
    lines += [render_decision(report).replace("## Intervals", "## All seeds: intervals", 1)]
    lines += cross_check(root, list(seeds), names)
    return "\n".join(lines) + "\n"


def cross_check(root: Path, seeds: Sequence[int], names: Sequence[str]) -> list[str]:
    """CTC greedy against beam search on the dev utterances beam search reached: per variant,
    both WERs over the same utterances and seeds (does the cheap search rank as the stock one?)."""
    rows, sizes = [], set()
    for name in names:
        errs: dict[str, list[int]] = {"greedy": [0, 0], "beam": [0, 0]}
        found = False
        for seed in seeds:
            exp = seed_dir(root, seed) / "exp" / name
            beams = sorted(exp.glob("decode_beam*/dev/score_wer/per_utt.tsv"))
            greedy = exp / "decode_ctc_greedy" / "dev" / "score_wer" / "per_utt.tsv"
            if not beams or not greedy.is_file():
                continue
            beam_rows, greedy_rows = read_tsv(beams[-1]), read_tsv(greedy)
            utts = [u for u in beam_rows if u in greedy_rows]
            sizes.add(len(utts))
            found = True
            for key, table in (("beam", beam_rows), ("greedy", greedy_rows)):
                errs[key][0] += sum(table[u].errors for u in utts)
                errs[key][1] += sum(table[u].ref for u in utts)
        if found:
            g, b = (100 * e / max(n, 1) for e, n in (errs["greedy"], errs["beam"]))
            rows.append(f"| {name} | {b:.2f} | {g:.2f} | {g - b:+.2f} |")
    if not rows:
        return []
    return [
        "## CTC greedy search against beam search (dev)",
        "",
        "| variant | WER beam search (%) | WER CTC greedy (%) | greedy - beam |",
        "|---|---|---|---|",
        *rows,
        "",
        f"On the dev utterances that beam search decoded ({'/'.join(map(str, sorted(sizes)))} per "
        "seed), all seeds pooled. The decision above uses CTC greedy search on every utterance; "
        "it stands for the stock search where the ranking of the variants is the same in both "
        "columns.",
        "",
    ]
