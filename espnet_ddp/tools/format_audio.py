"""Stage 3: writes the audio of a ``wav.scp`` as mono audio at one sampling rate, and its lengths.

Reads each entry (file or ``cmd |`` pipe), averages channels, resamples to ``--fs`` and writes
16-bit PCM flac or wav: one file per utterance (``<audio_dir>/<utt>.<format>``, written through a
temporary file and a rename; a file that is already there is reused when its source has not changed
since it was formatted: same entry, rate, size and modification time, see
:mod:`espnet_ddp.tools.source_stamps`; otherwise it is formatted again, and a source file that is
gone stops the job naming the utterance and the file), or, for ``flac.ark`` / ``wav.ark``, one
``<audio_dir>/data_wav.ark`` in kaldiio's extended ark layout, the one ESPnet's format_wav_scp.py
writes and ESPnet's ``kaldi_ark`` data type reads. Writes a new ``wav.scp`` pointing at the audio
and ``utt2num_samples``. With ``--segments`` (Kaldi's ``<utt> <recording> <start> <end>``, seconds;
end -1: to the end) the input is a recordings' ``wav.scp`` and each segment becomes an utterance,
cut before resampling. Stops naming the utterance whose audio cannot be read.

    python -m espnet_ddp.tools.format_audio --fs 16000 --audio_format flac \\
        split/wav.1.scp dump/raw/org/train/data/format.1 out/wav.1.scp out/utt2num_samples.1
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import soundfile

from espnet_ddp.tools.audio_check import describe
from espnet_ddp.tools.audio_io import read_audio, resample, to_mono
from espnet_ddp.tools.datadir import read_kv, write_kv
from espnet_ddp.tools.source_stamps import read_stamps, source_stamp, write_stamps

FORMATS = {"flac": "FLAC", "wav": "WAV"}
AUDIO_FORMATS = ["flac", "wav", "flac.ark", "wav.ark"]


def read_segments(path: str | Path) -> dict[str, tuple[str, float, float]]:
    """Kaldi ``segments``: utterance id -> (recording id, start s, end s; -1 for the end)."""
    out: dict[str, tuple[str, float, float]] = {}
    for n, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) != 4:
            raise ValueError(f"{path}:{n}: expected '<utt> <recording> <start> <end>': {line!r}")
        utt, rec, start, end = parts
        out[utt] = (rec, float(start), float(end))
    return out


def cut(x: np.ndarray, sr: int, start: float, end: float) -> np.ndarray:
    """Samples ``[start * sr, end * sr)`` of ``x`` (``end == -1``: to the end), as Kaldi cuts."""
    return x[int(start * sr) :] if end == -1 else x[int(start * sr) : int(end * sr)]


def utterances(scp: str, segments: str | None) -> Iterator[tuple[str, str, np.ndarray, int]]:
    """(utterance id, entry, mono samples, rate) of a wav.scp, or of its segments."""
    wav = read_kv(scp)
    if segments is None:
        for utt, entry in wav.items():
            try:
                x, sr = read_audio(entry)
            except Exception as e:  # noqa: BLE001 - name the utterance whatever went wrong
                raise RuntimeError(f"utterance {utt}: cannot read {entry!r}: {describe(e)}") from e
            yield utt, entry, to_mono(x), sr
        return
    segs = read_segments(segments)
    cache: tuple[str, np.ndarray, int] | None = None
    for utt, (rec, start, end) in segs.items():
        if rec not in wav:
            raise RuntimeError(f"utterance {utt}: recording {rec} of {segments} is not in {scp}")
        if cache is None or cache[0] != rec:
            try:
                x, sr = read_audio(wav[rec])
            except Exception as e:  # noqa: BLE001
                why = describe(e)
                raise RuntimeError(f"recording {rec}: cannot read {wav[rec]!r}: {why}") from e
            cache = (rec, to_mono(x), sr)
        yield utt, wav[rec], cut(cache[1], cache[2], start, end), cache[2]


def resampled(scp: str, segments: str | None, fs: int) -> Iterator[tuple[str, np.ndarray]]:
    """(utterance id, mono samples at ``fs``) of :func:`utterances`; an empty one is an error."""
    empty = "no samples in its segment" if segments is not None else "no samples"
    for utt, _, x, sr in utterances(scp, segments):
        x = resample(x, sr, fs)
        if x.size == 0:
            raise RuntimeError(f"utterance {utt}: {empty}")
        yield utt, x


def write_audio(out: Path, x: np.ndarray, fs: int) -> None:
    """16-bit ``out`` (flac or wav, by its suffix) through a temporary sibling and a rename."""
    tmp = out.with_name(f".{out.name}.tmp")
    soundfile.write(str(tmp), x, fs, subtype="PCM_16", format=FORMATS[out.suffix[1:]])
    tmp.replace(out)


def remove_unfinished(audio_dir: Path) -> None:
    """The temporaries of :func:`write_audio` that a killed job left."""
    for p in audio_dir.glob(".*.tmp"):
        if p.is_file():
            p.unlink(missing_ok=True)


def format_one(utt: str, entry: str, out: Path, fs: int, reuse: bool = False) -> int:
    """Writes one utterance (``reuse``: keeps ``out`` when it is there); returns its number of
    samples."""
    if reuse and out.is_file():
        return soundfile.info(str(out)).frames
    x, sr = read_audio(entry)
    x = resample(to_mono(x), sr, fs)
    if x.size == 0:
        raise ValueError("no samples")
    write_audio(out, x, fs)
    return int(x.shape[0])


def format_files(scp: str, audio_dir: Path, fs: int, fmt: str) -> tuple[dict, dict]:
    """Per-utterance files of ``scp`` (see the module): (wav.scp, utt2num_samples) as dicts;
    ``RuntimeError`` names the utterance that failed. The stamps of what was formatted (or
    found unchanged) are recorded even then, so a rerun reuses it."""
    old = read_stamps(audio_dir)
    stamps = dict(old)
    wav, lengths, again = {}, {}, []
    try:
        for utt, entry in read_kv(scp).items():
            out = (audio_dir / f"{utt}.{fmt}").resolve()
            stamps.pop(out.name, None)
            try:
                stamp = source_stamp(entry, fs)
            except FileNotFoundError:
                earlier = f"; its copy formatted earlier, {out}, is not reused"
                earlier = earlier if out.is_file() else ""
                raise RuntimeError(
                    f"utterance {utt}: source audio file {entry} is gone{earlier} (restore it, or "
                    "remove the utterance from the data directory)"
                ) from None
            reuse = old.get(out.name) == stamp
            if out.is_file() and not reuse and out.name in old:
                again.append(utt)
            try:
                lengths[utt] = str(format_one(utt, entry, out, fs, reuse))
            except Exception as e:  # noqa: BLE001 - name the utterance whatever went wrong
                why = describe(e)
                raise RuntimeError(f"utterance {utt}: cannot format {entry!r}: {why}") from e
            wav[utt], stamps[out.name] = str(out), stamp
    finally:
        write_stamps(audio_dir, stamps)
        if again:
            print(
                f"format_audio: formatted {len(again)} utterance(s) again, their source changed "
                f"since they were formatted: {', '.join(again[:10])}"
                + (f", ... and {len(again) - 10} more" if len(again) > 10 else ""),
                file=sys.stderr,
            )
    return wav, lengths


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fs", type=int, required=True)
    parser.add_argument("--audio_format", choices=AUDIO_FORMATS, default="flac")
    parser.add_argument("--segments", default=None, help="Kaldi segments of the recordings in scp")
    parser.add_argument("scp", help="input wav.scp (or a part of it)")
    parser.add_argument("audio_dir", type=Path)
    parser.add_argument("out_scp")
    parser.add_argument("out_num_samples")
    args = parser.parse_args(argv)
    args.audio_dir.mkdir(parents=True, exist_ok=True)
    if args.audio_format.endswith(".ark"):
        return write_ark(args)
    remove_unfinished(args.audio_dir)
    wav, lengths = {}, {}
    try:
        if args.segments is None:
            # Per-utterance files, reused when their source is unchanged (no decoding needed).
            wav, lengths = format_files(args.scp, args.audio_dir, args.fs, args.audio_format)
        else:
            for utt, x in resampled(args.scp, args.segments, args.fs):
                out = (args.audio_dir / f"{utt}.{args.audio_format}").resolve()
                write_audio(out, x, args.fs)
                wav[utt], lengths[utt] = str(out), str(x.shape[0])
    except (RuntimeError, ValueError) as e:
        print(f"format_audio: {e}", file=sys.stderr)
        return 1
    write_kv(args.out_scp, wav)
    write_kv(args.out_num_samples, lengths)
    return 0


def write_ark(args: argparse.Namespace) -> int:
    """``--audio_format *.ark``: every utterance into ``<audio_dir>/data_wav.ark`` (rewritten)."""
    import kaldiio

    ark = (args.audio_dir / "data_wav.ark").resolve()
    fmt = args.audio_format.split(".")[0]
    lengths: dict[str, str] = {}
    tmp_scp = Path(args.out_scp + ".tmp")
    try:
        with open(ark, "wb") as fark, open(tmp_scp, "w", encoding="utf-8") as fscp:
            for utt, x in resampled(args.scp, args.segments, args.fs):
                # kaldiio writes "<utt> AUDIO<length><flac|wav bytes>" and the scp line
                # "<utt> <ark>:<offset>", with the ark's path as given (absolute here).
                kaldiio.save_ark(fark, {utt: (x, args.fs)}, scp=fscp, append=True,
                                 write_function="soundfile",
                                 write_kwargs={"format": fmt, "subtype": "PCM_16"})  # fmt: skip
                lengths[utt] = str(x.shape[0])
    except (RuntimeError, ValueError) as e:
        print(f"format_audio: {e}", file=sys.stderr)
        return 1
    write_kv(args.out_scp, read_kv(tmp_scp))
    tmp_scp.unlink()
    write_kv(args.out_num_samples, lengths)
    return 0


if __name__ == "__main__":
    sys.exit(main())
