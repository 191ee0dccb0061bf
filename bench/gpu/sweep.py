#!/usr/bin/env python3
"""WER sweep: the candidate variants of issue 7, trained CONCURRENTLY on one GPU, then decoded.

Responsible for the variant list (:data:`VARIANTS`, one line each), checking every variant
against this checkout's ``espnet_ddp.core.config`` before anything runs, launching one training
process per variant (at most ``--parallel`` at once), decoding every model with stock
``espnet2.bin.asr_inference`` and writing a WER table with steps, audio fed and the steps to the
full-data run's target accuracy. Not responsible for timing: concurrent runs share the GPU, so
their times mean nothing (WER does not depend on them); ``quick.py`` measures speed.

    bash bench/gpu/run.sh --sweep            # GPU: all variants at once
    bash bench/gpu/run.sh --sweep --small    # CPU smoke run: tiny model, 3 epochs, 2 at a time

Sizing for ONE 9-minute command (540 s) on one H100 80 GB (estimates from DESIGN.md section 5
and the mini recipe's convergence in docs/EVIDENCE.md, to be checked on the first GPU run):

- corpus: 3,000 training utterances (~2.1 h), 200 dev, 150 per test set: synthesis of 3,500
  utterances at ~0.09 CPU-s each on 16 cores ~30 s; statistics (espnet import 28 s) ~35 s;
- model: the first mini lab's conformer (4x144, decoder 2x576, ~5 M parameters), which converged
  in ~770 steps there (docs/EVIDENCE.md); numel batches of 4e6 bins (~95 utterances): ~31 steps
  an epoch, 24 epochs ~740 steps, past the full-data plateau if that lab is a guide;
- training: 14 processes on 16 cores, one per variant, share the GPU by time-slicing. A step of
  this model is launch-bound (~15 ms of kernels), so the GPU serializes about
  14 x 740 x 15 ms ~ 160 s of work, plus ~35 s of concurrent imports and ~1.5 s of validation
  and checkpointing per epoch overlapping the others: ~230 s; memory ~3 GB a process;
- decoding: 14 models x 300 utterances, beam 5, 16 processes on the GPU (~0.12 s an
  utterance): ~35 s plus an import, ~65 s; scoring ~10 s; install (run.sh) ~30 s.

Total ~400 s, ~2 minutes of margin. Pruned and dropped runs use ``lr_trajectory=epoch`` (the
LR schedule advances per epoch as on full data), as in ``bench.py``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from common import BENCH, Corpus, env_for_children, log  # noqa: E402

import bench as gpu  # noqa: E402
from espnet_ddp.core.config import PruningConfig, TimeDropConfig  # noqa: E402
from espnet_ddp.core.errors import ConfigError  # noqa: E402

LR = {"lr_trajectory": "epoch"}


@dataclasses.dataclass(frozen=True)
class Share:
    """A number of epochs given as a share of the run's epochs (at least 1, rounded half up)."""

    fraction: float

    def epochs(self, max_epoch: int) -> int:
        """``fraction`` x ``max_epoch``, rounded half up, at least 1.

        >>> Share(1 / 4).epochs(24), Share(1 / 6).epochs(24), Share(1 / 6).epochs(3)
        (6, 4, 1)
        """
        return max(1, int(self.fraction * max_epoch + 0.5))


@dataclasses.dataclass(frozen=True)
class Variant:
    """One sweep run: the plugin's four options, as in a training YAML."""

    name: str
    label: str
    data_pruning: tuple[str, Mapping[str, Any]] = ("none", {})
    time_drop: tuple[str, Mapping[str, Any]] = ("none", {})

    @property
    def is_full_data(self) -> bool:
        return self.data_pruning[0] == "none" and self.time_drop[0] == "none"

    def options(self, max_epoch: int) -> dict[str, Any]:
        """``data_pruning(_conf)`` and ``time_drop(_conf)`` with shares resolved; every run but
        full data gets ``lr_trajectory=epoch``."""

        def resolve(conf: Mapping[str, Any]) -> dict[str, Any]:
            return {k: v.epochs(max_epoch) if isinstance(v, Share) else v for k, v in conf.items()}

        pruning_conf = resolve(self.data_pruning[1])
        if not self.is_full_data:
            pruning_conf = {**pruning_conf, **LR}
        return {
            "data_pruning": self.data_pruning[0],
            "data_pruning_conf": pruning_conf,
            "time_drop": self.time_drop[0],
            "time_drop_conf": resolve(self.time_drop[1]),
        }

    def args(self, max_epoch: int) -> list[str]:
        """Command-line options: one ``--x_conf key=value`` per key (ESPnet's NestedDictAction)."""
        opts = self.options(max_epoch)
        out = []
        for option in ("data_pruning", "time_drop"):
            out += [f"--{option}", opts[option]]
            for key, value in opts[f"{option}_conf"].items():
                out += [f"--{option}_conf", f"{key}={_yaml(value)}"]
        return out

    def check(self, max_epoch: int) -> None:
        """Raise :class:`ConfigError` (naming the variant) if this checkout cannot run it."""
        opts = self.options(max_epoch)
        try:
            PruningConfig.from_options(
                opts["data_pruning"], opts["data_pruning_conf"]
            ).check_epochs(max_epoch)
            TimeDropConfig.from_options(opts["time_drop"], opts["time_drop_conf"]).check_epochs(
                max_epoch
            )
        except ConfigError as err:
            raise ConfigError(f"sweep variant {self.name}: {err}") from None


def _yaml(value: Any) -> str:
    """A value as NestedDictAction reads it back (YAML): ``true``, ``0.3``, ``energy``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


E2H70 = ("easy2hard", {"keep_ratio": 0.7})
CHUNK30 = {"drop_ratio": 0.3, "chunk_ms": 20}  # uniform 20 ms chunks (select: uniform, default)
WARM_ANNEAL = {"warmup_epochs": Share(1 / 4), "anneal_epochs": Share(1 / 6)}

# The candidates of issue 7, one line each; the first is the full-data reference.
VARIANTS: tuple[Variant, ...] = (
    Variant("full", "full data"),
    Variant("e2h70", "easy2hard 0.7", E2H70),
    Variant("e2h60", "easy2hard 0.6", ("easy2hard", {"keep_ratio": 0.6})),
    Variant("e2h50", "easy2hard 0.5", ("easy2hard", {"keep_ratio": 0.5})),
    Variant("infobatch", "infobatch, prune_prob 0.5", ("infobatch", {"prune_prob": 0.5})),
    Variant("e2h70_chunk30", "easy2hard 0.7 + chunk 0.3", E2H70, ("chunk", CHUNK30)),
    Variant(
        "e2h70_chunk30_wa",
        "easy2hard 0.7 + chunk 0.3, full audio first 1/4, last 1/6",
        E2H70,
        ("chunk", {**CHUNK30, **WARM_ANNEAL}),
    ),  # fmt: skip
    Variant(
        "e2h70_chunk30_energy",
        "easy2hard 0.7 + chunk 0.3, select: energy",
        E2H70,
        ("chunk", {**CHUNK30, "select": "energy"}),
    ),  # fmt: skip
    Variant(
        "e2h70_frames30",
        "easy2hard 0.7 + frames 0.3 (one encoder frame)",
        E2H70,
        ("frames", {"drop_ratio": 0.3}),
    ),  # fmt: skip
    Variant("e2h70_tempo30", "easy2hard 0.7 + tempo 0.3", E2H70, ("tempo", {"drop_ratio": 0.3})),
    Variant(
        "e2h70_chunk30_decay",
        "easy2hard 0.7 + chunk 0.3, drop_schedule: linear_decay",
        E2H70,
        ("chunk", {**CHUNK30, "drop_schedule": "linear_decay"}),
    ),  # fmt: skip
    Variant(
        "e2h70_chunk30_byscore",
        "easy2hard 0.7 + chunk 0.3, ratio_by_score",
        E2H70,
        ("chunk", {**CHUNK30, "ratio_by_score": True}),
    ),  # fmt: skip
    Variant("point30", "point 0.3 alone", time_drop=("point", {"drop_ratio": 0.3})),
    Variant("chunk30", "chunk 0.3 alone", time_drop=("chunk", CHUNK30)),
)

SWEEP = gpu.Plan(
    num_train=3000, num_dev=200, num_test=150, epochs=24, max_epochs=24, extend_by=0,
    plateau_window=3, plateau_delta=0.002, dim=144, heads=4, ffn=576, blocks=4, kernel=15,
    dec_blocks=2, dec_ffn=576, lr=0.004, warmup=200, batch_bins=4_000_000, workers=1, nbest=3,
    beam=5, anneal_epochs=4,
)  # fmt: skip
# --small: an untrained model never ends its hypotheses, so decoding (on 2 CPU cores) is capped
# at 0.3 output tokens per encoder frame, and 3 utterances per test set.
SWEEP_SMALL = dataclasses.replace(
    gpu.SMALL, num_test=3, epochs=3, max_epochs=3, nbest=1, maxlenratio=0.3
)


def select(names: list[str] | None, skip: list[str] | None) -> list[Variant]:
    """The variants to run (``full`` always, first); unknown names are an error."""
    known = {v.name for v in VARIANTS}
    unknown = sorted((set(names or []) | set(skip or [])) - known)
    if unknown:
        raise ConfigError(f"--only/--skip: unknown variant(s) {', '.join(unknown)}; "
                          f"known: {', '.join(sorted(known))}")  # fmt: skip
    chosen = [v for v in VARIANTS if (not names or v.name in names or v.is_full_data)]
    return [v for v in chosen if v.is_full_data or v.name not in (skip or [])]


def check_all(variants: list[Variant], max_epoch: int) -> None:
    """Check every variant before anything runs; one error listing all that cannot run."""
    problems = []
    for variant in variants:
        try:
            variant.check(max_epoch)
        except ConfigError as err:
            problems.append(str(err))
    if problems:
        names = " ".join(p.split(":")[0].removeprefix("sweep variant ") for p in problems)
        raise ConfigError(
            "this checkout of espnet_ddp cannot run:\n  "
            + "\n  ".join(problems)
            + f"\n(run the others with --skip {names})"
        )


# -- training -------------------------------------------------------------------------------------


def train_all(
    corpus: Corpus, out: Path, variants: list[Variant], plan: gpu.Plan, ngpu: int, parallel: int
) -> dict[str, dict]:
    """Train every variant, at most ``parallel`` at once; returns name -> status and seconds."""
    threads = max(1, (os.cpu_count() or 2) // max(1, parallel))
    env = env_for_children(threads)
    waiting, running, done = list(variants), {}, {}
    while waiting or running:
        while waiting and len(running) < parallel:
            variant = waiting.pop(0)
            exp = out / "exp" / variant.name
            shutil.rmtree(exp, ignore_errors=True)
            exp.mkdir(parents=True)
            extra = variant.args(plan.epochs)
            cmd = gpu.train_command(corpus, out / "config.yaml", exp, extra, plan.epochs, ngpu)
            (exp / "command.txt").write_text(" ".join(cmd) + "\n")
            with (exp / "train.log").open("w") as f:
                proc = subprocess.Popen(cmd, stdout=f, stderr=subprocess.STDOUT, env=env)
            running[variant.name] = (proc, time.perf_counter())
            log(f"started {variant.name} ({len(running)} running, {len(waiting)} waiting)")
        time.sleep(1.0)
        for name, (proc, started) in list(running.items()):
            if proc.poll() is None:
                continue
            del running[name]
            status = "ok" if proc.returncode == 0 else f"failed (exit {proc.returncode})"
            done[name] = {"status": status, "seconds": time.perf_counter() - started}
            log(f"{name}: {status}")
    return done


def finished(exp: Path) -> dict:
    """The status of an earlier training (``--decode_only``): ok when it wrote its model."""
    model = any((exp / f).exists() for f in ("valid.acc.ave.pth", "valid.acc.best.pth"))
    return {"status": "ok" if model else "not trained", "seconds": None}


# -- report ---------------------------------------------------------------------------------------


def collect(
    out: Path, variants: list[Variant], max_epoch: int, trained: dict[str, dict], scores: dict
) -> tuple[list[dict], float | None]:
    """Rows (status, epochs, steps, audio fed, valid acc, steps to target, WER) and the target.

    Steps, audio fed and the target come from :mod:`espnet_ddp.report` (the records and
    ``train.log`` of each experiment), with full data (the first variant) as the reference.
    """
    from espnet_ddp.report.experiment import load_experiment
    from espnet_ddp.report.table import build_comparison, final_valid_acc

    exps = [load_experiment(out / "exp" / v.name, name=v.name) for v in variants]
    comparison = build_comparison(exps, baseline=0, reference=0)
    rows = []
    for variant, exp, row in zip(variants, exps, comparison.rows, strict=True):
        hit = row.time_to_target
        rows.append(
            {
                "name": variant.name,
                "label": variant.label,
                "options": variant.options(max_epoch),
                "status": trained.get(variant.name, {}).get("status", "not run"),
                "epochs": exp.epochs_done,
                "steps": exp.optimizer_steps,
                "fed_hours": exp.fed_hours,
                "valid_acc": final_valid_acc(exp),
                "steps_to_target": hit.optimizer_steps if hit else None,
                "target_reached": row.target_reached,
                "scores": scores.get(variant.name, {}),
            }
        )
    return rows, comparison.target_valid_acc


def _f(value: float | None, spec: str) -> str:
    return "n/a" if value is None else format(value, spec)


def wer_table(rows: list[dict], test_sets: list[str]) -> str:
    """The Markdown WER table: one line per variant, WER/CER (%) per test set.

    >>> print(wer_table([{"name": "full", "label": "full data", "status": "ok", "epochs": 2,
    ...     "steps": 40, "fed_hours": 0.5, "valid_acc": 0.9, "steps_to_target": 30,
    ...     "target_reached": True, "scores": {"t": {"wer": 10.0, "cer": 2.5}}}], ["t"]))
    | variant | epochs | steps | audio fed (h) | valid acc | steps to target | WER / CER t (%) |
    |---|---|---|---|---|---|---|
    | full data | 2 | 40 | 0.500 | 0.900 | 30 | 10.0 / 2.5 |
    """
    head = "| variant | epochs | steps | audio fed (h) | valid acc | steps to target | "
    head += " | ".join(f"WER / CER {t} (%)" for t in test_sets) + " |"
    lines = [head, "|" + "---|" * (6 + len(test_sets))]
    for row in rows:
        if row["status"] != "ok":
            lines.append(f"| {row['label']} | {row['status']} |" + " |" * (4 + len(test_sets)))
            continue
        to_target = {True: _f(row["steps_to_target"], "d"), False: "not reached"}.get(
            row["target_reached"], "n/a"
        )
        errs = [row["scores"].get(t) for t in test_sets]
        cells = [f"{e['wer']:.1f} / {e['cer']:.1f}" if e else "n/a" for e in errs]
        lines.append(
            f"| {row['label']} | {row['epochs']} | {_f(row['steps'], 'd')} "
            f"| {_f(row['fed_hours'], '.3f')} | {_f(row['valid_acc'], '.3f')} | {to_target} | "
            + " | ".join(cells)
            + " |"
        )
    return "\n".join(lines)


def markdown(report: dict) -> str:
    """The sweep report: set-up, the WER table, and how to read it."""
    plan, env = report["plan"], report["environment"]
    lines = ["# WER sweep (`bash bench/gpu/run.sh --sweep`)", ""]
    if report["small"]:
        lines += [
            "> **CPU `--small` figures**: a smoke run of the pipeline (tiny corpus and model, "
            f"{plan['epochs']} epochs); the error rates mean nothing.",
            "",
        ]
    target = report["target_valid_acc"]
    lines += [
        gpu.environment_line(env),
        "",
        f"Corpus: {report['corpus_hours']:.2f} h of training speech ({plan['num_train']} "
        f"utterances), {plan['num_dev']} dev, test sets "
        + ", ".join(f"{t} ({plan['num_test']})" for t in report["test_sets"])
        + " (voices and sentences held out of training). "
        f"Model: conformer {plan['blocks']}x{plan['dim']}, decoder {plan['dec_blocks']}x"
        f"{plan['dec_ffn']}, CTC weight 0.3, Adam {plan['lr']}, warm-up {plan['warmup']} steps, "
        f"numel batches of {plan['batch_bins']:,} bins; {plan['epochs']} epochs, "
        f"{report['parallel']} runs at a time on one device. Pruned and dropped runs use "
        "`lr_trajectory=epoch`. Decoding: stock `espnet2.bin.asr_inference`, beam "
        f"{plan['beam']}, CTC weight 0.3, `valid.acc.ave.pth` ({plan['nbest']} best).",
        "",
        "Full data's valid accuracy "
        + ("reached a plateau" if report["baseline_plateau"] else "had NOT reached a plateau")
        + f" (gain < {plan['plateau_delta']} over the last {plan['plateau_window']} epochs). "
        "Steps to target: optimizer steps until valid acc first reached 0.98 x full data's "
        f"final ({_f(target, '.4f')}). Times are not reported: the runs shared one device."
        + (
            " Decoded with `--decode_only`: the models come from an earlier run of the same "
            "command."
            if report.get("decode_only")
            else ""
        ),
        "",
        wer_table(report["rows"], report["test_sets"]),
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--small", action="store_true", help="tiny CPU run of the pipeline")
    parser.add_argument("--dry", action="store_true", help="print the plan and variants only")
    parser.add_argument("--only", nargs="*", default=None, help="variants to run (full always)")
    parser.add_argument("--skip", nargs="*", default=None, help="variants not to run")
    parser.add_argument("--parallel", type=int, default=None,
                        help="trainings at once (default: all; 2 with --small)")  # fmt: skip
    parser.add_argument("--epochs", type=int, default=None, help="override the plan's")
    parser.add_argument(
        "--decode_only", action="store_true", help="decode the models already trained in --out"
    )
    gpu.add_setup_options(parser, "sweep", "synthesis/statistics/decode jobs")
    parser.add_argument("--results_md", type=Path, default=BENCH / "gpu" / "RESULTS_sweep.md")
    args = parser.parse_args(argv)

    plan = SWEEP_SMALL if args.small else SWEEP
    if args.epochs:
        plan = dataclasses.replace(plan, epochs=args.epochs, max_epochs=args.epochs)
    try:
        variants = select(args.only, args.skip)
        check_all(variants, plan.epochs)
    except ConfigError as err:
        print(f"sweep: error: {err}", file=sys.stderr)
        return 2
    parallel = args.parallel or (2 if args.small else len(variants))
    if args.dry:
        plan_d = dataclasses.asdict(plan)
        runs = {v.name: v.args(plan.epochs) for v in variants}
        print(json.dumps({"plan": plan_d, "parallel": parallel, "variants": runs}, indent=1))
        return 0
    out = args.out or BENCH / "gpu" / "out" / ("sweep_small" if args.small else "sweep")
    ngpu, nj, corpus, started = gpu.set_up(plan, out, args.ngpu, args.nj)
    if args.decode_only:
        trained, gpu_use = {v.name: finished(out / "exp" / v.name) for v in variants}, None
    else:
        log(f"training {len(variants)} variants, {parallel} at once")
        sampler = gpu.GpuSampler(out / "nvidia_smi.csv")
        try:
            trained = train_all(corpus, out, variants, plan, ngpu, parallel)
        finally:
            gpu_use = sampler.stop()
    ok = [v.name for v in variants if trained[v.name]["status"] == "ok"]
    scores = {}
    if ok:
        log(f"decoding {len(ok)} models")
        test_dir = gpu.merge_test_sets(corpus, out)
        gpu.decode(out, ok, test_dir, plan, ngpu, min(nj, 16))
        scores = {name: gpu.score(corpus, out, name) for name in ok}
    rows, target = collect(out, variants, plan.epochs, trained, scores)
    full_acc = gpu.valid_acc(out / "exp" / "full")
    report = {
        "small": args.small,
        "environment": gpu.environment(ngpu),
        "plan": dataclasses.asdict(plan),
        "parallel": parallel,
        "corpus_hours": corpus.hours(),
        "test_sets": list(corpus.test_sets),
        "baseline_plateau": gpu.plateaued(full_acc, plan.plateau_window, plan.plateau_delta),
        "target_valid_acc": target,
        "gpu_during_training": gpu_use,
        "rows": rows,
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


if __name__ == "__main__":
    sys.exit(main())
