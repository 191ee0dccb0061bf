"""The full plan: a LibriSpeech-100-sized conformer, full data against pruned and dropped runs.

Responsible for the full benchmark's sizes and variants and for running it: synthesize a corpus
(espeak-ng + flite, test voices and sentences held out of training), train the full-data
baseline until its validation accuracy plateaus (adding epochs while it still climbs), train
every other variant for the same number of epochs, decode the held-out test sets with stock
``espnet2.bin.asr_inference``, score them, and write ``bench/gpu/RESULTS.md`` (plus
``results.json`` under the output folder). Not responsible for the table
(:mod:`gpu.full_report`) nor for installing anything (``run.sh``).

Pruned and dropped runs use ``--data_pruning_conf lr_trajectory=epoch`` (:mod:`gpu.variants`).

    bash bench/gpu/run.sh            # GPU: about 14 h of speech, 30+ epochs per variant (hours)
    bash bench/gpu/run.sh --small    # CPU smoke run: tiny corpus and model, about 10 minutes
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import time

import yaml
from common import REPO, log

from .corpus import set_up
from .decoding import decode, merge_test_sets, score
from .environment import environment
from .figures import count_params, plateaued, timing, valid_acc
from .full_report import markdown
from .plan import FULL, SMALL, Plan
from .training import Run, train
from .variants import Variant, check_all, dry_listing, select

NAME, RESULTS_MD = "full", "RESULTS.md"
CHUNK_SWEEP = (5, 10, 40, 80)  # 20 ms is variant c itself
E2H70 = ("easy2hard", {"keep_ratio": 0.7})


def chunks(ms: int, **more: int) -> tuple[str, dict]:
    """Chunk dropping of 30% in ``ms`` chunks (``more``: warm-up/anneal epochs)."""
    return ("chunk", {"drop_ratio": 0.3, "chunk_ms": ms, **more})


def variants(plan: Plan) -> tuple[Variant, ...]:
    """(a)-(e), the chunk-length sweep, and (d) with full-length audio at the end (and start)."""
    warm, anneal = max(1, plan.epochs // 4), max(1, plan.epochs // 6)
    return (
        Variant("a_full", "(a) full data"),
        Variant("b_e2h", "(b) easy2hard keep 0.7", E2H70),
        Variant("c_drop20", "(c) chunk drop 0.3, 20 ms", time_drop=chunks(20)),
        Variant("d_e2h_drop20", "(d) easy2hard 0.7 + chunk drop 0.3, 20 ms", E2H70, chunks(20)),
        Variant(
            "e_random_drop20",
            "(e) random 0.7 + chunk drop 0.3, 20 ms",
            ("random", {"keep_ratio": 0.7}),
            chunks(20),
        ),  # fmt: skip
        *(
            Variant(f"c_drop{ms}", f"(c) chunk drop 0.3, {ms} ms", time_drop=chunks(ms))
            for ms in CHUNK_SWEEP
        ),  # fmt: skip
        Variant(
            "d_anneal",
            f"(d) + full-length audio in the last {plan.anneal_epochs} epochs",
            E2H70,
            chunks(20, anneal_epochs=plan.anneal_epochs),
        ),  # fmt: skip
        Variant(
            "d_warm_anneal",
            f"(d) + full-length audio in the first {warm} and last {anneal} epochs",
            E2H70,
            chunks(20, warmup_epochs=warm, anneal_epochs=anneal),
        ),  # fmt: skip
    )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--decode_nj", type=int, default=None, help="default: 4 on a GPU, else 1")
    parser.add_argument("--only", nargs="*", default=None, help="variants to run (a_full always)")
    parser.add_argument("--skip", nargs="*", default=None, help="variants not to run")


def plan_of(args: argparse.Namespace) -> Plan:
    return SMALL if args.small else FULL


def chosen(args: argparse.Namespace, plan: Plan) -> list[Variant]:
    """The selected variants, every one checked (ConfigError before anything runs)."""
    todo = select(variants(plan), args.only, args.skip)
    check_all(todo, plan.epochs, yaml.safe_load(plan.config()))
    return todo


def dry(args: argparse.Namespace) -> dict:
    plan = plan_of(args)
    todo = chosen(args, plan)
    return {"plan": dataclasses.asdict(plan), "variants": dry_listing(todo, plan.epochs)}


def run(args: argparse.Namespace) -> int:
    plan = plan_of(args)
    todo = chosen(args, plan)
    out = args.out
    ngpu, _, corpus, started = set_up(plan, out, args.ngpu, args.nj)
    decode_nj = args.decode_nj or (4 if ngpu else 1)

    base, *others = todo
    results: dict[str, list[dict]] = {}
    # (a) first, until its valid accuracy plateaus: that fixes the budget of every run.
    max_epoch = plan.epochs
    base_exp = out / "exp" / base.name
    results[base.name] = [train(corpus, out, Run(base.name, base.args(max_epoch), max_epoch),
                                ngpu)]  # fmt: skip
    while (
        not plateaued(valid_acc(base_exp), plan.plateau_window, plan.plateau_delta)
        and max_epoch + plan.extend_by <= plan.max_epochs
        and plan.extend_by > 0
    ):
        max_epoch += plan.extend_by
        log(f"baseline valid accuracy still rising: extending to {max_epoch} epochs")
        one = Run(base.name, base.args(max_epoch), max_epoch)
        results[base.name].append(train(corpus, out, one, ngpu))
    for variant in others:
        log(f"training {variant.name}: {variant.label}")
        one = Run(variant.name, variant.args(max_epoch), max_epoch)
        results[variant.name] = [train(corpus, out, one, ngpu)]
    log("decoding the held-out test sets")
    names = [v.name for v in todo]
    decode(out, names, merge_test_sets(corpus, out), plan, ngpu, decode_nj)

    rows = {}
    for variant in todo:
        exp, runs = out / "exp" / variant.name, results[variant.name]
        gpus = [r["gpu"] for r in runs if r["gpu"]]
        acc = valid_acc(exp)
        rows[variant.name] = {
            "label": variant.label,
            "timing": timing(exp),
            "scores": score(corpus, out, variant.name),
            "valid_acc": acc.get(max(acc)) if acc else None,
            "valid_acc_per_epoch": acc,
            "gpu": {"util_mean": statistics.fmean(g["util_mean"] for g in gpus)} if gpus else None,
            "process_seconds": sum(r["process_seconds"] for r in runs),
            "commands": [" ".join(r["command"]) for r in runs],
        }
    report = {
        "command": "bash bench/gpu/run.sh" + (" --small" if args.small else ""),
        "environment": environment(ngpu),
        "plan": dataclasses.asdict(plan),
        "ngpu": ngpu,
        "max_epoch": max_epoch,
        "baseline": base.name,
        "baseline_plateau": plateaued(
            valid_acc(base_exp), plan.plateau_window, plan.plateau_delta
        ),  # fmt: skip
        "corpus_hours": corpus.hours(),
        "test_sets": list(corpus.test_sets),
        "params_m": count_params(base_exp),
        "variants": rows,
        "benchmark_seconds": time.perf_counter() - started,
    }
    (out / "results.json").write_text(json.dumps(report, indent=1))
    md = markdown(report, args.small)
    md += f"\nWhole benchmark: {report['benchmark_seconds'] / 60:.1f} min. Per-run commands and "
    md += f"figures: `{out.relative_to(REPO) if out.is_relative_to(REPO) else out}/results.json`.\n"
    args.results_md.write_text(md)
    print(md)
    return 0
