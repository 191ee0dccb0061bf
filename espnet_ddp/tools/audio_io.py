"""Reading audio named by a ``wav.scp`` entry: a file path, or a shell command ending in ``|``.

>>> x, sr = read_audio("sox in.flac -t wav - speed 0.9 |")  # doctest: +SKIP
"""

from __future__ import annotations

import io
import subprocess

import numpy as np
import soundfile


def is_pipe(entry: str) -> bool:
    """True when the ``wav.scp`` value is a command whose standard output is the audio."""
    return entry.rstrip().endswith("|")


def read_audio(entry: str) -> tuple[np.ndarray, int]:
    """Returns (samples as float32, shape (T,) or (T, C); sampling rate) for a ``wav.scp`` value."""
    if is_pipe(entry):
        cmd = entry.rstrip()[:-1]
        proc = subprocess.run(cmd, shell=True, capture_output=True, check=False)
        if proc.returncode != 0:
            err = proc.stderr.decode(errors="replace").strip()
            raise RuntimeError(f"command failed ({proc.returncode}): {cmd}: {err}")
        data, sr = soundfile.read(io.BytesIO(proc.stdout), dtype="float32")
    else:
        data, sr = soundfile.read(entry, dtype="float32")
    return data, int(sr)


def to_mono(x: np.ndarray) -> np.ndarray:
    """Averages the channels of a (T, C) signal; returns (T,) signals unchanged."""
    return x.mean(axis=1) if x.ndim == 2 else x


def resample(x: np.ndarray, sr: int, target: int) -> np.ndarray:
    """Resamples a mono signal from ``sr`` to ``target`` Hz (soxr, high quality)."""
    if sr == target:
        return x
    import soxr

    return soxr.resample(x, sr, target, quality="HQ").astype(np.float32)
