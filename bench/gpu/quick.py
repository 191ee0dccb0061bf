"""The quick plan: (a) full data, (b) Easy2hard 0.7, (d) Easy2hard 0.7 + 20 ms chunks 0.3, timed.

Responsible for one short, sequential timing run that fits ONE 9-minute command: synthesize a
corpus, collect statistics, train the three variants of the full benchmark (:mod:`gpu.full`)
for a few epochs each with the LibriSpeech-100 conformer, and report per-epoch medians (epochs
2+) and their ratios against issue 12's goal for (d), >= 1.9x in the train loop and >= 1.8x in
wall time per epoch, with the plugin's seconds, the time spent waiting for data and GPU busy
time. Not responsible for error rates (nothing is decoded: the runs are far too short to
converge; ``--sweep`` measures WER) nor for installing anything (``run.sh`` does that first).

    bash bench/gpu/run.sh --quick            # GPU
    bash bench/gpu/run.sh --quick --small    # CPU smoke run of the same pipeline

Sizing: install, synthesis, statistics and the three runs must fit ONE 9-minute command (540 s)
on one H200. From the H200 figures of DESIGN.md section 5 (the GPU was busy 33-39% of the time,
so ESPnet is bound by per-step overhead) and the synthesis speed measured on the project's CPU
machine:

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
import json
import os
import shutil
import time
from pathlib import Path

from common import log

from . import full
from .corpus import set_up
from .environment import environment
from .figures import count_params, epoch_figures, medians
from .plan import FULL, SMALL, Plan
from .quick_report import markdown
from .training import Run, train
from .variants import Variant, dry_listing

NAME, RESULTS_MD = "quick", "RESULTS_quick.md"
QUICK = FULL.replace(
    num_train=10_000, num_dev=300, num_test=0, epochs=6, max_epochs=6, extend_by=0, warmup=150,
    nbest=1,
)  # fmt: skip
QUICK_SMALL = SMALL.replace(num_test=0, epochs=3, max_epochs=3, nbest=1)
RUNS = ("a_full", "b_e2h", "d_e2h_drop20")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--num_train", type=int, default=None, help="override the plan's")
    parser.add_argument("--epochs", type=int, default=None, help="override the plan's")


def plan_of(args: argparse.Namespace) -> Plan:
    plan = QUICK_SMALL if args.small else QUICK
    return plan.replace(num_train=args.num_train, epochs=args.epochs)


def runs(plan: Plan) -> list[Variant]:
    """(a), (b) and (d) of the full benchmark, in that order."""
    return [v for v in full.variants(plan) if v.name in RUNS]


def dry(args: argparse.Namespace) -> dict:
    plan = plan_of(args)
    return {"plan": dataclasses.asdict(plan), "variants": dry_listing(runs(plan), plan.epochs)}


def run_report(exp_root: Path, results: dict[str, dict], labels: dict[str, str]) -> dict:
    """Per-epoch figures, medians and start-up seconds of every finished run."""
    rows = {}
    for name, result in results.items():
        exp = exp_root / name
        epochs = epoch_figures(exp, [exp / result["smi"]])
        walls = sum(e["wall_seconds"] or 0.0 for e in epochs)
        rows[name] = {
            "label": labels[name],
            "median": medians(epochs),
            "epochs": epochs,
            "process_seconds": result["process_seconds"],
            "startup_seconds": result["process_seconds"] - walls,
            "gpu": result["gpu"],
            "command": " ".join(result["command"]),
        }
    return rows


def run(args: argparse.Namespace) -> int:
    plan = plan_of(args)
    variants = runs(plan)
    t0 = float(os.environ.get("BENCH_T0") or time.time())
    timeline: dict[str, float | None] = {"install and start": time.time() - t0}
    ngpu, _, corpus, started = set_up(plan, args.out, args.ngpu, args.nj)
    timeline["synthesis and statistics"] = time.perf_counter() - started
    results: dict[str, dict] = {}
    report: dict = {}
    for variant in variants:
        log(f"training {variant.name}: {variant.label} ({plan.epochs} epochs)")
        shutil.rmtree(args.out / "exp" / variant.name, ignore_errors=True)  # never a resume
        one = Run(variant.name, variant.args(plan.epochs), plan.epochs)
        results[variant.name] = train(corpus, args.out, one, ngpu, smi_period_ms=200)
        timeline[variant.name] = results[variant.name]["process_seconds"]
        timeline.pop("total", None)
        timeline["total"] = time.time() - t0
        report = {
            "small": args.small,
            "environment": environment(ngpu),
            "plan": dataclasses.asdict(plan),
            "ngpu": ngpu,
            "max_epoch": plan.epochs,
            "corpus_hours": corpus.hours(),
            "params_m": count_params(args.out / "exp" / "a_full"),
            "timeline": timeline,
            "runs": run_report(args.out / "exp", results, {v.name: v.label for v in variants}),
        }
        (args.out / "quick.json").write_text(json.dumps(report, indent=1, default=str))
        (args.out / "quick.md").write_text(markdown(report))
    md = markdown(report)
    args.results_md.write_text(md)
    print(md)
    return 0
