"""The sweep plan, the lab that decides on a GPU: the candidates and the budget baseline on the
fitted schedule, and full data on ESPnet's own schedule, trained CONCURRENTLY on one GPU, then
decoded against the command's deadline; one seed per GPU run, every seed committed.

Responsible for the variant list (:data:`VARIANTS`), checking every variant before anything runs,
launching one training process per variant (at most ``--parallel`` at once) with ``--seed``,
stopping what has not finished at the training deadline, decoding every trained model with
ESPnet's own decoder until the decoding deadline (:mod:`gpu.ordered_decoding`), and saving the
seed's results as each run finishes (:mod:`gpu.seed_results`), then rebuilding
``RESULTS_sweep.md`` from every committed seed (:mod:`gpu.sweep_report`). Not responsible for
timing: concurrent runs share the GPU, so their times mean nothing (WER does not depend on
them); ``--quick`` measures speed.

    bash bench/gpu/run.sh --sweep --seed 0   # GPU: all 11 variants at once, one 9-minute command
    bash bench/gpu/run.sh --sweep --dry      # the plan, its phases' estimated seconds, the runs
    bash bench/gpu/run.sh --sweep --small    # CPU rehearsal: tiny model, 3 epochs, 2 at a time
    bash bench/gpu/run.sh --sweep --rebuild  # RESULTS_sweep.md from bench/gpu/results/sweep/
    bash bench/gpu/run.sh --sweep --cpu_lab --seed 0   # the same lab on 2 CPU cores (hours)

The variants (11), all trained with the same ``--seed``:

- ``full``: full data on ``warmuplr``, the stock schedule a user runs today (a separate series,
  and the reference of the steps to target);
- the budget baseline: full data for 0.3, 0.5, 0.7, 0.8, 0.9 and 1.0 of the epochs (rounded half
  up: 7, 12, 17, 19, 22, 24 of 24) with ``--lr_fit linear``: the frontier's curve;
- the candidates, on the fitted schedule: InfoBatch (prune_prob 0.5), random 0.7, Easy2hard 0.7,
  Easy2hard 0.7 + 20 ms chunks 0.3 decaying to 0 (``drop_schedule: linear_decay``).

The candidates on ``warmuplr`` with ``lr_trajectory=epoch`` of the earlier sweep are gone: the
recommendation is decided on the fitted schedule, against the frontier.

The sets: ``dev`` (training voices, new sentences; it selects), ``test_indomain`` (training
voices, held-out sentences; it decides and confirms) and ``test_espeak`` (two held-out voices; a
robustness column). Decoding goes dev, then test_indomain, then test_espeak, each utterance with
every model, so a deadline leaves every model scored on the same utterances.

Sizing for ONE 9-minute command (540 s) on one H200 (16 CPU cores): :mod:`gpu.estimate`, printed
by ``--dry``, which refuses a plan over 540 s. The corpus: 3,000 training utterances (~2.1 h),
400 dev, 1,000 in-domain test, 200 held-out-voice test. The model: the first mini lab's conformer
(4x144, decoder 2x576, ~5 M parameters), numel batches of 4e6 bins (~30 steps an epoch), 24
epochs (~720 steps; that lab's conformer converged in ~770). The run prints, per training, the
epoch at which valid accuracy first reached 98% of its final value: whether the reference reached
its plateau is read off there.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import yaml
from common import BENCH, log

from espnet_ddp.core.atomic_io import write_text_atomic
from espnet_ddp.core.errors import ConfigError

from . import cooldown
from .corpus import set_up
from .environment import environment
from .estimate import CAP_SECONDS, check_cap, estimate
from .figures import plateaued, valid_acc
from .greedy_decoding import TAG as GREEDY
from .greedy_decoding import decode_greedy
from .ordered_decoding import decode_ordered, score_subset
from .plan import SMALL, Plan
from .seed_results import save_run
from .smi import GpuSampler
from .sweep_report import reached_98, rebuild
from .training import Run, finished, train_all
from .variants import Variant, check_all, dry_listing, select

NAME, RESULTS_MD = "sweep", "RESULTS_sweep.md"
RESULTS_DIR = BENCH / "gpu" / "results" / "sweep"
E2H70 = ("easy2hard", {"keep_ratio": 0.7})
CHUNK30_DECAY = ("chunk", {"drop_ratio": 0.3, "chunk_ms": 20, "drop_schedule": "linear_decay"})
# name, label, data pruning, time drop: every one on the fitted schedule
CANDIDATES = (
    ("infobatch", "infobatch, prune_prob 0.5", ("infobatch", {"prune_prob": 0.5}), ("none", {})),
    ("random70", "random 0.7", ("random", {"keep_ratio": 0.7}), ("none", {})),
    ("e2h70", "easy2hard 0.7", E2H70, ("none", {})),
    ("e2h70_chunk30_decay", "easy2hard 0.7 + chunk 0.3, linear_decay", E2H70, CHUNK30_DECAY),
)
BUDGETS = (0.3, 0.5, 0.7, 0.8, 0.9, 1.0)

# The first is the reference of the steps to target (full data on ESPnet's schedule).
VARIANTS: tuple[Variant, ...] = (
    Variant("full", "full data, warmuplr"),
    *(
        Variant(f"budget{share}", f"budget {share}: full data, fitted", lr_fit="linear",
                budget=share)
        for share in BUDGETS
    ),  # fmt: skip
    *(
        Variant(f"{name}_lrfit", f"{label}, fitted", pruning, drop, lr_fit="linear")
        for name, label, pruning, drop in CANDIDATES
    ),  # fmt: skip
)

SWEEP = Plan(
    num_train=3000, num_dev=300, num_test=200, epochs=24, max_epochs=24, extend_by=0,
    plateau_window=3, plateau_delta=0.002, dim=144, heads=4, ffn=576, blocks=4, kernel=15,
    dec_blocks=2, dec_ffn=576, lr=0.004, warmup=200, batch_bins=4_000_000, workers=1, nbest=10,
    beam=5, anneal_epochs=4, num_test_indomain=1000, heldout_sets=("test_espeak",), maxlenratio=0.3,
)  # fmt: skip
# --small: an untrained model never ends its hypotheses, so decoding (on 2 CPU cores) is capped
# at 0.3 output tokens per encoder frame; 3 utterances per test set.
SWEEP_SMALL = SMALL.replace(
    num_dev=6, num_test=3, num_test_indomain=3, heldout_sets=("test_espeak",), epochs=3,
    max_epochs=3, nbest=2, maxlenratio=0.3,
)  # fmt: skip
# The CPU lab (--cpu_lab): the demo recipe's conformer (4x64, decoder 1x256, 40 mel bins, no
# SpecAugment, as conf/train_asr_full.yaml of the mini recipe) on the mini recipe's 1,200 training
# utterances, 24 epochs, 2 trainings at a time on 2 cores; every set decoded by CTC greedy
# search, and the first 100 dev utterances by beam search as the cross-check.
CPU_LAB = Plan(
    num_train=1200, num_dev=500, num_test=300, epochs=24, max_epochs=24, extend_by=0,
    plateau_window=3, plateau_delta=0.002, dim=64, heads=4, ffn=256, blocks=4, kernel=15,
    dec_blocks=1, dec_ffn=256, lr=0.004, warmup=200, batch_bins=800_000, workers=1, nbest=10,
    beam=5, anneal_epochs=4, num_test_indomain=1000, heldout_sets=("test_espeak",),
    beam_utts=100, specaug=False, n_mels=40,
)  # fmt: skip
CPU_LAB_DIR = BENCH / "gpu" / "results" / "cpu_lab"
REPORT_RESERVE = 20.0  # seconds kept after decoding for scoring, saving and the Markdown
DECODE_RESERVE = 100.0  # seconds kept after training for decoding, at the least
BEAM_MIN_SECONDS = 60.0  # the beam-search cross-check runs only with this much time left


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--only", nargs="*", default=None, help="variants to run (full always)")
    parser.add_argument("--skip", nargs="*", default=None, help="variants not to run")
    parser.add_argument("--parallel", type=int, default=None,
                        help="trainings at once (default: all; 2 with --small)")  # fmt: skip
    parser.add_argument("--epochs", type=int, default=None, help="override the plan's")
    parser.add_argument("--seed", type=int, default=0,
                        help="ESPnet's --seed of every run (and so the pruning's)")  # fmt: skip
    parser.add_argument("--budget_s", type=float, default=None,
                        help=f"seconds the whole command may take, counted from run.sh's start "
                        f"(default: {CAP_SECONDS} on a GPU, none with --small)")  # fmt: skip
    parser.add_argument("--results_dir", type=Path, default=None,
                        help="where seed folders are saved (default: bench/gpu/results/sweep; "
                        "with --small: <out>/results)")  # fmt: skip
    parser.add_argument("--cpu_lab", action="store_true",
                        help="the CPU lab: its plan, 2 at a time, bench/gpu/results/cpu_lab/, "
                        "RESULTS_cpu_lab.md")  # fmt: skip
    parser.add_argument("--cooldown", action="store_true",
                        help="the cooldown lab: one WSD run and its branches (gpu.cooldown), "
                        "results/<lab>_cooldown/, RESULTS_cooldown.md")  # fmt: skip
    parser.add_argument("--rebuild", action="store_true",
                        help="only rebuild the results file from the saved seeds")  # fmt: skip
    parser.add_argument(
        "--decode_only", action="store_true", help="decode the models already trained in --out"
    )


def plan_of(args: argparse.Namespace) -> Plan:
    plan = SWEEP_SMALL if args.small else CPU_LAB if getattr(args, "cpu_lab", False) else SWEEP
    if getattr(args, "cooldown", False) and args.small:
        plan = plan.replace(epochs=10, max_epochs=10)  # room for five branches of a WSD run
    return plan.replace(epochs=args.epochs, max_epochs=args.epochs)


def results_dir(args: argparse.Namespace) -> Path:
    if args.results_dir is not None:
        return args.results_dir
    if args.small:
        return args.out / ("results_cooldown" if args.cooldown else "results")
    root = CPU_LAB_DIR if args.cpu_lab else RESULTS_DIR
    return root.with_name(root.name + "_cooldown") if args.cooldown else root


def lab_dir(args: argparse.Namespace) -> Path:
    """The separate budget runs the cooldown lab is compared with (the same lab's seeds)."""
    if args.small:
        return args.out / "results"
    return CPU_LAB_DIR if args.cpu_lab else RESULTS_DIR


def cpu_lab_paths(args: argparse.Namespace) -> None:
    """``--cpu_lab``: its own work folder and results file unless given."""
    if not args.cpu_lab:
        return
    if args.out == BENCH / "gpu" / "out" / NAME:
        args.out = BENCH / "gpu" / "out" / "cpu_lab"
    if args.results_md == BENCH / "gpu" / RESULTS_MD:
        args.results_md = BENCH / "gpu" / "RESULTS_cpu_lab.md"


def cooldown_paths(args: argparse.Namespace) -> None:
    """``--cooldown``: its own work folder and results file unless given."""
    if not args.cooldown:
        return
    if args.results_md in (BENCH / "gpu" / RESULTS_MD, BENCH / "gpu" / "RESULTS_cpu_lab.md"):
        args.results_md = BENCH / "gpu" / "RESULTS_cooldown.md"


def by_cost(variants: Sequence[Variant], max_epoch: int) -> list[Variant]:
    """The variants longest first (fewer idle cores at the end when they wait for a slot)."""
    return sorted(variants, key=lambda v: -data_share(v, max_epoch))


# The GPU plan leaves out what one 9-minute command cannot also afford, measured on seed 0: the
# 0.3 budget (far below every candidate's audio; 0.5 is the curve's low end) and Easy2hard 0.7 +
# chunks (valid accuracy 0.695 at 30.6 h against 0.845 for the 0.7 budget at 35.4 h: ratio 0.82).
GPU_SKIP = ("budget0.3", "e2h70_chunk30_decay_lrfit")


def chosen(args: argparse.Namespace, plan: Plan) -> tuple[list[Variant], int]:
    """The selected variants, every one checked (ConfigError before anything runs), and how
    many train at once."""
    if args.seed < 0:
        raise ConfigError(f"--seed {args.seed}: must be an integer >= 0")
    if getattr(args, "cooldown", False):
        check_all([cooldown.WSD], plan.epochs,
                  {**yaml.safe_load(plan.config()), "seed": args.seed})  # fmt: skip
        cooldown.check_branches(plan.epochs)
        return [cooldown.WSD], args.parallel or 1  # --parallel 2: two seeds side by side
    skip = args.skip
    if skip is None and args.only is None and not args.small and not args.cpu_lab:
        skip = list(GPU_SKIP)
    variants = select(VARIANTS, args.only, skip)
    check_all(variants, plan.epochs, {**yaml.safe_load(plan.config()), "seed": args.seed})
    return variants, args.parallel or (2 if args.small or args.cpu_lab else len(variants))


def first_utterances(data: Path, dest: Path, n: int) -> Path:
    """A data directory of the first ``n`` utterances (sorted ids) of ``data``."""
    from espnet_ddp.tools.datadir import DataDir

    full = DataDir.read(data)
    keep = sorted(full.wav)[:n]
    part = DataDir()
    for u in keep:
        part.wav[u], part.text[u], part.utt2spk[u] = full.wav[u], full.text[u], full.utt2spk[u]
    part.write(dest)
    return dest


def data_share(variant: Variant, max_epoch: int) -> float:
    """A run's training in full-data epochs: its epochs x the share of the audio it keeps
    (epoch 1 of a pruned run is on all data; InfoBatch keeps ~1 - prune_prob / 2; a chunk
    drop decaying linearly from r removes r / 2 on average).

    >>> by_name = {v.name: v for v in VARIANTS}
    >>> [round(data_share(by_name[n], 24), 2) for n in ("full", "budget0.3", "random70_lrfit",
    ...  "infobatch_lrfit", "e2h70_chunk30_decay_lrfit")]
    [24.0, 7.0, 17.1, 18.25, 14.53]
    """
    epochs = variant.epochs(max_epoch)
    strategy, conf = variant.data_pruning
    keep = 1.0
    if strategy in ("easy2hard", "random", "hard2easy"):
        keep = float(conf.get("keep_ratio", 0.7))
    elif strategy == "infobatch":
        keep = 1.0 - float(conf.get("prune_prob", 0.5)) / 2
    mode, drop = variant.time_drop
    if mode != "none":
        ratio = float(drop.get("drop_ratio", 0.3))
        keep *= 1.0 - (ratio / 2 if drop.get("drop_schedule") == "linear_decay" else ratio)
    return 1.0 + (epochs - 1) * keep if keep < 1.0 else float(epochs)


def phases_of(args: argparse.Namespace, plan: Plan, variants: Sequence[Variant],
              parallel: int) -> dict[str, float]:  # fmt: skip
    """The estimated seconds of each phase (:mod:`gpu.estimate`) on the GPU machine."""
    return estimate(plan, [data_share(v, plan.epochs) for v in variants],
                    workers=args.nj or 16, cores=16)  # fmt: skip



def title_of(args: argparse.Namespace) -> str:
    """The results file's heading: the command that rebuilds it."""
    lab = " --cpu_lab" if args.cpu_lab else ""
    return f"`bash bench/gpu/run.sh --sweep{lab} --seed N`"


def budget_of(args: argparse.Namespace) -> float | None:
    if args.budget_s is not None:
        return args.budget_s
    return None if args.small or args.cpu_lab else float(CAP_SECONDS)


def dry(args: argparse.Namespace) -> dict:
    plan = plan_of(args)
    variants, parallel = chosen(args, plan)
    phases = phases_of(args, plan, variants, parallel)
    if not args.small and not args.cpu_lab:
        check_cap(phases, budget_of(args) or CAP_SECONDS)
    return {"plan": dataclasses.asdict(plan), "parallel": parallel, "seed": args.seed,
            "estimated_seconds": {k: round(v, 1) for k, v in phases.items()},
            "estimated_total_seconds": round(sum(phases.values()), 1),
            "variants": dry_listing(variants, plan.epochs)}  # fmt: skip


def write_report(args: argparse.Namespace, root: Path, plan: Plan) -> str:
    """The results file: the sweep's, or the cooldown lab's."""
    if args.cooldown:
        md = cooldown.report(root, lab_dir(args), plan.epochs)
    else:
        md = rebuild(root, VARIANTS, small=args.small, title=title_of(args))
    write_text_atomic(args.results_md, md)
    return md


def run(args: argparse.Namespace) -> int:
    cpu_lab_paths(args)
    cooldown_paths(args)
    plan = plan_of(args)
    variants, parallel = chosen(args, plan)
    names = [v.name for v in variants]
    root = results_dir(args)
    if args.rebuild:
        write_report(args, root, plan)
        print(f"sweep: rebuilt {args.results_md} from {root}", file=sys.stderr)
        return 0
    if not args.small and not args.cpu_lab and not args.decode_only:
        check_cap(phases_of(args, plan, variants, parallel), budget_of(args) or CAP_SECONDS)
    t0 = float(os.environ.get("BENCH_T0") or time.time())
    budget = budget_of(args)
    end = None if budget is None else t0 + budget
    out: Path = args.out
    phase: dict[str, float] = {"before_python": time.time() - t0}
    ngpu, nj, corpus, _ = set_up(plan, out, args.ngpu, args.nj)
    phase["corpus"] = time.time() - t0 - phase["before_python"]
    run_info = {
        "seed": args.seed, "small": args.small, "environment": environment(ngpu),
        "commit": os.environ.get("BENCH_COMMIT") or None, "plan": dataclasses.asdict(plan),
        "parallel": parallel, "budget_s": budget, "corpus_hours": corpus.hours(),
        "test_sets": ["dev", *corpus.test_sets], "variants": names, "phase_seconds": phase,
        "trained": {}, "decoded": {}, "reached_98": {},
    }  # fmt: skip

    def save(done: Sequence[str] = ()) -> None:
        save_run(root, args.seed, out, done or names, run_info)
        write_report(args, root, plan)

    t_train = time.time()
    if args.decode_only:
        trained = {name: finished(out / "exp" / name) for name in names}
        gpu_use = None
    else:
        log(f"training {len(variants)} variants, {parallel} at once, seed {args.seed}")
        order = variants if parallel >= len(variants) else by_cost(variants, plan.epochs)
        runs = [Run(v.name, v.args(plan.epochs), v.epochs(plan.epochs)) for v in order]
        sampler = GpuSampler(out / "nvidia_smi.csv")

        def on_finish(name: str, status: dict) -> None:
            run_info["trained"][name] = status
            run_info["reached_98"][name] = reached_98(valid_acc(out / "exp" / name))
            save([name])

        try:
            trained = train_all(corpus, out, runs, ngpu, parallel, seed=args.seed,
                                deadline=None if end is None else end - DECODE_RESERVE,
                                on_finish=on_finish)  # fmt: skip
        finally:
            gpu_use = sampler.stop()
    if args.cooldown and trained.get(cooldown.WSD.name, {}).get("status") == "ok":
        budgets = [b for b in cooldown.BRANCH_BUDGETS]
        trained.update(cooldown.train_branches(out, budgets, 2 if args.cpu_lab or args.small
                                               else len(budgets)))  # fmt: skip
        names += [cooldown.branch_name(b) for b in budgets]
        run_info["variants"] = names
    phase["training"] = time.time() - t_train
    run_info.update(trained=trained, gpu_during_training=gpu_use)
    run_info["reached_98"] = {n: reached_98(valid_acc(out / "exp" / n)) for n in names}
    run_info["baseline_plateau"] = plateaued(
        valid_acc(out / "exp" / names[0]), plan.plateau_window, plan.plateau_delta)
    ok = [n for n in names if trained[n]["status"] == "ok"]
    save()
    t_dec = time.time()
    refs: dict[str, Path] = {}
    if ok:
        sets = [("dev", corpus.data / "dev"), *((t, corpus.data / t) for t in corpus.test_sets)]
        log(f"CTC greedy decoding of {len(ok)} models on {', '.join(s for s, _ in sets)}")
        greedy = decode_greedy(out, ok, sets, ngpu)
        run_info["decoded"] = {GREEDY: {s: len(u) for s, u in greedy.items()}}
        for name in ok:
            score_subset(out, corpus.data, name, greedy, GREEDY)
        refs.update({f"{GREEDY}/{s}": out / f"{GREEDY}_refs" / s / "text" for s in greedy})
        phase["greedy_decoding"] = time.time() - t_dec
        # The cross-check: ESPnet's joint beam search, dev first, until the deadline.
        deadline = float("inf") if end is None else end - REPORT_RESERVE
        beam_sets = sets if end is None and not plan.beam_utts else sets[:1]
        if plan.beam_utts:
            beam_sets = [("dev", first_utterances(corpus.data / "dev", out / "dev_beam",
                                                  plan.beam_utts))]  # fmt: skip
        if deadline - time.time() > BEAM_MIN_SECONDS and not args.cooldown:
            tag = f"decode_beam{plan.beam}"
            log(f"beam search of {len(ok)} models on {', '.join(s for s, _ in beam_sets)}")
            beam = decode_ordered(out, ok, beam_sets, plan, ngpu, min(nj, 16), deadline, tag)
            run_info["decoded"][tag] = {s: len(u) for s, u in beam.items()}
            for name in ok:
                score_subset(out, corpus.data, name, beam, tag)
            refs.update({f"{tag}/{s}": out / f"{tag}_refs" / s / "text" for s in beam})
    phase["decoding"] = time.time() - t_dec
    phase["total"] = time.time() - t0
    save_run(root, args.seed, out, names, run_info, refs)
    md = write_report(args, root, plan)
    print(md)
    for name in names:
        print(f"sweep: {name}: valid acc reached 98% of its final value at epoch "
              f"{run_info['reached_98'].get(name)}", file=sys.stderr)  # fmt: skip
    print(f"sweep: phases (s): {json.dumps({k: round(v, 1) for k, v in phase.items()})}",
          file=sys.stderr)  # fmt: skip
    failed = [n for n in names if trained[n]["status"] != "ok"]
    if failed:
        print(f"sweep: not finished: {', '.join(failed)} (see {out}/exp/<name>/train.log)",
              file=sys.stderr)  # fmt: skip
    return 1 if failed else 0
