"""Copies a Kaldi-style data dir with its audio resampled, to test robustness to sampling rates.

``asis``: the audio is resampled to ``--rate`` and left there, so a 16 kHz model is fed audio
recorded at the lower rate (the paper's robustness test). ``back``: the audio goes to
``--rate`` and back to ``--fs``, so only the band limit changes. Sample counts are exact:
1 s at 16 kHz becomes 8000 samples at 8 kHz, and ``back`` restores the original count.

Usage::

    python -m espnet_ddp.tools.resample_data --rate 8000 --mode asis data/test data/test_sr8000_asis

Writes ``DST/data/<utt>.<wav|flac>``, ``wav.scp`` (one file per utterance; ``segments`` are cut),
``utt2num_samples`` at the new rate, and copies the other per-utterance files (``text``,
``utt2spk``, ``spk2utt``, ...). Not responsible for decoding or scoring (the recipe's job).
"""

from __future__ import annotations

import argparse
import shutil
import sys
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile
import soxr

from espnet_ddp.tools.audio_io import read_audio
from espnet_ddp.tools.datadir import read_kv, write_kv

MODES = ("asis", "back")
FORMATS = ("wav", "flac")
# Files that describe the old audio and are rewritten (or become wrong) after resampling.
_REWRITTEN = {"wav.scp", "segments", "utt2num_samples", "feats.scp", "cmvn.scp", "reco2dur",
              "reco2file_and_channel"}  # fmt: skip


@dataclass(frozen=True)
class Job:
    """One output utterance: where its audio comes from and where it goes."""

    utt: str
    entry: str
    out: Path
    start: float | None = None
    end: float | None = None


@dataclass(frozen=True)
class Resampling:
    """What to do to every utterance; validated at construction."""

    rate: int
    mode: str
    fs: int = 16000
    audio_format: str = "wav"

    def __post_init__(self) -> None:
        if self.rate <= 0 or self.fs <= 0:
            raise ValueError(f"--rate and --fs must be positive, got {self.rate}, {self.fs}")
        if self.mode not in MODES:
            raise ValueError(f"--mode must be one of {MODES}, got {self.mode!r}")
        if self.audio_format not in FORMATS:
            raise ValueError(f"--audio_format must be one of {FORMATS}, got {self.audio_format!r}")

    @property
    def out_rate(self) -> int:
        """Sampling rate of the written audio."""
        return self.rate if self.mode == "asis" else self.fs


def resample_exact(x: np.ndarray, sr: int, target: int, length: int | None = None) -> np.ndarray:
    """Resamples ``x`` ((T,) or (T, C)) from ``sr`` to ``target`` Hz, ``length`` samples long.

    ``length`` defaults to ``round(T * target / sr)``; the soxr output is trimmed or zero-padded
    to it (a difference of at most one sample).
    """
    if length is None:
        length = int(round(len(x) * target / sr))
    y = x if sr == target else soxr.resample(x, sr, target, quality="HQ")
    if len(y) > length:
        return y[:length]
    if len(y) < length:
        pad = [(0, length - len(y))] + [(0, 0)] * (y.ndim - 1)
        return np.pad(y, pad)
    return y


def degrade(x: np.ndarray, sr: int, spec: Resampling) -> np.ndarray:
    """Applies ``spec`` to a signal at ``sr`` Hz; returns it at ``spec.out_rate``."""
    low = resample_exact(x, sr, spec.rate)
    if spec.mode == "asis":
        return low
    return resample_exact(low, spec.rate, spec.fs, length=int(round(len(x) * spec.fs / sr)))


def _process(job: Job, spec: Resampling) -> tuple[str, str, int]:
    x, sr = read_audio(job.entry)
    if job.start is not None:
        end = len(x) if job.end is None or job.end < 0 else int(round(job.end * sr))
        x = x[int(round(job.start * sr)) : end]
    y = np.clip(degrade(x.astype(np.float32), sr, spec), -1.0, 1.0 - 2.0**-15)
    soundfile.write(job.out, y, spec.out_rate, subtype="PCM_16", format=spec.audio_format.upper())
    return job.utt, str(job.out.resolve()), len(y)


def _safe_name(utt: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in utt)


def plan_jobs(src: Path, dst: Path, audio_format: str) -> list[Job]:
    """One job per utterance of ``src`` (per segment when ``src/segments`` exists)."""
    wav = read_kv(src / "wav.scp")
    data = dst / "data"
    if not (src / "segments").is_file():
        return [Job(u, e, data / f"{_safe_name(u)}.{audio_format}") for u, e in wav.items()]
    jobs = []
    for utt, value in read_kv(src / "segments").items():
        reco, start, end = value.split()
        if reco not in wav:
            raise ValueError(f"{src}/segments: recording {reco!r} of {utt!r} not in wav.scp")
        out = data / f"{_safe_name(utt)}.{audio_format}"
        jobs.append(Job(utt, wav[reco], out, float(start), float(end)))
    return jobs


def resample_data_dir(src: Path, dst: Path, spec: Resampling, nj: int = 1) -> int:
    """Writes the resampled copy of ``src`` into ``dst``; returns the number of utterances."""
    src, dst = Path(src), Path(dst)
    if src.resolve() == dst.resolve():
        raise ValueError("SRC_DATA_DIR and DST_DATA_DIR must differ")
    jobs = plan_jobs(src, dst, spec.audio_format)
    (dst / "data").mkdir(parents=True, exist_ok=True)
    if nj > 1:
        with ProcessPoolExecutor(nj) as pool:
            done = list(pool.map(_process, jobs, [spec] * len(jobs), chunksize=16))
    else:
        done = [_process(job, spec) for job in jobs]
    write_kv(dst / "wav.scp", {utt: path for utt, path, _ in done})
    write_kv(dst / "utt2num_samples", {utt: str(n) for utt, _, n in done})
    for file in sorted(src.iterdir()):
        if file.is_file() and file.name not in _REWRITTEN:
            shutil.copyfile(file, dst / file.name)
    return len(done)


def get_parser() -> argparse.ArgumentParser:
    """Command-line options."""
    parser = argparse.ArgumentParser(
        prog="python -m espnet_ddp.tools.resample_data",
        description=__doc__.split("\n\n")[0],
    )
    parser.add_argument("--rate", type=int, required=True, help="sampling rate to go through (Hz)")
    parser.add_argument(
        "--mode", choices=MODES, required=True, help="asis: stay at --rate; back: return to --fs"
    )
    parser.add_argument("--fs", type=int, default=16000, help="the model's rate (Hz)")
    parser.add_argument("--audio_format", choices=FORMATS, default="wav")
    parser.add_argument("--nj", type=int, default=1, help="parallel worker processes")
    parser.add_argument("src", type=Path, metavar="SRC_DATA_DIR")
    parser.add_argument("dst", type=Path, metavar="DST_DATA_DIR")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the process exit status."""
    args = get_parser().parse_args(argv)
    try:
        spec = Resampling(args.rate, args.mode, args.fs, args.audio_format)
        n = resample_data_dir(args.src, args.dst, spec, nj=args.nj)
    except (OSError, ValueError, RuntimeError) as err:
        print(f"resample_data: error: {err}", file=sys.stderr)
        return 1
    print(f"resample_data: {n} utterances -> {args.dst} ({spec.mode}, {spec.rate} Hz)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
