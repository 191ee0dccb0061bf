"""Time-scale modification by WSOLA (waveform-similarity overlap-add): shorter audio, same pitch.

Responsible for turning a waveform of ``n`` samples into one of exactly ``out_len`` samples that
plays faster with its pitch and spectral envelope kept. Not responsible for deciding how much
shorter an utterance becomes (:class:`espnet_ddp.core.time_drop.TimeDropper`) or for anything
random: the result depends only on the input.

How: output frames of ``2 * hop`` samples overlap by half under a Hann window (whose shifted
copies sum to one). Output frame ``k`` is read from the input near ``k * hop * n / out_len``,
shifted by up to ``tolerance`` samples to the position whose frame best continues the previous
one (highest normalised cross-correlation with the natural continuation of the last frame read).
So every stretch of speech is kept, only faster, and no splice produces a click.

>>> fs = 16000
>>> tone = np.sin(2 * np.pi * 440 * np.arange(fs) / fs).astype(np.float32)
>>> out = time_compress(tone, 11200, fs)
>>> out.shape, out.dtype
((11200,), dtype('float32'))
"""

from __future__ import annotations

import numpy as np

FRAME_MS = 20.0  # output frame hop is half of it
TOLERANCE_MS = 5.0


def time_compress(
    wav: np.ndarray,
    out_len: int,
    fs: int,
    frame_ms: float = FRAME_MS,
    tolerance_ms: float = TOLERANCE_MS,
) -> np.ndarray:
    """Return ``wav`` (``(T,)`` or ``(T, C)``) time-scaled to exactly ``out_len`` samples.

    ``out_len`` must lie in ``[0, T]``; ``out_len == T`` returns ``wav`` itself.
    """
    n = int(wav.shape[0])
    out_len = int(out_len)
    if not 0 <= out_len <= n:
        raise ValueError(f"out_len must be in [0, {n}], got {out_len}")
    if out_len == n:
        return wav
    hop = max(1, int(round(frame_ms * fs / 2000.0)))
    win_len = 2 * hop
    tol = max(0, int(round(tolerance_ms * fs / 1000.0)))
    x = wav.astype(np.float64, copy=False)
    if n < win_len + 2 * tol or out_len < win_len:
        return _resample_linear(x, out_len).astype(wav.dtype, copy=False)
    mono = x if x.ndim == 1 else x.mean(axis=1)
    speed = n / out_len
    base = 2 * win_len + 2 * tol + int(np.ceil(hop * speed))  # input sample 0 in the padded copy
    xp = np.pad(x, [(base, base)] + [(0, 0)] * (x.ndim - 1))
    mp = np.pad(mono, (base, base))
    cumsum = np.concatenate(([0.0], np.cumsum(mp * mp)))
    window = np.hanning(win_len + 1)[:win_len]  # periodic Hann: shifted copies sum to 1
    w = window.reshape(-1, *([1] * (x.ndim - 1)))
    num_frames = out_len // hop + 2
    # Output frame k covers out[(k - 1) * hop : (k + 1) * hop]; ``out`` starts one hop early, so
    # that output sample 0 already has two overlapping frames.
    out = np.zeros(((num_frames + 1) * hop,) + x.shape[1:], dtype=np.float64)
    lags = np.arange(-tol, tol + 1)
    lowest, highest = -base + tol, n + base - 2 * win_len - tol
    prev = -hop  # input position of the previous frame
    for k in range(num_frames):
        nominal = int(round(k * hop * speed)) - hop
        if k == 0:
            pos = nominal
        else:
            target = mp[base + prev + hop : base + prev + hop + win_len]
            pos = _best_position(mp, cumsum, base + nominal, lags, target, win_len) - base
        pos = min(max(pos, lowest), highest)
        out[k * hop : k * hop + win_len] += w * xp[base + pos : base + pos + win_len]
        prev = pos
    return out[hop : hop + out_len].astype(wav.dtype)


def _best_position(
    sig: np.ndarray,
    energy_cumsum: np.ndarray,
    centre: int,
    lags: np.ndarray,
    target: np.ndarray,
    win_len: int,
) -> int:
    """The start in ``sig`` near ``centre`` whose frame correlates best with ``target``."""
    lo = centre + int(lags[0])
    seg = sig[lo : lo + win_len + lags.size - 1]
    if lo < 0 or seg.size < win_len + lags.size - 1:
        return centre
    dots = np.correlate(seg, target, mode="valid")
    ends = energy_cumsum[lo + win_len : lo + win_len + lags.size]
    energy = ends - energy_cumsum[lo : lo + lags.size]
    return lo + int(np.argmax(dots / np.sqrt(np.maximum(energy, 0.0) + 1e-12)))


def _resample_linear(x: np.ndarray, out_len: int) -> np.ndarray:
    """Linear interpolation to ``out_len`` samples (for inputs too short for WSOLA frames)."""
    n = x.shape[0]
    if out_len == 0 or n == 0:
        return np.zeros((out_len,) + x.shape[1:], dtype=x.dtype)
    t = np.linspace(0.0, n - 1, out_len)
    if x.ndim == 1:
        return np.interp(t, np.arange(n), x)
    return np.stack([np.interp(t, np.arange(n), x[:, c]) for c in range(x.shape[1])], axis=1)
