"""Stage 3: writes the audio of a ``wav.scp`` as mono files at one sampling rate, and their lengths.

Reads each entry (file or ``cmd |`` pipe), averages channels, resamples to ``--fs`` and writes
``<audio_dir>/<utt>.<format>`` (16-bit PCM flac or wav). Writes a new ``wav.scp`` pointing at
them and ``utt2num_samples``. A file that is already there is reused (rerunnable stage). Stops
naming the utterance whose audio cannot be read.

    python -m espnet_ddp.tools.format_audio --fs 16000 --audio_format flac \\
        split/wav.1.scp dump/raw/org/train/data/format.1 out/wav.1.scp out/utt2num_samples.1
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import soundfile

from espnet_ddp.tools.audio_io import read_audio, resample, to_mono
from espnet_ddp.tools.datadir import read_kv, write_kv

FORMATS = {"flac": "FLAC", "wav": "WAV"}


def format_one(utt: str, entry: str, out: Path, fs: int) -> int:
    """Writes one utterance; returns its number of samples."""
    if out.is_file():
        return soundfile.info(str(out)).frames
    x, sr = read_audio(entry)
    x = resample(to_mono(x), sr, fs)
    if x.size == 0:
        raise ValueError("no samples")
    tmp = out.with_name(out.stem + ".tmp" + out.suffix)
    soundfile.write(str(tmp), x, fs, subtype="PCM_16", format=FORMATS[out.suffix[1:]])
    tmp.replace(out)
    return int(x.shape[0])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fs", type=int, required=True)
    parser.add_argument("--audio_format", choices=sorted(FORMATS), default="flac")
    parser.add_argument("scp", help="input wav.scp (or a part of it)")
    parser.add_argument("audio_dir", type=Path)
    parser.add_argument("out_scp")
    parser.add_argument("out_num_samples")
    args = parser.parse_args(argv)
    args.audio_dir.mkdir(parents=True, exist_ok=True)
    wav, lengths = {}, {}
    for utt, entry in read_kv(args.scp).items():
        out = (args.audio_dir / f"{utt}.{args.audio_format}").resolve()
        try:
            lengths[utt] = str(format_one(utt, entry, out, args.fs))
        except Exception as e:  # noqa: BLE001 - name the utterance whatever went wrong
            print(f"format_audio: utterance {utt}: cannot read {entry!r}: {e}", file=sys.stderr)
            return 1
        wav[utt] = str(out)
    write_kv(args.out_scp, wav)
    write_kv(args.out_num_samples, lengths)
    return 0


if __name__ == "__main__":
    sys.exit(main())
