"""PNG figures of a comparison (matplotlib, no display needed).

Responsible for five kinds of figure, written into one folder:

- ``frontier.png``: the budget curve (full data on the fitted schedule, convex hull)
  and every other configuration's seed means, against audio fed, for valid accuracy and each
  decoded test set's WER, and valid accuracy against wall time (compare only runs timed alike);
- ``data_per_epoch.png``: kept ratio and seconds of audio fed per epoch, all experiments;
- ``scores_<experiment>.png``: per epoch, the scores the selection saw, kept ones in colour;
- ``valid_vs_wall_time.png``: validation loss and accuracy against wall-clock time, all
  experiments on one axis (does pruning reach the same quality sooner?), with the target
  accuracy as a dashed line and a star where each run first reached it;
- ``wer_vs_sample_rate.png``: WER per evaluation sampling rate, when such results exist.

Uses ``matplotlib.figure.Figure`` directly, so no pyplot state or GUI backend is touched.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from espnet_ddp.report.experiment import Experiment
from espnet_ddp.report.frontier import Curve
from espnet_ddp.report.frontier_table import CURVE, FULL_OTHER, Frontier
from espnet_ddp.report.pruning_log import PruningLog
from espnet_ddp.report.table import Comparison

MAX_POINTS_PER_EPOCH = 1500


def _save(fig: Figure, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return path


def _file_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("_") or "experiment"


def plot_data_per_epoch(experiments: list[Experiment], path: Path) -> Path | None:
    """Kept ratio and fed seconds per epoch; None when no experiment has pruning records."""
    with_records = [e for e in experiments if e.pruning is not None and e.pruning.epochs]
    if not with_records:
        return None
    fig = Figure(figsize=(10, 4))
    ratio_ax, fed_ax = fig.subplots(1, 2)
    for exp in with_records:
        assert exp.pruning is not None
        ratio_ax.plot(*exp.pruning.series("kept_ratio"), marker=".", label=exp.name)
        fed_ax.plot(*exp.pruning.series("fed_seconds"), marker=".", label=exp.name)
    ratio_ax.set(xlabel="epoch", ylabel="kept ratio (utterances)", ylim=(0, 1.05))
    for ax in (ratio_ax, fed_ax):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    fed_ax.set(xlabel="epoch", ylabel="audio fed (s)")
    fed_ax.set_ylim(bottom=0)
    ratio_ax.legend(fontsize="small")
    return _save(fig, path)


def selection_scores(pruning: PruningLog) -> list[tuple[int, dict[str, float], set[str]]]:
    """Per epoch: (epoch, scores the selection could see, kept ids).

    The scores of epoch N rebuild the table the selection used: every utterance's scores from
    epochs before N, merged as the score table does (last value, or its EMA); non-finite scores
    are skipped. An epoch with no earlier scores (warm-up) shows its own.
    """
    table: dict[str, float] = {}
    out = []
    b = pruning.ema
    for record in pruning.epochs:
        seen = dict(table) if table else record.scores
        kept = set(record.kept) if record.kept else set(seen)
        if seen:
            out.append((record.epoch, seen, kept))
        for utt, score in record.scores.items():
            if math.isfinite(score):
                table[utt] = b * table[utt] + (1 - b) * score if utt in table else score
    return out


def plot_scores(exp: Experiment, path: Path) -> Path | None:
    """Score distribution per epoch, kept utterances in colour; None without scores."""
    if exp.pruning is None:
        return None
    epochs = selection_scores(exp.pruning)
    if not epochs:
        return None
    rng = np.random.default_rng(0)
    fig = Figure(figsize=(10, 4.5))
    ax = fig.subplots()
    for epoch, scores, kept in epochs:
        ids = list(scores)
        if len(ids) > MAX_POINTS_PER_EPOCH:
            ids = [ids[i] for i in rng.choice(len(ids), MAX_POINTS_PER_EPOCH, replace=False)]
        values = np.array([scores[u] for u in ids])
        is_kept = np.array([u in kept for u in ids], dtype=bool)
        x = epoch + rng.uniform(-0.3, 0.3, size=len(ids))
        ax.scatter(x[~is_kept], values[~is_kept], s=3, c="lightgray", rasterized=True)
        ax.scatter(x[is_kept], values[is_kept], s=3, c="tab:blue", rasterized=True)
    ax.scatter([], [], c="tab:blue", label="kept")
    ax.scatter([], [], c="lightgray", label="pruned")
    ax.set(
        xlabel="epoch", ylabel="score", title=f"{exp.name}: scores seen by each epoch's selection"
    )
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.legend(loc="upper right", fontsize="small")
    return _save(fig, path)


def valid_vs_wall_figure(
    experiments: list[Experiment], comparison: Comparison | None = None
) -> Figure | None:
    """The figure of :func:`plot_valid_vs_wall_time`; None without any train.log.

    With a ``comparison`` that has a target, the accuracy axis gets the target as a dashed
    horizontal line and a star on each curve where the run first reached it.
    """
    logged = [e for e in experiments if e.train_log is not None and e.train_log.epochs]
    if not logged:
        return None
    fig = Figure(figsize=(10, 4))
    loss_ax, acc_ax = fig.subplots(1, 2)
    hits = {}
    if comparison is not None:
        hits = {r.experiment: r.time_to_target for r in comparison.rows if r.time_to_target}
    for exp in logged:
        assert exp.train_log is not None
        minutes = [w / 60 for w in exp.train_log.cumulative_wall()]
        epochs = list(zip(minutes, exp.train_log.epochs, strict=True))
        for ax, key in ((loss_ax, "loss"), (acc_ax, "acc")):
            pairs = [(m, e.valid[key]) for m, e in epochs if key in e.valid]
            if pairs:
                (line,) = ax.plot(*zip(*pairs, strict=True), marker=".", label=exp.name)
                if key == "acc" and (hit := hits.get(exp.name)) is not None:
                    ax.plot([hit.wall_seconds / 60], [hit.valid_acc], marker="*",
                            markersize=14, color=line.get_color(), linestyle="none",
                            gid=f"target_hit:{exp.name}")  # fmt: skip
    if comparison is not None and (target := comparison.target_valid_acc) is not None:
        label = f"target {target:.3f} ({comparison.target_fraction:g} x reference)"
        acc_ax.axhline(target, color="gray", linestyle="--", linewidth=1, gid="target_line",
                       label=label)  # fmt: skip
    loss_ax.set(xlabel="wall time (min)", ylabel="validation loss")
    acc_ax.set(xlabel="wall time (min)", ylabel="validation accuracy")
    acc_ax.legend(fontsize="small")
    return fig


def plot_valid_vs_wall_time(
    experiments: list[Experiment], path: Path, comparison: Comparison | None = None
) -> Path | None:
    """Validation loss and accuracy against wall-clock minutes (target marked when given)."""
    fig = valid_vs_wall_figure(experiments, comparison)
    return None if fig is None else _save(fig, path)


def plot_wer_vs_sample_rate(comparison: Comparison, path: Path) -> Path | None:
    """WER against evaluation sampling rate, one line per experiment, test set and mode."""
    lines = [
        (f"{row.experiment} {test_set} {mode}", sorted(by_rate.items()))
        for row in comparison.rows
        for test_set, modes in row.sample_rates.items()
        for mode, by_rate in modes.items()
    ]
    if not lines:
        return None
    fig = Figure(figsize=(7, 4.5))
    ax = fig.subplots()
    for label, points in lines:
        ax.plot(*zip(*points, strict=True), marker="o", label=label)
    ax.set(xlabel="evaluation sampling rate (Hz)", ylabel="WER (%)")
    ax.invert_xaxis()
    ax.legend(fontsize="x-small")
    return _save(fig, path)


def _draw_curve(ax, curve: Curve, frontier: Frontier, metric: str, test_set: str | None) -> None:
    xs = [p.audio_hours for p in curve.points]
    ax.plot(xs, [p.envelope for p in curve.points], color="black", linewidth=2,
            label="budget curve (fitted LR, convex hull)", gid="curve")  # fmt: skip
    ax.scatter(xs, [p.value for p in curve.points], color="black", zorder=3)
    for p in curve.points:
        ax.annotate(p.label, (p.audio_hours, p.value), fontsize="x-small",
                    textcoords="offset points", xytext=(3, 3))  # fmt: skip
    for c in frontier.configurations:
        value = c.valid_acc if test_set is None else c.wer.get(test_set)
        if c.kind == CURVE or value is None or c.audio_hours is None:
            continue
        marker = "s" if c.kind == FULL_OTHER else "o"
        ax.scatter([c.audio_hours], [value], marker=marker, zorder=3,
                   label=f"{c.label} ({c.schedule}, {c.seeds} seed{'s' * (c.seeds > 1)})")
    ax.set(xlabel="audio fed (h)", ylabel=metric)


def frontier_figure(frontier: Frontier) -> Figure:
    """The figure of :func:`plot_frontier`."""
    panels = 1 + len(frontier.wer_curves) + 1
    fig = Figure(figsize=(5.2 * panels, 4.5))
    axes = np.atleast_1d(fig.subplots(1, panels))
    _draw_curve(axes[0], frontier.acc_curve, frontier, "final valid accuracy", None)
    for ax, (test_set, curve) in zip(axes[1:], frontier.wer_curves.items(), strict=False):
        _draw_curve(ax, curve, frontier, f"WER {test_set} (%)", test_set)
    wall = axes[-1]
    for c in frontier.configurations:
        if c.wall_seconds is not None and c.valid_acc is not None:
            marker = {CURVE: "D", FULL_OTHER: "s"}.get(c.kind, "o")
            wall.scatter([c.wall_seconds / 60], [c.valid_acc], marker=marker, label=c.label)
    wall.set(xlabel="training wall time (min; compare runs timed alike)",
             ylabel="final valid accuracy")  # fmt: skip
    for ax in axes:  # every panel says what its marks are
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize="x-small")
    return fig


def plot_frontier(frontier: Frontier | None, path: Path) -> Path | None:
    """The frontier figure; None without a frontier."""
    return None if frontier is None else _save(frontier_figure(frontier), path)


def write_plots(experiments: list[Experiment], comparison: Comparison, out_dir: Path) -> list[Path]:
    """Writes every figure that has data into ``out_dir``; returns the files written."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = [
        plot_frontier(comparison.frontier, out_dir / "frontier.png"),
        plot_data_per_epoch(experiments, out_dir / "data_per_epoch.png"),
        plot_valid_vs_wall_time(experiments, out_dir / "valid_vs_wall_time.png", comparison),
        plot_wer_vs_sample_rate(comparison, out_dir / "wer_vs_sample_rate.png"),
    ]
    for index, exp in enumerate(experiments):
        name = f"scores_{index}_{_file_name(exp.name)}.png"
        written.append(plot_scores(exp, out_dir / name))
    return [p for p in written if p is not None]
