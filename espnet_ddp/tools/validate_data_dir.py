"""Checks a Kaldi-style data directory before it is used, naming every faulty utterance.

Responsible for: ids consistent across wav.scp / text / utt2spk (and utt2num_samples,
utt2category, utt2dur when present), files in UTF-8 (a bad line is named by file, line and
utterance), non-empty transcripts, and audio that exists, can be read, is not empty, is complete
(a truncated FLAC or WAV is refused) and has the expected sampling rate
(:mod:`espnet_ddp.tools.audio_check`; headers and the last frame are read, not whole files). With a
``segments`` file the utterances are its segments, and wav.scp holds their recordings. Not
responsible for fixing anything: the caller decides (data preparation stops with the report).

    python -m espnet_ddp.tools.validate_data_dir --fs 16000 data/train
    python -m espnet_ddp.tools.validate_data_dir --fs 16000 --nj 8 dump/raw/train dump/raw/dev
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from espnet_ddp.tools.audio_check import check_audio
from espnet_ddp.tools.datadir import DataDir, read_kv

MAX_LISTED = 30
# Files that hold one line per utterance besides the three of DataDir, when present.
EXTRA_PER_UTT = ("utt2num_samples", "utt2category", "utt2dur")

__all__ = ["check_audio", "find_problems", "format_report", "id_problems", "main"]


def id_problems(tables: Mapping[str, Mapping[str, object]]) -> list[str]:
    """``utterance <id>: not in <files>`` for every id that some of the files lack.

    >>> id_problems({"wav.scp": {"a": 1, "b": 1}, "text": {"a": 1}, "utt2spk": {"a": 1, "c": 1}})
    ['utterance b: not in text, utt2spk', 'utterance c: not in wav.scp, text']
    """
    every = sorted(set().union(*(set(t) for t in tables.values()))) if tables else []
    problems = []
    for utt in every:
        missing = [name for name, table in tables.items() if utt not in table]
        if missing:
            problems.append(f"utterance {utt}: not in {', '.join(missing)}")
    return problems


def find_problems(
    d: DataDir,
    fs: int | None = None,
    audio: bool = True,
    extra: Mapping[str, Mapping[str, str]] | None = None,
    nj: int = 1,
) -> list[str]:
    """Lists every problem of a data directory (empty list when it is valid).

    ``extra``: more per-utterance files (name -> table) whose ids must match; ``nj``: threads
    reading audio headers (the work is file reads; the order of the report does not change).
    """
    problems: list[str] = []
    if not d.wav:
        problems.append("no utterances (wav.scp is empty)")
    tables = {"wav.scp": d.wav, "text": d.text, "utt2spk": d.utt2spk, **(extra or {})}
    problems += id_problems(tables)
    complete = [u for u in sorted(d.wav) if all(u in t for t in tables.values())]
    problems += [f"utterance {u}: empty transcript" for u in complete if not d.text[u].strip()]
    if audio:
        with ThreadPoolExecutor(max(1, nj)) as pool:
            found = pool.map(lambda u: check_audio(u, d.wav[u], fs), complete)
            problems += [p for p in found if p]
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


def read_extra(src: Path) -> dict[str, dict[str, str]]:
    """The per-utterance files of EXTRA_PER_UTT that ``src`` has."""
    return {name: read_kv(src / name) for name in EXTRA_PER_UTT if (src / name).is_file()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data_dir", nargs="+")
    parser.add_argument("--fs", type=int, default=None, help="expected sampling rate (Hz)")
    parser.add_argument("--no_audio", action="store_true", help="check the text files only")
    parser.add_argument("--nj", type=int, default=1, help="threads reading audio headers")
    args = parser.parse_args(argv)
    bad = False
    for data_dir in args.data_dir:
        t0 = time.perf_counter()
        try:
            d = read_with_segments(Path(data_dir))
            extra = read_extra(Path(data_dir))
        except (OSError, ValueError) as e:
            print(f"validate_data_dir: {data_dir}: {e}", file=sys.stderr)
            bad = True
            continue
        problems = find_problems(d, args.fs, audio=not args.no_audio, extra=extra, nj=args.nj)
        if problems:
            print(format_report(f"validate_data_dir: {data_dir}", problems), file=sys.stderr)
            bad = True
        elif not args.no_audio:
            print(
                f"validate_data_dir: {data_dir}: {len(d.wav)} utterances, audio checked in "
                f"{time.perf_counter() - t0:.2f} s"
            )
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
