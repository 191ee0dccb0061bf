#!/usr/bin/env python3
"""Quick GPU timing: (a) full data, (b) Easy2hard 0.7, (d) Easy2hard 0.7 + 20 ms chunks 0.3.

Responsible for one short, sequential timing run that fits a 15-minute GPU loan: synthesize a
corpus, collect statistics, train the three variants of ``bench.py`` for a few epochs each with
the LibriSpeech-100 conformer, and report per-epoch medians (epochs 2+) and their ratios, the
plugin's seconds, the time spent waiting for data, and GPU busy time. Not responsible for error
rates (nothing is decoded: the runs are far too short to converge; see ``sweep.py`` for WER) nor
for installing anything (``run.sh --quick`` does that first).

    bash bench/gpu/run.sh --quick            # GPU
    bash bench/gpu/run.sh --quick --small    # CPU smoke run of the same pipeline

Sizing: install, synthesis, statistics and the three runs must fit ONE 9-minute command (540 s)
on one H100. From the H200 figures of DESIGN.md section 5 (the GPU was busy 33-39% of the time,
so ESPnet is bound by per-step overhead, and an H100 should be close to an H200 here) and the
synthesis speed measured on the project's CPU machine:

==========================  ==========================================  ============
step                        estimate                                    7 h, 6 epochs
==========================  ==========================================  ============
install (run.sh)            pip from local wheels, ~40 packages         30 s
synthesis                   ~0.09 CPU-s per utterance, 16 cores at 75%  75 s
statistics                  espnet import 28 s + features               50 s
(a) full data               6 x (15 s x 7/13.9 + 3 s validation)        64 s
(b) easy2hard 0.7           epoch 1 as (a), then 0.7 x 1.08 per batch   54 s
(d) + chunk 0.3             epoch 1 as (a), then loop / 1.78            47 s
start-up of the 3 runs      3 x (28 s import + ~7 s model/CUDA/loader)  105 s
total                                                                   ~425 s
==========================  ==========================================  ============

The 14 h corpus of the full benchmark would need ~150 s of synthesis, ~70 s of statistics and
~330 s of training with the same start-up: ~685 s, over the limit; hence 10,000 utterances
(~7 h at ~2.5 s each), 300 dev utterances (validation ~3 s an epoch), 6 epochs (5 epochs after
the warm-up for the medians) and about 2 minutes of margin for what is only estimated.
The report is rewritten after every run, so a command cut short still leaves finished runs.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import os
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from common import BENCH, load_records, log, median  # noqa: E402

import bench as gpu  # noqa: E402
from espnet_ddp.report.train_log import parse_train_log  # noqa: E402

QUICK = dataclasses.replace(
    gpu.FULL, num_train=10_000, num_dev=300, num_test=0, epochs=6, max_epochs=6, extend_by=0,
    warmup=150, nbest=1,
)  # fmt: skip
QUICK_SMALL = dataclasses.replace(gpu.SMALL, num_test=0, epochs=3, max_epochs=3, nbest=1)
RUNS = ("a_full", "b_e2h", "d_e2h_drop20")
FIRST_COMPARED = 2  # epoch 1 of a pruned run trains on all data (warm-up): medians skip it


def epoch_figures(exp: Path, smi_files: list[Path]) -> list[dict]:
    """Per epoch: train loop, wall, steps, audio fed, plugin seconds, data wait, GPU busy.

    Data wait = ESPnet's ``iter_time`` (mean seconds per iteration spent in ``next()`` on the
    loader, as logged, 3 significant digits) x the iterations of the epoch. GPU busy = the
    sampled ``utilization.gpu`` integrated over the training loop, taken as the ``train_seconds``
    that end where validation began (the results line's time minus ``[valid] time``).
    """
    records = {r["epoch"]: r for r in load_records(exp)}
    text = "".join(p.read_text(errors="replace") for p in sorted(exp.glob("train*.log")))
    samples = [s for f in smi_files for s in gpu.read_smi_samples(f)]
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
            busy = gpu.busy_seconds(samples, end - datetime.timedelta(seconds=train_s), end)
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


def _ratio(base: float | None, value: float | None) -> float | None:
    return None if not base or not value else base / value


def _f(value: float | None, spec: str) -> str:
    return "n/a" if value is None else format(value, spec)


def markdown(report: dict) -> str:
    """The quick report: timeline, then one row per run (medians of epochs 2+, ratios)."""
    plan, rows, env = report["plan"], report["runs"], report["environment"]
    lines = ["# Quick GPU timing (`bash bench/gpu/run.sh --quick`)", ""]
    if report["small"]:
        lines += [
            "> **CPU `--small` figures**: a smoke run of the pipeline on a tiny corpus and model; "
            "they say nothing about GPU speed.",
            "",
        ]
    lines += [
        gpu.environment_line(env),
        "",
        f"Corpus: {report['corpus_hours']:.2f} h of training speech ({plan['num_train']} "
        f"utterances), {plan['num_dev']} dev. Model: conformer {plan['blocks']}x{plan['dim']}, "
        f"decoder {plan['dec_blocks']}x{plan['dec_ffn']}, {report['params_m']} M parameters, "
        f"numel batches of {plan['batch_bins']:,} bins, accum_grad 1"
        + (", AMP" if report["ngpu"] else "")
        + f"; {report['max_epoch']} epochs per run.",
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
        share = _ratio(busy, m.get("train_seconds")) if busy is not None else None
        fed = m.get("fed_seconds")
        lines.append(
            f"| {row['label']} | {_f(m.get('train_seconds'), '.2f')} "
            f"| {_f(_ratio(base.get('train_seconds'), m.get('train_seconds')), '.2f')}x "
            f"| {_f(m.get('wall_seconds'), '.2f')} "
            f"| {_f(_ratio(base.get('wall_seconds'), m.get('wall_seconds')), '.2f')}x "
            f"| {_f(m.get('optimizer_steps'), '.0f')} | {_f(fed and fed / 3600, '.3f')} "
            f"| {_f(m.get('plugin_seconds'), '.3f')} | {_f(m.get('data_wait_seconds'), '.2f')} "
            f"| {_f(busy, '.2f')}"
            + (f" ({100 * share:.0f}%)" if share is not None else "")
            + f" | {_f(row.get('startup_seconds'), '.1f')} |"
        )
    return "\n".join(lines) + "\n"


def run_report(exp_root: Path, results: dict[str, dict], variants: dict) -> dict[str, dict]:
    """Per-epoch figures and medians of every finished run."""
    rows = {}
    for name, result in results.items():
        exp = exp_root / name
        epochs = epoch_figures(exp, [exp / result["smi"]])
        walls = sum(e["wall_seconds"] or 0.0 for e in epochs)
        rows[name] = {
            "label": variants[name][0],
            "median": medians(epochs),
            "epochs": epochs,
            "process_seconds": result["process_seconds"],
            "startup_seconds": result["process_seconds"] - walls,
            "gpu": result["gpu"],
            "command": " ".join(result["command"]),
        }
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--small", action="store_true", help="tiny CPU run of the pipeline")
    parser.add_argument("--dry", action="store_true", help="print the plan and runs only")
    gpu.add_setup_options(parser, "quick")
    parser.add_argument("--num_train", type=int, default=None, help="override the plan's")
    parser.add_argument("--epochs", type=int, default=None, help="override the plan's")
    parser.add_argument("--results_md", type=Path, default=BENCH / "gpu" / "RESULTS_quick.md")
    args = parser.parse_args(argv)

    plan = QUICK_SMALL if args.small else QUICK
    overrides = {"num_train": args.num_train, "epochs": args.epochs}
    plan = dataclasses.replace(plan, **{k: v for k, v in overrides.items() if v is not None})
    variants = {k: v for k, v in gpu.variants(plan).items() if k in RUNS}
    if args.dry:
        print(json.dumps({"plan": dataclasses.asdict(plan), "variants": variants}, indent=1))
        return 0
    t0 = float(os.environ.get("BENCH_T0") or time.time())
    timeline: dict[str, float | None] = {"install and start": time.time() - t0}
    out = args.out or BENCH / "gpu" / "out" / ("quick_small" if args.small else "quick")
    ngpu, _, corpus, started = gpu.set_up(plan, out, args.ngpu, args.nj)
    timeline["synthesis and statistics"] = time.perf_counter() - started
    results: dict[str, dict] = {}
    report: dict = {}
    for name, (label, extra) in variants.items():
        log(f"training {name}: {label} ({plan.epochs} epochs)")
        shutil.rmtree(out / "exp" / name, ignore_errors=True)  # time a fresh run, never a resume
        results[name] = gpu.train(corpus, out, name, extra, plan.epochs, ngpu, 200)
        timeline[name] = results[name]["process_seconds"]
        timeline.pop("total", None)
        timeline["total"] = time.time() - t0
        report = {
            "small": args.small,
            "environment": gpu.environment(ngpu),
            "plan": dataclasses.asdict(plan),
            "ngpu": ngpu,
            "max_epoch": plan.epochs,
            "corpus_hours": corpus.hours(),
            "params_m": gpu.count_params(out),
            "timeline": timeline,
            "runs": run_report(out / "exp", results, variants),
        }
        (out / "quick.json").write_text(json.dumps(report, indent=1, default=str))
        (out / "quick.md").write_text(markdown(report))
    md = markdown(report)
    args.results_md.write_text(md)
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
