#!/usr/bin/env python3
"""Why the first batches of an epoch wait longer for data: the training loader alone, timed.

Trains nothing: a trainer runs the plugin's real training iterator (ESPnet's dataset,
preprocessor and loader, ``--num_workers`` worker processes) and "computes" ``--step_ms`` per
batch (a sleep, as an accelerator that never waits on the CPU would), recording how long each
``next()`` blocked. The epoch's losses are invented (a function of utterance and epoch), so the
Easy2hard selections proceed as in training. Variants: no time dropping and 20 ms chunk dropping
0.3, both with Easy2hard 0.7, each with the loader's workers forked when the epoch's loop starts
(ESPnet's way) and started ahead, as the plugin's trainer does, when the previous epoch's loop
ends (they fork and prefetch while ESPnet validates). Per epoch after the warm-up it reports:

* ``build_iter_s``: the factory's ``build_iter`` (planning, the agreement check, the loader);
* ``first_batch_s``: from ``iter()`` (the workers start) to the first batch;
* ``wait_first20_s`` / ``wait_rest_s``: mean wait per batch over batches 1-20 and the others;
* in the workers (``worker_*``): seconds from the worker's start to its first item, garbage
  collection seconds (all workers) and full collections (generation 2), and the
  mean seconds per item of reading plus preprocessing (first item of each worker vs. the rest),
  and of the time dropping alone (``worker_first_drop_s``: each worker's first utterance).

Writes ``bench/out/first_batch/first_batch.json``; uses the corpus of ``speedup.py``.

    python bench/first_batch.py [--num_workers 2] [--step_ms 20] [--epochs 4]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import shutil
import statistics
import sys
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import BENCH, chunk_drop, easy2hard, log, shared_cpu_corpus  # noqa: E402

# (options, start the next epoch's loader while ESPnet validates: what the trainer does)
VARIANTS = {
    "easy2hard 0.7, workers forked per epoch": ([*easy2hard(0.7), "--time_drop", "none"], False),
    "easy2hard 0.7 + chunk 0.3, workers forked per epoch": (
        [*easy2hard(0.7), *chunk_drop(0.3, 20)],
        False,
    ),
    "easy2hard 0.7, started ahead": ([*easy2hard(0.7), "--time_drop", "none"], True),
    "easy2hard 0.7 + chunk 0.3, started ahead": ([*easy2hard(0.7), *chunk_drop(0.3, 20)], True),
}


def worker_probe(folder: Path):
    """Wraps a dataset's ``__getitem__`` and the time dropping to log per-item seconds per pid."""

    def watch_gc() -> None:
        """In a worker, log every garbage collection's generation and seconds."""
        if getattr(watch_gc, "pid", None) == os.getpid():
            return
        watch_gc.pid = os.getpid()
        started = {}

        def callback(phase, info):
            if phase == "start":
                started["t"] = time.perf_counter()
            elif "t" in started:
                dt = time.perf_counter() - started.pop("t")
                _log(folder, (f"gc{info['generation']}", started.get("t0", 0.0), dt))

        gc.callbacks.append(callback)

    def wrap_dataset(dataset) -> None:
        cls = dataset.__class__

        class Timed(cls):  # type: ignore[misc, valid-type]
            def __getitem__(self, uid):
                watch_gc()
                t0 = time.perf_counter()
                out = super().__getitem__(uid)
                _log(folder, ("item", t0, time.perf_counter() - t0))
                return out

        dataset.__class__ = Timed

    def wrap_preprocessor(pre) -> None:
        inner = pre.dropper.shorten

        def shorten(*a, **kw):
            t0 = time.perf_counter()
            out = inner(*a, **kw)
            _log(folder, ("drop", t0, time.perf_counter() - t0))
            return out

        pre.dropper.shorten = shorten

    return wrap_dataset, wrap_preprocessor


def _log(folder: Path, row: tuple) -> None:
    with (folder / f"{os.getpid()}.jsonl").open("a") as f:
        f.write(json.dumps([os.getpid(), *row]) + "\n")


def run_variant(
    name: str, extra: list[str], ahead: bool, corpus, config: Path, out: Path, opts
) -> list[dict]:
    from espnet_ddp.core.seeding import stable_hash64
    from espnet_ddp.espnet.loss_capture import CapturedLosses
    from espnet_ddp.espnet.pruned_iter_factory import PrunedIterFactory
    from espnet_ddp.espnet.pruning_trainer import PruningTrainer
    from espnet_ddp.espnet.task import PrunedASRTask

    exp = out / "exp"
    shutil.rmtree(exp, ignore_errors=True)
    probes = out / "probes"
    shutil.rmtree(probes, ignore_errors=True)
    probes.mkdir(parents=True)
    wrap_dataset, wrap_preprocessor = worker_probe(probes)
    epochs: list[dict] = []
    build: dict[int, float] = {}

    class TimedFactory(PrunedIterFactory):
        def build_iter(self, epoch, shuffle=None):
            t0 = time.perf_counter()
            it = super().build_iter(epoch, shuffle)
            build[epoch] = time.perf_counter() - t0
            return it

    class LoaderOnlyTrainer(PruningTrainer):
        @classmethod
        def train_one_epoch(cls, model, iterator, optimizers, schedulers, scaler, reporter, **kw):
            plan, run = iterator.plan, iterator.run
            for f in probes.iterdir():
                f.unlink()
            start = time.perf_counter()
            waits, ids = [], []
            it = iter(iterator)
            while True:
                t = time.perf_counter()
                try:
                    uids, _batch = next(it)
                except StopIteration:
                    break
                waits.append(time.perf_counter() - t)
                ids += list(uids)
                time.sleep(opts.step_ms / 1000)
            loop = time.perf_counter() - start
            value = [(stable_hash64(f"{u}/{plan.epoch}") % 1000) / 100.0 for u in ids]
            losses = CapturedLosses(utt_ids=ids, ctc=value, att=value, tokens=[1] * len(ids))
            run.finish_epoch(
                plan, losses, train_seconds=loop, optimizer_steps=len(waits),
                plugin_seconds=0.0, has_ctc=True, has_att=True,
            )  # fmt: skip
            epochs.append(summarize(plan.epoch, start, waits, loop, build, probes))
            log(f"{name} epoch {plan.epoch}: {json.dumps(epochs[-1])}")
            if ahead:
                iterator.start_next_epoch(seed=0)
            return False

    class LoaderOnlyTask(PrunedASRTask):
        trainer = LoaderOnlyTrainer

        @classmethod
        def build_iter_factory(cls, args, distributed_option, mode, kwargs=None):
            factory = super().build_iter_factory(args, distributed_option, mode, kwargs)
            if isinstance(factory, PrunedIterFactory):
                factory.__class__ = TimedFactory
                wrap_dataset(factory.dataset)
                if factory.preprocessor is not None:
                    wrap_preprocessor(factory.preprocessor)
            return factory

    cmd = [*corpus.data_args(), *corpus.normalize_args(), "--config", str(config)]
    cmd += ["--output_dir", str(exp), "--ngpu", "0", "--seed", "0"]
    cmd += ["--max_epoch", str(opts.epochs), "--num_workers", str(opts.num_workers)]
    cmd += ["--batch_bins", str(opts.batch_bins)]
    cmd += ["--use_matplotlib", "false", "--num_att_plot", "0", "--use_tensorboard", "false"]
    LoaderOnlyTask.main(cmd=[*cmd, *extra])
    return epochs


def summarize(epoch, start, waits, loop, build, probes: Path) -> dict:
    rows = []
    for f in probes.iterdir():
        rows += [json.loads(x) for x in f.read_text().splitlines()]
    items: dict[int, list] = {}
    for pid, kind, t0, dt in rows:
        if kind == "item":
            items.setdefault(pid, []).append((t0, dt))
    firsts, rests, starts = [], [], []
    for series in items.values():
        series.sort()
        firsts.append(series[0][1])
        rests += [dt for _, dt in series[1:]]
        starts.append(series[0][0] - start)
    by_pid: dict[int, list] = {}
    for pid, kind, t0, dt in rows:
        if kind == "drop":
            by_pid.setdefault(pid, []).append((t0, dt))
    first_drops, drops = [], []
    for series in by_pid.values():
        series.sort()
        first_drops.append(series[0][1])
        drops += [dt for _, dt in series[1:]]
    mean = statistics.fmean
    gcs = [(kind, dt) for _, kind, _, dt in rows if kind.startswith("gc")]
    return {
        "epoch": epoch,
        "batches": len(waits),
        "build_iter_s": round(build.get(epoch, float("nan")), 4),
        "first_batch_s": round(waits[0], 4) if waits else None,
        "wait_first20_s": round(mean(waits[:20]), 4) if waits else None,
        "wait_rest_s": round(mean(waits[20:]), 4) if len(waits) > 20 else None,
        "loop_s": round(loop, 2),
        "worker_start_to_first_item_s": round(mean(starts), 4) if starts else None,
        "worker_first_item_s": round(mean(firsts), 4) if firsts else None,
        "worker_item_s": round(mean(rests), 4) if rests else None,
        "worker_gc_s": round(sum(dt for _, dt in gcs), 4),
        "worker_full_gcs": sum(kind == "gc2" for kind, _ in gcs),
        "worker_first_drop_s": round(mean(first_drops), 5) if first_drops else None,
        "worker_drop_per_item_s": round(mean(drops), 5) if drops else None,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--num_workers", type=int, default=2)
    parser.add_argument("--step_ms", type=float, default=20.0)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--batch_bins", type=int, default=150_000, help="smaller: more batches")
    parser.add_argument("--out", type=Path, default=BENCH / "out" / "first_batch")
    args = parser.parse_args(argv)
    from speedup import FULL

    corpus, config = shared_cpu_corpus(FULL, args.out)
    result = {"num_workers": args.num_workers, "step_ms": args.step_ms, "variants": {}}
    for name, (extra, ahead) in VARIANTS.items():
        result["variants"][name] = run_variant(name, extra, ahead, corpus, config, args.out, args)
    medians = {}
    for name, epochs in result["variants"].items():
        later = [e for e in epochs if e["epoch"] > 1]
        medians[name] = {
            k: statistics.median([e[k] for e in later if e[k] is not None])
            for k in later[0]
            if k != "epoch" and any(e[k] is not None for e in later)
        }
    result["medians_after_warmup"] = medians
    (args.out / "first_batch.json").write_text(json.dumps(result, indent=1))
    print(json.dumps(medians, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
