"""Builds Kaldi-style data directories (train, dev, test) from an LRS3 tree, audio only.

Reads ``<root>/{trainval,test[,pretrain]}/<id>/<n>.mp4`` with ``<n>.txt`` whose first line is
``Text:  WORDS``, extracts 16 kHz mono 16-bit wav files with ffmpeg (in parallel; files already
extracted are kept, so a rerun is cheap), and splits trainval into train/dev by speaker (the clip's
``<id>`` folder): the speakers whose SHA-1 of the id sorts first go to dev, so the split does not
depend on the machine or on the listing order. Stops with a report naming each utterance whose mp4
is missing or has no audio track, whose transcript is empty or malformed, or whose audio is not
at ``--source_fs`` (LRS3's own rate; ``--allow_resample`` accepts any rate).

    python -m espnet_ddp.tools.lrs3_data --wav_dir data/lrs3_wav /data/LRS3 data
"""

from __future__ import annotations

import argparse
import hashlib
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from espnet_ddp.tools.datadir import DataDir
from espnet_ddp.tools.validate_data_dir import format_report

_RATE = re.compile(r"Stream #0:\d+.*?: Audio: [^\n]*?, (\d+) Hz")


@dataclass(frozen=True)
class Clip:
    """One LRS3 clip: its utterance id, speaker id, transcript and files."""

    utt: str
    spk: str
    text: str
    mp4: Path
    wav: Path


def read_transcript(txt: Path) -> str:
    """The words of an LRS3 ``.txt`` file (its first line, ``Text:  WORDS``); raises ValueError."""
    lines = txt.read_text(encoding="utf-8", errors="replace").splitlines()
    first = lines[0] if lines else ""
    if not first.startswith("Text:"):
        raise ValueError(f"first line does not start with 'Text:' ({txt})")
    return " ".join(first[len("Text:") :].split())


def scan_split(split_dir: Path, wav_dir: Path, prefix: str = "") -> tuple[list[Clip], list[str]]:
    """Lists the clips of one split folder, with the problems found in its text files."""
    clips: list[Clip] = []
    problems: list[str] = []
    txts = {p.with_suffix(""): p for p in split_dir.glob("*/*.txt")}
    mp4s = {p.with_suffix(""): p for p in split_dir.glob("*/*.mp4")}
    if not txts and not mp4s:
        problems.append(f"no <id>/<n>.mp4 and <id>/<n>.txt files under {split_dir}")
    for stem in sorted(set(txts) | set(mp4s)):
        spk, n = stem.parent.name, stem.name
        utt = f"{spk}_{prefix}{n}"
        if stem not in mp4s:
            problems.append(f"utterance {utt}: missing audio file {stem}.mp4")
            continue
        if stem not in txts:
            problems.append(f"utterance {utt}: missing transcript {stem}.txt")
            continue
        try:
            text = read_transcript(txts[stem])
        except ValueError as e:
            problems.append(f"utterance {utt}: malformed transcript: {e}")
            continue
        if not text:
            problems.append(f"utterance {utt}: empty transcript ({txts[stem]})")
            continue
        wav = wav_dir / split_dir.name / spk / f"{n}.wav"
        clips.append(Clip(utt, spk, text, mp4s[stem].resolve(), wav.resolve()))
    return clips, problems


def extract(clip: Clip, fs: int, source_fs: int | None) -> str | None:
    """Extracts one clip's audio with ffmpeg; returns a problem description or None."""
    if clip.wav.is_file() and clip.wav.stat().st_size > 44:
        return None
    clip.wav.parent.mkdir(parents=True, exist_ok=True)
    tmp = clip.wav.with_suffix(".tmp.wav")
    cmd = ["ffmpeg", "-hide_banner", "-nostdin", "-y", "-i", str(clip.mp4), "-vn", "-ac", "1"]
    cmd += ["-ar", str(fs), "-c:a", "pcm_s16le", "-f", "wav", str(tmp)]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    match = _RATE.search(proc.stderr)
    if proc.returncode != 0 or match is None:
        tmp.unlink(missing_ok=True)
        if match is None:
            return f"utterance {clip.utt}: no audio track in {clip.mp4}"
        tail = proc.stderr.strip().splitlines()[-1:] or [""]
        return f"utterance {clip.utt}: ffmpeg failed on {clip.mp4}: {tail[0]}"
    rate = int(match.group(1))
    if source_fs is not None and rate != source_fs:
        tmp.unlink(missing_ok=True)
        return (
            f"utterance {clip.utt}: sampling rate {rate} Hz, expected {source_fs} Hz ({clip.mp4}; "
            "use --allow_resample true to accept it)"
        )
    tmp.replace(clip.wav)
    return None


def dev_speakers(speakers: list[str], ratio: float) -> set[str]:
    """The deterministic dev speakers: the first ``ratio`` of them, ordered by SHA-1 of the id."""
    if len(speakers) < 2:
        return set()
    n = min(len(speakers) - 1, max(1, round(ratio * len(speakers))))
    ranked = sorted(speakers, key=lambda s: hashlib.sha1(s.encode()).hexdigest())
    return set(ranked[:n])


def to_datadir(clips: list[Clip]) -> DataDir:
    """The Kaldi data directory of a list of clips."""
    d = DataDir()
    for c in clips:
        d.wav[c.utt], d.text[c.utt], d.utt2spk[c.utt] = str(c.wav), c.text, c.spk
    return d


def str2bool(v: str) -> bool:
    if v.lower() in ("true", "1", "yes"):
        return True
    if v.lower() in ("false", "0", "no"):
        return False
    raise argparse.ArgumentTypeError(f"expected true/false, got {v!r}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("lrs3_root", type=Path)
    parser.add_argument("data_root", type=Path, help="writes <data_root>/{train,dev,test}")
    parser.add_argument("--wav_dir", type=Path, required=True, help="where extracted wavs go")
    parser.add_argument("--fs", type=int, default=16000)
    parser.add_argument("--source_fs", type=int, default=16000)
    parser.add_argument("--allow_resample", type=str2bool, default=False)
    parser.add_argument("--dev_ratio", type=float, default=0.05, help="share of speakers")
    parser.add_argument("--use_pretrain", type=str2bool, default=False)
    parser.add_argument("--nj", type=int, default=4)
    parser.add_argument("--train_name", default="train")
    parser.add_argument("--dev_name", default="dev")
    parser.add_argument("--test_name", default="test")
    args = parser.parse_args(argv)

    splits = [("trainval", ""), ("test", "")] + ([("pretrain", "p")] if args.use_pretrain else [])
    clips: dict[str, list[Clip]] = {}
    problems: list[str] = []
    for split, prefix in splits:
        split_dir = args.lrs3_root / split
        if not split_dir.is_dir():
            problems.append(f"no such directory: {split_dir}")
            continue
        clips[split], split_problems = scan_split(split_dir, args.wav_dir, prefix)
        problems += split_problems
    if problems:
        print(format_report(f"lrs3_data: {args.lrs3_root}", problems), file=sys.stderr)
        return 1

    todo = [c for cs in clips.values() for c in cs]
    source_fs = None if args.allow_resample else args.source_fs
    with ThreadPoolExecutor(max(1, args.nj)) as pool:
        results = pool.map(lambda c: extract(c, args.fs, source_fs), todo)
        problems = [p for p in results if p]
    if problems:
        print(format_report(f"lrs3_data: {args.lrs3_root}", problems), file=sys.stderr)
        return 1

    trainval = clips["trainval"] + clips.get("pretrain", [])
    dev_spk = dev_speakers(sorted({c.spk for c in clips["trainval"]}), args.dev_ratio)
    sets = {
        args.train_name: [c for c in trainval if c.spk not in dev_spk],
        args.dev_name: [c for c in clips["trainval"] if c.spk in dev_spk],
        args.test_name: clips["test"],
    }
    for name, members in sets.items():
        d = to_datadir(members)
        d.write(args.data_root / name)
        print(f"lrs3_data: {name}: {len(d.wav)} utterances, {len(d.spk2utt())} speakers")
    return 0


if __name__ == "__main__":
    sys.exit(main())
