"""GPU sampling with ``nvidia-smi``: a background sampler, its CSV rows, busy seconds.

Responsible for what ``utilization.gpu`` says and how it is integrated over a time window. Not
responsible for which window (the training loop of an epoch: :mod:`gpu.figures`).
"""

from __future__ import annotations

import datetime
import shutil
import statistics
import subprocess
from pathlib import Path

SMI_TIME = "%Y/%m/%d %H:%M:%S.%f"
Sample = tuple[datetime.datetime, float, float]  # (timestamp, utilization %, memory MiB)


class GpuSampler:
    """Samples ``nvidia-smi`` every ``period_ms`` while a training runs (no-op without it).

    What it measures: ``utilization.gpu``, the percentage of the driver's last sample period
    (between 1/6 s and 1 s, driver-defined) during which at least one kernel was running on the
    GPU. It is a "some kernel was active" figure, not SM occupancy or achieved FLOPs: one small
    kernel at a time counts as 100%. Each row also carries the sample's wall-clock timestamp, so
    :func:`busy_seconds` can integrate it over one epoch's training loop.
    """

    def __init__(self, path: Path, period_ms: int = 500) -> None:
        self.path = path
        self.proc: subprocess.Popen | None = None
        if shutil.which("nvidia-smi"):
            query = "--query-gpu=timestamp,utilization.gpu,memory.used"
            self.proc = subprocess.Popen(
                ["nvidia-smi", query, "--format=csv,noheader,nounits", "-lms", str(period_ms)],
                stdout=path.open("w"),
                stderr=subprocess.DEVNULL,
            )

    def stop(self) -> dict | None:
        """Mean/median utilization (%) and peak memory (MiB) of GPU 0, or None."""
        if self.proc is None:
            return None
        self.proc.terminate()
        self.proc.wait()
        samples = read_smi_samples(self.path)
        if not samples:
            return None
        util = [u for _, u, _ in samples]
        return {
            "util_mean": statistics.fmean(util),
            "util_median": statistics.median(util),
            "mem_max_mib": max(m for _, _, m in samples),
            "samples": len(util),
        }


def read_smi_samples(path: Path) -> list[Sample]:
    """(timestamp, utilization %, memory MiB) rows of GPU 0 from a sampler's CSV file."""
    out = []
    for line in path.read_text().splitlines() if path.exists() else []:
        parts = [p.strip() for p in line.split(",")]
        if len(parts) < 3 or not parts[1].isdigit():
            continue
        try:
            stamp = datetime.datetime.strptime(parts[0], SMI_TIME)
            out.append((stamp, float(parts[1]), float(parts[2])))
        except ValueError:
            continue
    return out


def busy_seconds(
    samples: list[Sample], start: datetime.datetime, end: datetime.datetime
) -> float | None:
    """Seconds in [start, end] with a kernel running: sum of utilization x sample interval.

    Each sample's utilization is held from its timestamp to the next sample's (clipped to the
    window). None when no sample falls in the window.

    >>> t = [datetime.datetime(2026, 1, 1, 0, 0, s) for s in range(5)]
    >>> rows = [(t[0], 100.0, 0.0), (t[1], 50.0, 0.0), (t[2], 0.0, 0.0), (t[3], 20.0, 0.0)]
    >>> busy_seconds(rows, t[0], t[4])  # 1 + 0.5 + 0 + 0.2 (last one held to the window's end)
    1.7
    """
    total, inside = 0.0, False
    for i, (stamp, util, _) in enumerate(samples):
        nxt = samples[i + 1][0] if i + 1 < len(samples) else end
        lo, hi = max(stamp, start), min(nxt, end)
        if hi > lo:
            inside = inside or start <= stamp <= end
            total += util / 100.0 * (hi - lo).total_seconds()
    return round(total, 6) if inside else None
