"""The quick timing report: timeline, one row per run (medians of epochs 2+ and their ratios),
and the goal's verdict.

Responsible for the Markdown of ``RESULTS_quick.md`` from the report dict :mod:`gpu.quick`
builds. Not responsible for the figures (:mod:`gpu.figures`).
"""

from __future__ import annotations

from .environment import environment_line
from .figures import FIRST_COMPARED
from .report import banner, cell, model_sentence, ratio

# issue 12's goal for (d) Easy2hard 0.7 + 20 ms chunks 0.3 against (a) full data, per epoch
GOAL_RUN, GOAL_TRAIN, GOAL_WALL = "d_e2h_drop20", 1.9, 1.8


def goal_sentence(runs: dict[str, dict]) -> str:
    """Whether (d)'s median train-loop and wall ratios to (a) reach the goal.

    >>> base = {"median": {"train_seconds": 20.0, "wall_seconds": 24.0}}
    >>> d = {"label": "(d) x", "median": {"train_seconds": 10.0, "wall_seconds": 14.0}}
    >>> print(goal_sentence({"a_full": base, "d_e2h_drop20": d}))
    Goal: (d) x >= 1.9x faster than (a) per epoch in the train loop and >= 1.8x in wall time: \
2.00x train loop, 1.71x wall -> NOT met.
    """
    want = (f">= {GOAL_TRAIN}x faster than (a) per epoch in the train loop and >= {GOAL_WALL}x "
            "in wall time")  # fmt: skip
    base, run = runs.get("a_full", {}).get("median", {}), runs.get(GOAL_RUN)
    if run is None:
        return f"Goal: (d) {want}: (d) did not run -> open."
    m = run["median"]
    train = ratio(base.get("train_seconds"), m.get("train_seconds"))
    wall = ratio(base.get("wall_seconds"), m.get("wall_seconds"))
    if train is None or wall is None:
        verdict = "open (a figure is missing)"
    else:
        verdict = "met" if train >= GOAL_TRAIN and wall >= GOAL_WALL else "NOT met"
    return (f"Goal: {run['label']} {want}: {cell(train, '.2f')}x train loop, "
            f"{cell(wall, '.2f')}x wall -> {verdict}.")  # fmt: skip


def markdown(report: dict) -> str:
    """The quick report: timeline, then one row per run (medians of epochs 2+, ratios), goal."""
    plan, rows = report["plan"], report["runs"]
    lines = ["# Quick GPU timing (`bash bench/gpu/run.sh --quick`)", ""]
    lines += banner(report["small"], "tiny corpus and model; they say nothing about GPU speed")
    lines += [
        environment_line(report["environment"]),
        "",
        f"Corpus: {report['corpus_hours']:.2f} h of training speech ({plan['num_train']} "
        f"utterances), {plan['num_dev']} dev. "
        + model_sentence(plan, report["params_m"], bool(report["ngpu"]))
        + f" {report['max_epoch']} epochs per run, each from scratch, one after the other.",
        "",
        "Timeline (s): "
        + ", ".join(f"{k} {v:.0f}" for k, v in report["timeline"].items() if v is not None)
        + ".",
        "",
        f"Medians over epochs {FIRST_COMPARED}+ (epoch 1 of a pruned run is its full-data "
        "warm-up). Train loop = the plugin's `train_seconds`; wall = epoch start to next epoch "
        "start in `train.log` (loop, validation, checkpoint); ratio = (a)'s median / this run's. "
        "Data wait = ESPnet's `iter_time` x iterations (time blocked on the loader). GPU busy = "
        "`nvidia-smi` `utilization.gpu` (share of time some kernel was running, not SM "
        "occupancy) sampled every 200 ms and integrated over the loop; % of the loop. Start-up = "
        "process time not inside an epoch (espnet import, model build, CUDA init).",
        "",
        "| run | train loop (s) | ratio | wall/epoch (s) | ratio | steps/epoch | audio fed/epoch "
        "(h) | plugin (s/epoch) | data wait (s/epoch) | GPU busy (s/epoch) | start-up (s) |",
        "|" + "---|" * 11,
    ]
    base = rows.get("a_full", {}).get("median", {})
    for row in rows.values():
        m = row["median"]
        busy = m.get("gpu_busy_seconds")
        share = ratio(busy, m.get("train_seconds")) if busy is not None else None
        fed = m.get("fed_seconds")
        lines.append(
            f"| {row['label']} | {cell(m.get('train_seconds'), '.2f')} "
            f"| {cell(ratio(base.get('train_seconds'), m.get('train_seconds')), '.2f')}x "
            f"| {cell(m.get('wall_seconds'), '.2f')} "
            f"| {cell(ratio(base.get('wall_seconds'), m.get('wall_seconds')), '.2f')}x "
            f"| {cell(m.get('optimizer_steps'), '.0f')} | {cell(fed and fed / 3600, '.3f')} "
            f"| {cell(m.get('plugin_seconds'), '.3f')} "
            f"| {cell(m.get('data_wait_seconds'), '.2f')} | {cell(busy, '.2f')}"
            + (f" ({100 * share:.0f}%)" if share is not None else "")
            + f" | {cell(row.get('startup_seconds'), '.1f')} |"
        )
    lines += ["", goal_sentence(rows)]
    return "\n".join(lines) + "\n"
