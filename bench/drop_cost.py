"""Loader-side cost of each time-drop mode: milliseconds of CPU per utterance, and x real time.

Runs ``TimeDropper.shorten`` (what a data-loader worker does per utterance) on one synthetic
utterance with speech-like gaps, for chunk (uniform), chunk (energy-first), point and tempo, and
prints one JSON line per mode with the median over ``--repeats`` utterance ids. Frames mode is
absent: it works on the model's features, not in the loader. A GPU run feeds about 3,200 s of
audio per second (DESIGN.md section 5): a mode at ``x_real_time`` R needs about 3,200 / R loader
cores to keep up.

    python bench/drop_cost.py --seconds 12 --repeats 9
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from espnet_ddp.core.config import TimeDropConfig
from espnet_ddp.core.time_drop import TimeDropper

MODES = {
    "chunk": ("chunk", {}),
    "chunk_energy": ("chunk", {"select": "energy"}),
    "point": ("point", {}),
    "tempo": ("tempo", {}),
}


def utterance(seconds: float, fs: int, seed: int = 0) -> np.ndarray:
    """Noise bursts with about 20% of 20 ms gaps (silence), float32."""
    rng = np.random.default_rng(seed)
    n = int(seconds * fs)
    voiced = np.repeat(rng.random(n // 320 + 1) > 0.2, 320)[:n]
    return (rng.standard_normal(n) * voiced).astype(np.float32)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=12.0)
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--drop_ratio", type=float, default=0.3)
    args = parser.parse_args()
    fs = 16000
    wav = utterance(args.seconds, fs)
    for name, (mode, extra) in MODES.items():
        cfg = TimeDropConfig.from_options(mode, {"drop_ratio": args.drop_ratio, **extra})
        dropper = TimeDropper(cfg, max_epoch=10)
        drop = dropper.num_to_remove("u", wav.size, epoch=1)
        times = []
        for i in range(args.repeats):
            t0 = time.perf_counter()
            out, _ = dropper.shorten(f"u{i}", wav, drop, epoch=1)
            times.append(time.perf_counter() - t0)
            assert out.shape[0] == wav.size - drop
        median = float(np.median(times))
        print(json.dumps({"mode": name, "ms_per_utterance": round(1000 * median, 2),
                          "x_real_time": round(args.seconds / median)}))


if __name__ == "__main__":
    main()
