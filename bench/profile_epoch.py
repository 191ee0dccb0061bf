#!/usr/bin/env python3
"""Where the time of one pruned epoch goes, on the CPU: cProfile around ESPnet's training loop.

Trains the speed-up benchmark's model and corpus (``speedup.py`` builds them) with Easy2hard keep
0.7 + 20 ms chunk drop 0.3 for two epochs, in this process, with ``num_workers 0`` so data
loading runs in the profiled thread. Epoch 1 is the pruning warm-up; epoch 2, the first pruned
epoch, is profiled. Prints and writes ``bench/out/profile/breakdown.json`` (and the raw
``epoch2.prof`` for ``snakeviz``/``pstats``): cumulative seconds of data loading (reading audio,
ESPnet's preprocessor, time dropping, collation), forward (the plugin's loss hooks separately),
backward, optimizer, the reporter, and the plugin's planning and end-of-epoch scoring.

    python bench/profile_epoch.py            # after bench/speedup.py made the corpus
    python bench/profile_epoch.py --small    # the smoke-size corpus of speedup.py --small
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import sys
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (  # noqa: E402
    BENCH,
    chunk_drop,
    easy2hard,
    epoch_stats,
    log,
    shared_cpu_corpus,
)

# (label, path fragment, function name): cumulative time of the first match; nested rows are
# parts of the row above them.
PROBES = [
    ("data loading (DataLoader __next__)", "torch/utils/data/dataloader.py", "__next__"),
    ("  reading audio (soundfile)", "soundfile.py", "read"),
    ("  ESPnet preprocessor (tokenize, normalize)", "espnet2/train/preprocessor.py", "__call__"),
    ("  plugin: time drop (plan + apply)", "espnet_ddp/espnet/time_drop_preprocessor.py",
     "__call__"),
    ("  collate (padding)", "espnet2/train/collate_fn.py", "__call__"),
    ("forward (model)", "torch/nn/modules/module.py", "_call_impl"),
    ("  plugin: loss hooks (CTC)", "espnet_ddp/espnet/loss_capture.py", "_on_ctc"),
    ("  plugin: loss hooks (attention)", "espnet_ddp/espnet/loss_capture.py", "_on_att"),
    ("  plugin: loss hooks (model start/end)", "espnet_ddp/espnet/loss_capture.py",
     "_on_model_end"),
    ("backward", "torch/_tensor.py", "backward"),
    ("optimizer step", "torch/optim/adam.py", "step"),
    ("grad clipping", "torch/nn/utils/clip_grad.py", "clip_grad_norm_"),
    ("reporter (statistics)", "espnet2/train/reporter.py", "register"),
    ("plugin: end-of-epoch scoring (finish_epoch)", "espnet_ddp/espnet/pruning_run.py",
     "finish_epoch"),
]  # fmt: skip


def cumulative(stats: pstats.Stats, fragment: str, name: str) -> tuple[float, int]:
    """Cumulative seconds and calls of the largest function named ``name`` in a matching file.

    Taking the largest picks the outermost call of recursive functions (torch's ``_call_impl``
    of the whole model, not of its submodules).
    """
    best = (0.0, 0)
    for (path, _, func), (cc, _nc, _tt, ct, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        if func == name and fragment in path.replace("\\", "/") and ct > best[0]:
            best = (ct, cc)
    return best


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--small", action="store_true")
    parser.add_argument("--out", type=Path, default=BENCH / "out" / "profile")
    args = parser.parse_args(argv)

    from speedup import FULL, SMALL

    from espnet_ddp.espnet.pruned_iter_factory import PlannedEpochIterator
    from espnet_ddp.espnet.pruning_trainer import PruningTrainer
    from espnet_ddp.espnet.task import PrunedASRTask

    plan = SMALL if args.small else FULL
    corpus, config = shared_cpu_corpus(plan, args.out)
    exp = args.out / "exp"
    profiler = cProfile.Profile()
    timings: dict[str, float] = {}

    class ProfilingTrainer(PruningTrainer):
        @classmethod
        def train_one_epoch(cls, model, iterator, *a, **kw):
            pruned = (
                isinstance(iterator, PlannedEpochIterator)
                and iterator.plan.selection.phase.kind == "pruned"
            )
            if not pruned:
                return super().train_one_epoch(model, iterator, *a, **kw)
            timings["plan_seconds"] = iterator.plan.plan_seconds
            start = time.perf_counter()
            profiler.enable()
            try:
                return super().train_one_epoch(model, iterator, *a, **kw)
            finally:
                profiler.disable()
                timings["profiled_seconds"] = time.perf_counter() - start

    class ProfilingTask(PrunedASRTask):
        trainer = ProfilingTrainer

    import shutil

    shutil.rmtree(exp, ignore_errors=True)
    cmd = [*corpus.data_args(), *corpus.normalize_args(), "--config", str(config)]
    cmd += ["--output_dir", str(exp), "--ngpu", "0", "--seed", "0", "--max_epoch", "2"]
    cmd += ["--num_workers", "0", "--use_matplotlib", "false", "--num_att_plot", "0"]
    cmd += ["--use_tensorboard", "false", *easy2hard(0.7), *chunk_drop(0.3, 20)]
    log("training 2 epochs; profiling epoch 2 (the first pruned one)")
    ProfilingTask.main(cmd=cmd)

    profiler.dump_stats(args.out / "epoch2.prof")
    stats = pstats.Stats(profiler)
    total = timings["profiled_seconds"]
    rows = []
    for label, fragment, name in PROBES:
        seconds, calls = cumulative(stats, fragment, name)
        rows.append({"part": label, "seconds": seconds, "share": seconds / total, "calls": calls})
    record = json.loads((exp / "data_pruning" / "epoch2.json").read_text())
    espnet = epoch_stats(exp).get(2, {}).get("train", {})
    steps = record["optimizer_steps"]
    espnet_parts = {
        k: espnet[k] * steps
        for k in ("iter_time", "forward_time", "backward_time", "optim_step_time", "train_time")
        if k in espnet
    }
    result = {
        "profiled_epoch_seconds": total,
        "note": "cProfile adds overhead to Python-heavy parts; torch kernels are unaffected",
        "plan_seconds (before the loop)": timings.get("plan_seconds"),
        "record": {k: record[k] for k in ("train_seconds", "plugin_seconds", "optimizer_steps",
                                          "num_batches", "fed_seconds", "kept_seconds")},
        "espnet_train_log_seconds (per-step mean x steps)": espnet_parts,
        "breakdown": rows,
    }  # fmt: skip
    (args.out / "breakdown.json").write_text(json.dumps(result, indent=1))
    print(f"profiled epoch 2: {total:.2f} s ({steps} steps)")
    for row in rows:
        print(f"{row['part']:<48} {row['seconds']:8.3f} s {100 * row['share']:6.2f}%")
    print("ESPnet's own per-epoch timers:", {k: round(v, 2) for k, v in espnet_parts.items()})
    print("top 25 by own time:")
    stats.sort_stats("tottime").print_stats(25)
    return 0


if __name__ == "__main__":
    sys.exit(main())
