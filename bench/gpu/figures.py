"""Reading back what a training wrote: per-epoch figures, medians, valid accuracy, plateaus.

Responsible for the numbers the timing tables are made of, from the plugin's records
(``data_pruning/epoch<N>.json``), ESPnet's ``train.log`` and the ``nvidia-smi`` samples. Not
responsible for how they look (:mod:`gpu.quick_report`, :mod:`gpu.full_report`) nor for the
comparison across runs of the sweep (:mod:`espnet_ddp.report`, via :mod:`gpu.sweep_report`).
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from pathlib import Path

from common import epoch_stats, load_records, median

from espnet_ddp.report.train_log import parse_train_log

from .smi import busy_seconds, read_smi_samples

FIRST_COMPARED = 2  # epoch 1 of a pruned run trains on all data (warm-up): medians skip it


def epoch_figures(exp: Path, smi_files: Sequence[Path] = ()) -> list[dict]:
    """Per epoch: train loop, wall, steps, audio fed, plugin seconds, data wait, GPU busy.

    Data wait = ESPnet's ``iter_time`` (mean seconds per iteration spent in ``next()`` on the
    loader, as logged, 3 significant digits) x the iterations of the epoch. GPU busy = the
    sampled ``utilization.gpu`` integrated over the training loop, taken as the ``train_seconds``
    that end where validation began (the results line's time minus ``[valid] time``). Wall =
    epoch start to the next epoch's start in ``train.log`` (loop, validation, checkpoint).
    """
    records = {r["epoch"]: r for r in load_records(exp)}
    text = "".join(p.read_text(errors="replace") for p in sorted(exp.glob("train*.log")))
    samples = [s for f in smi_files for s in read_smi_samples(f)]
    out, previous_count = [], 0.0
    for epoch in parse_train_log(text).epochs:
        rec = records.get(epoch.epoch, {})
        count = epoch.train.get("total_count")
        iterations = None if count is None else count - previous_count
        previous_count = count if count is not None else previous_count
        iter_time = epoch.train.get("iter_time")
        train_s = rec.get("train_seconds")
        busy = None
        if samples and train_s and epoch.reported is not None:
            end = epoch.reported - datetime.timedelta(seconds=epoch.valid.get("time", 0.0))
            busy = busy_seconds(samples, end - datetime.timedelta(seconds=train_s), end)
        out.append(
            {
                "epoch": epoch.epoch,
                "phase": rec.get("phase"),
                "train_seconds": train_s,
                "wall_seconds": epoch.wall_seconds,
                "optimizer_steps": rec.get("optimizer_steps"),
                "fed_seconds": rec.get("fed_seconds"),
                "plugin_seconds": rec.get("plugin_seconds"),
                "data_wait_seconds": None
                if iter_time is None or iterations is None
                else iter_time * iterations,
                "gpu_busy_seconds": busy,
            }
        )
    return out


def medians(epochs: list[dict], first: int = FIRST_COMPARED) -> dict[str, float | None]:
    """Median of every figure over epochs >= ``first`` (None where any epoch lacks it)."""
    later = [e for e in epochs if e["epoch"] >= first]
    keys = [k for k in (epochs[0] if epochs else {}) if k not in ("epoch", "phase")]
    out = {}
    for key in keys:
        values = [e[key] for e in later]
        out[key] = None if not values or any(v is None for v in values) else median(values)
    return out


def timing(exp: Path) -> dict:
    """The full benchmark's figures: medians of epochs 2+ (all epochs of a 1-epoch run) of the
    train loop, steps and plugin share; sums of train loop, wall and audio fed."""
    epochs = [e for e in epoch_figures(exp) if e["train_seconds"] is not None]
    first = FIRST_COMPARED if any(e["epoch"] >= FIRST_COMPARED for e in epochs) else 1
    m = medians(epochs, first)
    later = [e for e in epochs if e["epoch"] >= first]
    return {
        "epochs": len(epochs),
        "median_train_seconds": m.get("train_seconds"),
        "total_train_seconds": sum(e["train_seconds"] for e in epochs),
        "total_wall_seconds": sum(e["wall_seconds"] or 0.0 for e in epochs),
        "median_steps": m.get("optimizer_steps"),
        "fed_hours": sum(e["fed_seconds"] or 0.0 for e in epochs) / 3600,
        "plugin_share": median([e["plugin_seconds"] / e["train_seconds"] for e in later]),
    }


def valid_acc(exp: Path) -> dict[int, float]:
    """Epoch -> validation accuracy, from ``train*.log``."""
    stats = epoch_stats(exp)
    return {e: s["valid"]["acc"] for e, s in stats.items() if "acc" in s.get("valid", {})}


def plateaued(acc: dict[int, float], window: int, delta: float) -> bool:
    """True when the best valid accuracy of the last ``window`` epochs gained < ``delta``.

    >>> plateaued({1: 0.5, 2: 0.7, 3: 0.7005, 4: 0.701}, 2, 0.002), plateaued({1: 0.5}, 2, 0.002)
    (True, False)
    """
    epochs = sorted(acc)
    if len(epochs) <= window:
        return False
    before = max(acc[e] for e in epochs[:-window])
    return max(acc[e] for e in epochs[-window:]) - before < delta


def count_params(exp: Path) -> float:
    """Millions of parameters of an experiment's saved model (nan when none is saved)."""
    import torch

    model = next(iter(sorted(exp.glob("*epoch.pth"))), None)
    if model is None:
        return float("nan")
    state = torch.load(model, map_location="cpu")
    return round(sum(v.numel() for v in state.values()) / 1e6, 2)
