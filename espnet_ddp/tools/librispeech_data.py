"""Builds a Kaldi-style data directory from LibriSpeech subsets (e.g. ``train-clean-100``).

Reads the real layout ``<subset>/<speaker>/<chapter>/<speaker>-<chapter>.trans.txt`` (lines
``<utt-id> WORDS``) next to ``<utt-id>.flac``. The speaker of an utterance is
``<speaker>-<chapter>``, as in ESPnet's recipe. Stops with a report naming each utterance whose
audio file is missing or unreadable, whose transcript is empty, or whose sampling rate is not
``--fs``.

    python -m espnet_ddp.tools.librispeech_data /data/LibriSpeech/dev-clean data/dev_clean
    python -m espnet_ddp.tools.librispeech_data LS/dev-clean LS/dev-other data/dev  # merged
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from espnet_ddp.tools.datadir import DataDir
from espnet_ddp.tools.validate_data_dir import find_problems, format_report


def scan_subset(subset_dir: Path) -> tuple[DataDir, list[str]]:
    """Reads every ``*.trans.txt`` under ``subset_dir``; returns the data dir and problems."""
    d = DataDir()
    problems: list[str] = []
    trans_files = sorted(subset_dir.glob("*/*/*.trans.txt"))
    if not trans_files:
        problems.append(f"no */*/*.trans.txt transcript files under {subset_dir}")
    for trans in trans_files:
        for n, line in enumerate(trans.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            utt, _, words = line.strip().partition(" ")
            if utt in d.wav:
                problems.append(f"utterance {utt}: listed twice ({trans}:{n})")
                continue
            spk = "-".join(utt.split("-")[:2])
            d.wav[utt] = str((trans.parent / f"{utt}.flac").resolve())
            d.text[utt] = " ".join(words.split())
            d.utt2spk[utt] = spk
    return d, problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dirs", type=Path, nargs="+", help="subset directories, then the output")
    parser.add_argument("--fs", type=int, default=16000, help="expected sampling rate (Hz)")
    args = parser.parse_args(argv)
    if len(args.dirs) < 2:
        parser.error("give at least one subset directory and the output directory")
    *subsets, dst = args.dirs
    d, problems = DataDir(), []
    for subset in subsets:
        if not subset.is_dir():
            print(f"librispeech_data: no such directory: {subset}", file=sys.stderr)
            return 1
        part, part_problems = scan_subset(subset)
        problems += part_problems
        for table in ("wav", "text", "utt2spk"):
            getattr(d, table).update(getattr(part, table))
    problems += find_problems(d, args.fs)
    if problems:
        where = " ".join(str(s) for s in subsets)
        print(format_report(f"librispeech_data: {where}", problems), file=sys.stderr)
        return 1
    d.write(dst)
    print(f"librispeech_data: {len(d.wav)} utterances, {len(d.spk2utt())} speakers -> {dst}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
