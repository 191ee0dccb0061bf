"""Checks a Kaldi-style data directory before it is used, naming every faulty utterance.

Responsible for: ids consistent across wav.scp / text / utt2spk, non-empty transcripts, audio files
that exist, can be read, are not empty and have the expected sampling rate. With a ``segments``
file the utterances are its segments, and wav.scp holds their recordings. Not responsible for
fixing anything: the caller decides (data preparation stops with the report).

    python -m espnet_ddp.tools.validate_data_dir --fs 16000 data/train
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import soundfile

from espnet_ddp.tools.audio_io import is_pipe
from espnet_ddp.tools.datadir import DataDir, read_kv

MAX_LISTED = 30


def check_audio(utt: str, entry: str, fs: int | None) -> str | None:
    """Returns a problem description for one utterance's audio file, or None when it is fine."""
    if is_pipe(entry):
        return None
    path = Path(entry)
    if not path.is_file():
        return f"utterance {utt}: missing audio file {entry}"
    try:
        info = soundfile.info(str(path))
    except Exception as e:  # noqa: BLE001 - any decoder error is reported as unreadable
        return f"utterance {utt}: unreadable audio file {entry} ({e})"
    if info.frames == 0:
        return f"utterance {utt}: empty audio file {entry}"
    if fs is not None and info.samplerate != fs:
        return f"utterance {utt}: sampling rate {info.samplerate} Hz, expected {fs} Hz ({entry})"
    return None


def find_problems(d: DataDir, fs: int | None = None, audio: bool = True) -> list[str]:
    """Lists every problem of a data directory (empty list when it is valid)."""
    problems: list[str] = []
    if not d.wav:
        problems.append("no utterances (wav.scp is empty)")
    for utt in sorted(set(d.wav) | set(d.text) | set(d.utt2spk)):
        missing = [
            name
            for name, table in (("wav.scp", d.wav), ("text", d.text), ("utt2spk", d.utt2spk))
            if utt not in table
        ]
        if missing:
            problems.append(f"utterance {utt}: not in {', '.join(missing)}")
            continue
        if not d.text[utt].strip():
            problems.append(f"utterance {utt}: empty transcript")
        if audio:
            p = check_audio(utt, d.wav[utt], fs)
            if p:
                problems.append(p)
    return problems


def format_report(where: str, problems: list[str]) -> str:
    """A readable multi-line report: a count, then one line per problem (the first MAX_LISTED)."""
    lines = [f"{where}: {len(problems)} problem(s):"]
    lines += [f"  {p}" for p in problems[:MAX_LISTED]]
    if len(problems) > MAX_LISTED:
        lines.append(f"  ... and {len(problems) - MAX_LISTED} more")
    return "\n".join(lines)


def read_with_segments(src: Path) -> DataDir:
    """The data directory, with each segment's recording as its audio when there is a segments
    file (a segment whose recording is not in wav.scp is left out of wav, so it is reported)."""
    if not (src / "segments").is_file():
        return DataDir.read(src)
    from espnet_ddp.tools.format_audio import read_segments

    recordings = read_kv(src / "wav.scp")
    segments = read_segments(src / "segments")
    wav = {u: recordings[r] for u, (r, _, _) in segments.items() if r in recordings}
    return DataDir(wav=wav, text=read_kv(src / "text"), utt2spk=read_kv(src / "utt2spk"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data_dir", nargs="+")
    parser.add_argument("--fs", type=int, default=None, help="expected sampling rate (Hz)")
    parser.add_argument("--no_audio", action="store_true", help="check the text files only")
    args = parser.parse_args(argv)
    bad = False
    for data_dir in args.data_dir:
        try:
            d = read_with_segments(Path(data_dir))
        except (OSError, ValueError) as e:
            print(f"validate_data_dir: {data_dir}: {e}", file=sys.stderr)
            bad = True
            continue
        problems = find_problems(d, args.fs, audio=not args.no_audio)
        if problems:
            print(format_report(f"validate_data_dir: {data_dir}", problems), file=sys.stderr)
            bad = True
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
