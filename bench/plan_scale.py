#!/usr/bin/env python3
"""The plugin's per-epoch cost at corpus scale: planning, scoring and records, no audio, no model.

For each ``--utts N`` it writes a synthetic LibriSpeech-like shape table (speed-perturbed ids,
12 s mean utterances at 16 kHz, BPE-like token counts), then, in a fresh process on one rank,
runs the plugin's own per-epoch path for 3 epochs with Easy2hard 0.7 + 20 ms chunk dropping 0.3
(epoch 1 is the pruning warm-up): plan the epoch (selection, fed lengths, numel batches, rank
agreement), invent one loss per kept utterance, and finish it (merge the scores, save the table,
write the record). Prints one JSON line per N:

* ``plan_seconds``, ``finish_seconds``: medians over epochs 2-3;
* ``peak_mib``: peak RSS of the measuring process minus its RSS after imports (shape table,
  score table, plans and records: everything the plugin holds);
* ``bytes_per_epoch``: bytes written under ``data_pruning/`` by epoch 3 (new or grown files,
  listed in ``files``).

A benchmark, not a test: figures depend on the machine and its load.

    python bench/plan_scale.py --utts 10000 100000 843000
    python bench/plan_scale.py --utts 2000 --keep /tmp/out   # keep the experiment folder
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
FS = 16000
EPOCHS = 3
MAX_EPOCH = 10
BATCH_BINS = 16_000_000
VOCAB = 5000


# -- the synthetic corpus (parent process) --------------------------------------------------------


def write_shape_files(folder: Path, num_utts: int, seed: int = 0) -> tuple[Path, Path]:
    """``speech_shape`` and ``text_shape.bpe`` of ``num_utts`` speed-perturbed utterances."""
    rng = np.random.default_rng(seed)
    base = -(-num_utts // 3)
    seconds = np.clip(rng.gamma(4.0, 3.1, size=base), 1.0, 35.0)
    words = np.maximum(1, np.rint(seconds * rng.uniform(2.0, 3.4, size=base))).astype(np.int64)
    tokens = np.maximum(1, np.rint(words * 1.3)).astype(np.int64)
    speaker = rng.integers(19, 9000, size=base)
    chapter = rng.integers(100, 200000, size=base)
    names = [f"{s}-{c}-{i % 10000:04d}" for s, c, i in zip(speaker, chapter, range(base))]
    folder.mkdir(parents=True, exist_ok=True)
    speech, text = folder / "speech_shape", folder / "text_shape.bpe"
    with speech.open("w") as fs, text.open("w") as ft:
        written = 0
        for factor, prefix in ((1.0, ""), (0.9, "sp0.9-"), (1.1, "sp1.1-")):
            n = min(base, num_utts - written)
            if n <= 0:
                break
            samples = np.rint(seconds[:n] * FS / factor).astype(np.int64)
            fs.write("".join(f"{prefix}{u} {s}\n" for u, s in zip(names[:n], samples.tolist())))
            ft.write(
                "".join(
                    f"{prefix}{u} {t},{VOCAB}\n" for u, t in zip(names[:n], tokens[:n].tolist())
                )
            )
            written += n
    return speech, text


# -- one measurement (child process) --------------------------------------------------------------


def rss_kib(field: str = "VmRSS") -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    """File name -> (size, mtime) of the files in ``folder``."""
    if not folder.exists():
        return {}
    return {p.name: (p.stat().st_size, p.stat().st_mtime_ns) for p in folder.iterdir()}


def written(before: dict, after: dict) -> dict[str, int]:
    """Bytes written between two snapshots: new files whole, appended files by their growth."""
    out = {}
    for name, (size, mtime) in after.items():
        if name not in before:
            out[name] = size
        elif (size, mtime) != before[name]:
            old = before[name][0]
            out[name] = size - old if size > old else size
    return out


def measure(num_utts: int, shape_dir: Path, out: Path) -> dict:
    from espnet_ddp.core.config import PruningConfig, TimeDropConfig
    from espnet_ddp.espnet.distributed import RankInfo
    from espnet_ddp.espnet.epoch_batches import BatchSpec, ShapeTable
    from espnet_ddp.espnet.loss_capture import CapturedLosses
    from espnet_ddp.espnet.min_length import MinKeepRule
    from espnet_ddp.espnet.options import PluginOptions
    from espnet_ddp.espnet.pruning_run import DataPruningRun

    base_rss = rss_kib()
    t0 = time.perf_counter()
    shapes = ShapeTable.load(
        [str(shape_dir / "speech_shape"), str(shape_dir / "text_shape.bpe")], ["speech", "text"]
    )
    options = PluginOptions(
        pruning=PruningConfig.from_options("easy2hard", {"keep_ratio": 0.7, "ctc_weight": 0.3}),
        time_drop=TimeDropConfig.from_options("chunk", {"drop_ratio": 0.3, "chunk_ms": 20}),
    )
    spec = BatchSpec("numel", 1, BATCH_BINS, (), "descending", "descending", False, 1)
    run = DataPruningRun(options, shapes, spec, out, MAX_EPOCH, MinKeepRule(), RankInfo())
    load_seconds = time.perf_counter() - t0

    plan_s, finish_s, batches, files = [], [], [], {}
    folder = Path(out) / "data_pruning"
    for epoch in range(1, EPOCHS + 1):
        before = snapshot(folder)
        t = time.perf_counter()
        plan = run.plan_epoch(epoch)
        check = getattr(run, "check_plan", None)
        if check is not None:
            check(plan)
        plan_s.append(time.perf_counter() - t)
        kept = list(plan.selection.kept)
        rng = np.random.default_rng(epoch)
        ctc = (rng.gamma(2.0, 20.0, size=len(kept)) + 1.0).tolist()
        fed = getattr(plan, "fed_samples", None)
        captured = CapturedLosses(
            utt_ids=kept,
            ctc=ctc,
            att=[v / 2 for v in ctc],
            tokens=[20] * len(kept),  # invented losses: any positive count will do
            fed_samples=int(fed if fed is not None else sum(plan.fed_lengths.values())),
        )
        t = time.perf_counter()
        run.finish_epoch(
            plan, captured, train_seconds=1.0, optimizer_steps=len(plan.batches),
            plugin_seconds=0.0, has_ctc=True, has_att=True,
        )  # fmt: skip
        finish_s.append(time.perf_counter() - t)
        batches.append(len(plan.batches))
        files = written(before, snapshot(folder))
    return {
        "utts": num_utts,
        "plan_seconds": statistics.median(plan_s[1:]),
        "finish_seconds": statistics.median(finish_s[1:]),
        "peak_mib": round((rss_kib("VmHWM") - base_rss) / 1024, 1),
        "bytes_per_epoch": sum(files.values()),
        "files": files,
        "epoch_seconds": {
            "plan": [round(x, 3) for x in plan_s],
            "finish": [round(x, 3) for x in finish_s],
        },
        "batches": batches,
        "load_seconds": round(load_seconds, 2),
        "load_average": round(os.getloadavg()[0], 1),
    }  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--utts", type=int, nargs="+", default=[10_000], help="corpus sizes")
    parser.add_argument("--keep", type=Path, help="keep the shape files and experiments here")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--shapes", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child is not None:
        print(json.dumps(measure(args.child, args.shapes, args.out)), flush=True)
        return 0
    with tempfile.TemporaryDirectory(prefix="plan_scale_") as tmp:
        root = args.keep or Path(tmp)
        env = dict(
            os.environ, PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])
        )
        for n in args.utts:
            shape_dir = root / f"shapes_{n}"
            write_shape_files(shape_dir, n)
            out = root / f"exp_{n}"
            cmd = [sys.executable, __file__, "--child", str(n), "--shapes", str(shape_dir)]
            proc = subprocess.run(
                [*cmd, "--out", str(out)], env=env, capture_output=True, text=True
            )
            if proc.returncode != 0:
                sys.stderr.write(proc.stderr[-4000:])
                return proc.returncode
            print(proc.stdout.strip().splitlines()[-1], flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
