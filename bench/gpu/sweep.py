"""The sweep plan: the candidates on ESPnet's schedule, the budget baseline and the candidates on
the fitted schedule, trained CONCURRENTLY on one GPU, then decoded; WER table and frontier.

Responsible for the variant list (:data:`VARIANTS`), checking every variant before anything runs,
launching one training process per variant (at most ``--parallel`` at once), decoding every model
with stock ``espnet2.bin.asr_inference`` and the report: a WER table with steps, audio fed,
steps to full data's target accuracy and the frontier ratio, then the frontier itself
(:mod:`espnet_ddp.report.frontier_table`: the curve of the budget runs' end points and each
other run's ratio). Not responsible for timing: concurrent runs share the GPU, so their times
mean nothing (WER does not depend on them); ``--quick`` measures speed.

    bash bench/gpu/run.sh --sweep            # GPU: all 13 variants at once
    bash bench/gpu/run.sh --sweep --small    # CPU smoke run: tiny model, 3 epochs, 2 at a time

The variants (13):

- ESPnet's schedule (``warmuplr``; pruned runs with ``lr_trajectory=epoch``): full data (the
  reference of the steps to target), Easy2hard 0.7, random 0.7, InfoBatch (prune_prob 0.5),
  Easy2hard 0.7 + 20 ms chunks 0.3 with ``drop_schedule: linear_decay``;
- the budget baseline: full data for 0.3, 0.5, 0.7 and 1.0 of the epochs (rounded half up: 7,
  12, 17, 24 of 24) with ``--lr_fit linear``: the frontier's curve;
- the ``_lrfit`` twins of the four candidates: the same options with ``--lr_fit linear`` and no
  ``lr_trajectory``, each given its frontier ratio.

Dropped from the issue-7 sweep, which issue 12 no longer asks for: Easy2hard 0.6 and 0.5,
Easy2hard 0.7 + chunk 0.3 alone, with full audio first 1/4 and last 1/6, ``select: energy`` and
``ratio_by_score``, Easy2hard 0.7 + ``frames`` 0.3 and + ``tempo`` 0.3, point 0.3 and chunk 0.3
alone (9 runs). Added: random 0.7 (a candidate without a run there), 4 budget runs, 4 twins.

Sizing for ONE 9-minute command (540 s) on one H200 (about 139 GiB, 16 CPU cores), estimates
from DESIGN.md section 5 and the mini labs of docs/EVIDENCE.md, to be checked on the first GPU run:

- corpus: 3,000 training utterances (~2.1 h), 200 dev, 150 per test set: synthesis of 3,500
  utterances at ~0.09 CPU-s each on 16 cores ~30 s; statistics (espnet import 28 s) ~35 s;
- model: the first mini lab's conformer (4x144, decoder 2x576, ~5 M parameters), which converged
  in ~770 steps there; numel batches of 4e6 bins (~95 utterances): ~31 steps an epoch, 24 epochs
  744 steps, past the full-data plateau if that lab is a guide;
- steps (a batch holds the same bins, so steps follow the audio fed; pruned runs train epoch 1
  on all data): full data 744; Easy2hard 0.7 and random 0.7 31 + 23 x 0.7 x 31 ~ 530 each;
  InfoBatch ~0.75 kept after epoch 1 ~ 565; Easy2hard 0.7 + chunks decaying 0.3 -> 0 (~0.6 of
  the audio, as in the mini lab) ~ 445. ESPnet's schedule: 744 + 530 + 530 + 565 + 445 = 2,814;
  budget runs 7, 12, 17, 24 epochs: 217 + 372 + 527 + 744 = 1,860; twins 2,070. All 13 ~6,750
  steps (the issue-7 sweep's 14 runs: up to 14 x 744 ~ 10,400);
- training: 13 processes (and 13 loader workers) on 16 cores share the GPU by time-slicing. A
  step of this model is launch-bound (~15 ms of kernels), so the GPU serializes about
  6,750 x 15 ms ~ 100 s of work; with ~35 s of concurrent imports and ~25% for switching between
  the processes, ~160 s. Each 24-epoch run's own path (744 steps at ~50 ms of CPU, plus 24 x
  1.5 s of validation and checkpointing) is ~75 s, under that. GPU memory ~3 GB a process,
  ~40 GB in all;
- decoding: 13 models x 300 utterances, beam 5, 16 worker processes on the GPU (~0.12 s an
  utterance): ~30 s plus an import, ~60 s; scoring (52 score_asr calls) ~10 s; the report
  (13 experiments read back) ~5 s; install (run.sh) ~30 s.

Total 30 + 30 + 35 + 160 + 60 + 10 + 5 ~ 330 s: about 3.5 minutes (210 s) of margin for what is
only estimated (the issue-7 sweep was estimated at ~400 s). The report is written only at the
end: a command cut short leaves the experiment folders (``--decode_only`` decodes them).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

import yaml
from common import log

from .corpus import set_up
from .decoding import decode, merge_test_sets, score
from .environment import environment
from .figures import plateaued, valid_acc
from .plan import SMALL, Plan
from .smi import GpuSampler
from .sweep_report import collect, frontier_tables, markdown
from .training import Run, finished, train_all
from .variants import Variant, check_all, dry_listing, select

NAME, RESULTS_MD = "sweep", "RESULTS_sweep.md"
E2H70 = ("easy2hard", {"keep_ratio": 0.7})
CHUNK30_DECAY = ("chunk", {"drop_ratio": 0.3, "chunk_ms": 20, "drop_schedule": "linear_decay"})
# issue 12's candidates: name, label, data pruning, time drop
CANDIDATES = (
    ("e2h70", "easy2hard 0.7", E2H70, ("none", {})),
    ("random70", "random 0.7", ("random", {"keep_ratio": 0.7}), ("none", {})),
    ("infobatch", "infobatch, prune_prob 0.5", ("infobatch", {"prune_prob": 0.5}), ("none", {})),
    (
        "e2h70_chunk30_decay",
        "easy2hard 0.7 + chunk 0.3, drop_schedule: linear_decay",
        E2H70,
        CHUNK30_DECAY,
    ),  # fmt: skip
)
BUDGETS = (0.3, 0.5, 0.7, 1.0)

# The first is the reference of the steps to target (full data on ESPnet's schedule).
VARIANTS: tuple[Variant, ...] = (
    Variant("full", "full data"),
    *(Variant(name, label, pruning, drop) for name, label, pruning, drop in CANDIDATES),
    *(
        Variant(
            f"budget{share}", f"budget {share}: full data, fitted LR", lr_fit="linear", budget=share
        )
        for share in BUDGETS
    ),  # fmt: skip
    *(
        Variant(f"{name}_lrfit", f"{label}, fitted LR", pruning, drop, lr_fit="linear")
        for name, label, pruning, drop in CANDIDATES
    ),  # fmt: skip
)

SWEEP = Plan(
    num_train=3000, num_dev=200, num_test=150, epochs=24, max_epochs=24, extend_by=0,
    plateau_window=3, plateau_delta=0.002, dim=144, heads=4, ffn=576, blocks=4, kernel=15,
    dec_blocks=2, dec_ffn=576, lr=0.004, warmup=200, batch_bins=4_000_000, workers=1, nbest=3,
    beam=5, anneal_epochs=4,
)  # fmt: skip
# --small: an untrained model never ends its hypotheses, so decoding (on 2 CPU cores) is capped
# at 0.3 output tokens per encoder frame, and 3 utterances per test set.
SWEEP_SMALL = SMALL.replace(num_test=3, epochs=3, max_epochs=3, nbest=1, maxlenratio=0.3)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--only", nargs="*", default=None, help="variants to run (full always)")
    parser.add_argument("--skip", nargs="*", default=None, help="variants not to run")
    parser.add_argument("--parallel", type=int, default=None,
                        help="trainings at once (default: all; 2 with --small)")  # fmt: skip
    parser.add_argument("--epochs", type=int, default=None, help="override the plan's")
    parser.add_argument(
        "--decode_only", action="store_true", help="decode the models already trained in --out"
    )


def plan_of(args: argparse.Namespace) -> Plan:
    plan = SWEEP_SMALL if args.small else SWEEP
    return plan.replace(epochs=args.epochs, max_epochs=args.epochs)


def chosen(args: argparse.Namespace, plan: Plan) -> tuple[list[Variant], int]:
    """The selected variants, every one checked (ConfigError before anything runs), and how
    many train at once."""
    variants = select(VARIANTS, args.only, args.skip)
    check_all(variants, plan.epochs, yaml.safe_load(plan.config()))
    return variants, args.parallel or (2 if args.small else len(variants))


def dry(args: argparse.Namespace) -> dict:
    plan = plan_of(args)
    variants, parallel = chosen(args, plan)
    return {"plan": dataclasses.asdict(plan), "parallel": parallel,
            "variants": dry_listing(variants, plan.epochs)}  # fmt: skip


def run(args: argparse.Namespace) -> int:
    plan = plan_of(args)
    variants, parallel = chosen(args, plan)
    out: Path = args.out
    ngpu, nj, corpus, started = set_up(plan, out, args.ngpu, args.nj)
    if args.decode_only:
        trained, gpu_use = {v.name: finished(out / "exp" / v.name) for v in variants}, None
    else:
        log(f"training {len(variants)} variants, {parallel} at once")
        runs = [Run(v.name, v.args(plan.epochs), v.epochs(plan.epochs)) for v in variants]
        sampler = GpuSampler(out / "nvidia_smi.csv")
        try:
            trained = train_all(corpus, out, runs, ngpu, parallel)
        finally:
            gpu_use = sampler.stop()
    ok = [v.name for v in variants if trained[v.name]["status"] == "ok"]
    scores = {}
    if ok:
        log(f"decoding {len(ok)} models")
        decode(out, ok, merge_test_sets(corpus, out), plan, ngpu, min(nj, 16))
        scores = {name: score(corpus, out, name) for name in ok}
    rows, comparison = collect(out / "exp", variants, plan.epochs, trained, scores)
    report = {
        "small": args.small,
        "environment": environment(ngpu),
        "plan": dataclasses.asdict(plan),
        "parallel": parallel,
        "corpus_hours": corpus.hours(),
        "test_sets": list(corpus.test_sets),
        "baseline_plateau": plateaued(
            valid_acc(out / "exp" / variants[0].name), plan.plateau_window, plan.plateau_delta
        ),  # fmt: skip
        "target_valid_acc": comparison.target_valid_acc,
        "gpu_during_training": gpu_use,
        "rows": rows,
        "frontier_tables": frontier_tables(comparison),
        "comparison": comparison.to_dict(),
        "trained": trained,
        "sweep_seconds": time.perf_counter() - started,
        "decode_only": args.decode_only,
    }
    (out / "sweep.json").write_text(json.dumps(report, indent=1, default=str))
    md = markdown(report) + f"\nWhole sweep: {report['sweep_seconds'] / 60:.1f} min.\n"
    args.results_md.write_text(md)
    print(md)
    failed = [v.name for v in variants if trained[v.name]["status"] != "ok"]
    if failed:
        print(f"sweep: failed: {', '.join(failed)} (see {out}/exp/<name>/train.log)",
              file=sys.stderr)  # fmt: skip
    return 1 if failed else 0
