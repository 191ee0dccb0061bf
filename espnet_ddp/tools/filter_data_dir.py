"""Stage 4: copies a formatted data directory, leaving out too short, too long and empty utterances.

Keeps an utterance when ``min_samples <= utt2num_samples <= max_samples`` and its transcript is not
empty (ESPnet's stage 4 rule); every ``key value`` file of the directory (wav.scp, text, utt2spk,
utt2num_samples, utt2category, ...) is restricted to the kept ids, spk2utt is rebuilt, other files
are copied as they are. Each utterance left out is written with its reason to ``dropped_utts`` in
the new directory, and the first few are printed.

Responsible for that rule only: ids that differ between wav.scp, text, utt2spk, utt2num_samples
(and the other per-utterance files present) are an error naming them, not something to filter, as
is a file that is not UTF-8 (named by file, line and utterance). The new directory is built beside
the old one and replaces it only when complete: a failure leaves the previous one as it was.

    python -m espnet_ddp.tools.filter_data_dir --min_samples 1600 --max_samples 320000 SRC DST
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

from espnet_ddp.core.atomic_io import staged_directory
from espnet_ddp.tools.datadir import read_kv, write_kv
from espnet_ddp.tools.validate_data_dir import MAX_LISTED, format_report, id_problems

PER_UTT_FILES = (
    "wav.scp", "text", "utt2spk", "utt2num_samples", "utt2dur", "segments", "utt2category",
)  # fmt: skip
REQUIRED = ("wav.scp", "text", "utt2spk", "utt2num_samples")
DROPPED = "dropped_utts"  # <utt> <reason>, one line per utterance left out
SHOWN = 5  # dropped utterances named in the log line


def drop_reasons(
    lengths: dict[str, int], text: dict[str, str], lo: int, hi: int | None, fs: int | None = None
) -> dict[str, str]:
    """Utterance -> why the rule leaves it out (length first, then the transcript).

    >>> drop_reasons({"a": 800, "b": 4000, "c": 90000, "d": 4000},
    ...              {"a": "x", "b": "", "c": "y", "d": "z"}, 1600, 80000, fs=16000)
    {'a': 'too short: 800 samples (0.05 s) < --min_samples 1600 (0.1 s)', \
'b': 'empty transcript', 'c': 'too long: 90000 samples (5.62 s) > --max_samples 80000 (5 s)'}
    """

    def secs(n: int) -> str:
        return f" ({n / fs:.3g} s)" if fs else ""

    out = {}
    for utt, n in lengths.items():
        if n < lo:
            out[utt] = f"too short: {n} samples{secs(n)} < --min_samples {lo}{secs(lo)}"
        elif hi is not None and n > hi:
            out[utt] = f"too long: {n} samples{secs(n)} > --max_samples {hi}{secs(hi)}"
        elif not text.get(utt, "").strip():
            out[utt] = "empty transcript"
    return out


def read_lengths(path: Path) -> dict[str, int]:
    """utt2num_samples; ``ValueError`` names the line whose count is not a whole number."""
    out = {}
    for utt, value in read_kv(path).items():
        try:
            out[utt] = int(value)
        except ValueError:
            raise ValueError(f"{path}: utterance {utt}: not a sample count: {value!r}") from None
    return out


def first_reasons(dropped: dict[str, str], n: int = SHOWN) -> str:
    """``id (reason), ...`` of the first ``n`` dropped utterances, and how many more."""
    shown = [f"{u} ({dropped[u]})" for u in sorted(dropped)[:n]]
    more = f", ... and {len(dropped) - n} more" if len(dropped) > n else ""
    return ", ".join(shown) + more


def write_filtered(src: Path, dst: Path, keep: set[str], dropped: dict[str, str]) -> None:
    """The filtered copy of ``src`` into the (new, empty) directory ``dst``."""
    for f in sorted(src.iterdir()):
        if f.is_dir() or f.name in ("spk2utt", DROPPED):
            continue
        if f.name in PER_UTT_FILES:
            write_kv(dst / f.name, {k: v for k, v in read_kv(f).items() if k in keep})
        else:
            shutil.copyfile(f, dst / f.name)
    spk2utt: dict[str, list[str]] = {}
    for utt, spk in sorted(read_kv(dst / "utt2spk").items()):
        spk2utt.setdefault(spk, []).append(utt)
    write_kv(dst / "spk2utt", {s: " ".join(u) for s, u in spk2utt.items()})
    write_kv(dst / DROPPED, dropped)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--min_samples", type=int, default=0)
    parser.add_argument("--max_samples", type=int, default=None)
    parser.add_argument("--fs", type=int, default=None, help="sampling rate: reasons in seconds")
    parser.add_argument("src", type=Path)
    parser.add_argument("dst", type=Path)
    args = parser.parse_args(argv)
    name = f"filter_data_dir: {args.src}"
    missing = [f for f in REQUIRED if not (args.src / f).is_file()]
    if missing:
        print(f"{name}: no {', '.join(missing)} (run stage 3)", file=sys.stderr)
        return 1
    try:
        lengths = read_lengths(args.src / "utt2num_samples")
        tables: dict[str, dict] = {
            f: lengths if f == "utt2num_samples" else read_kv(args.src / f)
            for f in PER_UTT_FILES
            if (args.src / f).is_file()
        }
    except (OSError, ValueError) as e:
        print(f"filter_data_dir: {e}", file=sys.stderr)
        return 1
    problems = id_problems(tables)
    if problems:
        print(
            format_report(f"{name}: utterance ids differ between its files", problems)
            + "\n  (stage 4 leaves utterances out by length and empty text only: make the files "
            "agree, e.g. fix the data directory and run stage 3 again)",
            file=sys.stderr,
        )
        return 1
    dropped = drop_reasons(lengths, tables["text"], args.min_samples, args.max_samples, args.fs)
    keep = set(lengths) - set(dropped)
    if not keep:
        print(
            f"{name}: no utterance is left: {first_reasons(dropped, MAX_LISTED)}", file=sys.stderr
        )
        return 1
    try:
        with staged_directory(args.dst) as tmp:
            write_filtered(args.src, tmp, keep, dropped)
    except (OSError, ValueError) as e:
        print(f"filter_data_dir: {e} ({args.dst} is left as it was)", file=sys.stderr)
        return 1
    line = f"filter_data_dir: kept {len(keep)} of {len(lengths)} utterances -> {args.dst}"
    if dropped:
        line += f"; left out {len(dropped)} ({args.dst / DROPPED}): {first_reasons(dropped)}"
    print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
