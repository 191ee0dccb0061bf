"""Stage 4: copies a formatted data directory, leaving out too short, too long and empty utterances.

Keeps an utterance when ``min_samples <= utt2num_samples <= max_samples`` and its transcript is not
empty; every ``key value`` file of the directory (wav.scp, text, utt2spk, utt2num_samples,
utt2category, ...) is
restricted to the kept ids, spk2utt is rebuilt, other files are copied as they are.

    python -m espnet_ddp.tools.filter_data_dir --min_samples 1600 --max_samples 320000 SRC DST
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

from espnet_ddp.tools.datadir import read_kv, write_kv

PER_UTT_FILES = (
    "wav.scp", "text", "utt2spk", "utt2num_samples", "utt2dur", "segments", "utt2category",
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--min_samples", type=int, default=0)
    parser.add_argument("--max_samples", type=int, default=None)
    parser.add_argument("src", type=Path)
    parser.add_argument("dst", type=Path)
    args = parser.parse_args(argv)
    lengths = {k: int(v) for k, v in read_kv(args.src / "utt2num_samples").items()}
    text = read_kv(args.src / "text")
    hi = args.max_samples if args.max_samples is not None else float("inf")
    keep = {
        u for u, n in lengths.items() if args.min_samples <= n <= hi and text.get(u, "").strip()
    }
    if not keep:
        print(
            f"filter_data_dir: no utterance of {args.src} is left (lengths must lie in "
            f"[{args.min_samples}, {hi}] samples and transcripts be non-empty)",
            file=sys.stderr,
        )
        return 1
    args.dst.mkdir(parents=True, exist_ok=True)
    for f in sorted(args.src.iterdir()):
        if f.is_dir() or f.name == "spk2utt":
            continue
        if f.name in PER_UTT_FILES:
            write_kv(args.dst / f.name, {k: v for k, v in read_kv(f).items() if k in keep})
        else:
            shutil.copyfile(f, args.dst / f.name)
    spk2utt: dict[str, list[str]] = {}
    for utt, spk in sorted(read_kv(args.dst / "utt2spk").items()):
        spk2utt.setdefault(spk, []).append(utt)
    write_kv(args.dst / "spk2utt", {s: " ".join(u) for s, u in spk2utt.items()})
    print(f"filter_data_dir: kept {len(keep)} of {len(lengths)} utterances -> {args.dst}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
