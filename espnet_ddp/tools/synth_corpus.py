"""Synthesizes the mini recipe's multi-voice corpus with espeak-ng and flite.

Responsible for: sentences (``sentences.make_sentences``, disjoint between sets), the choice of
voice, speed and pitch per utterance, 16 kHz mono 16-bit flac files, and Kaldi data directories
``train``, ``dev`` (training voices, new sentences), optionally an in-domain test set
``test_indomain`` (training voices, sentences held out of train and dev: the set that decides),
and the held-out-voice test sets whose voices never occur in training: ``test_espeak`` and
``test_flite`` (robustness columns). Sentences come from the built-in grammar
(:mod:`espnet_ddp.tools.sentences`) or, with ``--sentences``, from a text file (one sentence a
line, shuffled by ``--seed``). Everything is derived from ``--seed``; files already written are
kept, so a rerun is cheap. Not responsible for realism: synthetic voices are not people.

    python -m espnet_ddp.tools.synth_corpus --wav_dir downloads/wav --data_root data --nj 2
    python -m espnet_ddp.tools.synth_corpus ... --num_test_indomain 1000 --heldout_sets test_espeak
"""

from __future__ import annotations

import argparse
import hashlib
import io
import os
import random
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile

from espnet_ddp.tools.audio_io import resample, to_mono
from espnet_ddp.tools.datadir import DataDir
from espnet_ddp.tools.sentences import make_sentences


@dataclass(frozen=True)
class Voice:
    """A synthesizer voice: engine (``espeak`` or ``flite``) and its voice name."""

    engine: str
    name: str

    @property
    def spk(self) -> str:
        """Speaker id usable in utterance ids."""
        return f"{self.engine}_{self.name}".replace("+", "_").replace("-", "_")


TRAIN_VOICES = [
    Voice("espeak", "en-us+m1"),
    Voice("espeak", "en-gb+f2"),
    Voice("espeak", "en-gb-scotland+m3"),
    Voice("espeak", "en-029+f1"),
    Voice("espeak", "en-gb-x-rp+m4"),
    Voice("espeak", "en-us-nyc+f3"),
    Voice("flite", "kal16"),
    Voice("flite", "awb"),
    Voice("flite", "slt"),
]
TEST_VOICES = {
    "test_espeak": [Voice("espeak", "en-gb-x-gbclan+f4"), Voice("espeak", "en-gb-x-gbcwmd+m2")],
    "test_flite": [Voice("flite", "rms")],
}
INDOMAIN = "test_indomain"


def sentence_pool(total: int, seed: int, sentence_file: Path | None = None) -> list[str]:
    """``total`` distinct sentences: the grammar's, or ``sentence_file``'s shuffled by ``seed``.

    Lines of the file are upper-cased and whitespace-normalized; duplicates and empty lines are
    skipped. Raises ``ValueError`` naming the file when it holds fewer than ``total``.
    """
    if sentence_file is None:
        return make_sentences(total, seed=seed)
    seen: dict[str, None] = {}
    with open(sentence_file, encoding="utf-8") as f:
        for line in f:
            text = " ".join(line.upper().split())
            if text:
                seen.setdefault(text, None)
    lines = list(seen)
    if len(lines) < total:
        raise ValueError(f"{sentence_file}: {len(lines)} distinct sentences, {total} needed")
    random.Random(f"{seed}-sentences").shuffle(lines)
    return lines[:total]


@dataclass(frozen=True)
class Job:
    """One utterance to synthesize."""

    utt: str
    voice: Voice
    text: str
    speed: float  # 1.0 = the engine's normal rate
    pitch: float  # 0..1, mapped to the engine's scale
    path: Path


def _espeak(job: Job) -> tuple[np.ndarray, int]:
    wpm = str(int(round(165 * job.speed)))
    pitch = str(int(round(20 + 60 * job.pitch)))
    cmd = ["espeak-ng", "-v", job.voice.name, "-s", wpm, "-p", pitch, "--stdout", job.text]
    out = subprocess.run(cmd, capture_output=True, check=True).stdout
    x, sr = soundfile.read(io.BytesIO(out), dtype="float32")
    return x, int(sr)


def _flite(job: Job) -> tuple[np.ndarray, int]:
    with tempfile.TemporaryDirectory() as tmp:
        wav = os.path.join(tmp, "out.wav")
        cmd = ["flite", "-voice", job.voice.name, "--setf", f"duration_stretch={1 / job.speed:.3f}"]
        cmd += [
            "--setf",
            f"int_f0_target_mean={int(80 + 90 * job.pitch)}",
            "-t",
            job.text,
            "-o",
            wav,
        ]
        subprocess.run(cmd, capture_output=True, check=True)
        x, sr = soundfile.read(wav, dtype="float32")
    return x, int(sr)


def synthesize(job: Job, fs: int) -> None:
    """Writes one utterance as a ``fs`` Hz flac file, with a random gain and faint noise."""
    if job.path.is_file():
        return
    x, sr = (_espeak if job.voice.engine == "espeak" else _flite)(job)
    x = resample(to_mono(x), sr, fs)
    seed = int(hashlib.sha1(job.utt.encode()).hexdigest()[:8], 16)
    rng = np.random.default_rng(seed)
    peak = float(np.max(np.abs(x))) or 1.0
    x = x / peak * rng.uniform(0.3, 0.9)
    x = x + rng.normal(0.0, 10 ** (-rng.uniform(3.0, 4.0)), size=x.shape).astype(np.float32)
    job.path.parent.mkdir(parents=True, exist_ok=True)
    tmp = job.path.with_suffix(".tmp.flac")
    soundfile.write(tmp, np.clip(x, -1, 1), fs, subtype="PCM_16", format="FLAC")
    tmp.replace(job.path)


def plan(
    name: str, voices: list[Voice], sentences: list[str], wav_dir: Path, seed: int
) -> list[Job]:
    """Assigns voices (round robin), speeds and pitches to one set's sentences."""
    r = random.Random(f"{seed}-{name}")
    jobs = []
    for i, text in enumerate(sentences):
        voice = voices[i % len(voices)]
        utt = f"{voice.spk}-{name}_{i:05d}"
        speed, pitch = r.uniform(0.85, 1.2), r.random()
        # The file name carries what the audio depends on, so a cached file is never stale.
        tag = hashlib.sha1(f"{voice}|{text}|{speed:.4f}|{pitch:.4f}".encode()).hexdigest()[:8]
        path = wav_dir / name / f"{utt}_{tag}.flac"
        jobs.append(Job(utt, voice, text, speed, pitch, path.resolve()))
    return jobs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--wav_dir", type=Path, required=True)
    parser.add_argument("--data_root", type=Path, required=True)
    parser.add_argument("--num_train", type=int, default=1200)
    parser.add_argument("--num_dev", type=int, default=100)
    parser.add_argument("--num_test", type=int, default=60, help="per held-out-voice test set")
    parser.add_argument("--num_test_indomain", type=int, default=0,
                        help=f"utterances of {INDOMAIN} (training voices, held-out sentences)")
    parser.add_argument("--heldout_sets", nargs="*", default=sorted(TEST_VOICES),
                        choices=sorted(TEST_VOICES), help="held-out-voice test sets to make")
    parser.add_argument("--sentences", type=Path, default=None,
                        help="a sentence file (one a line) instead of the built-in grammar")
    parser.add_argument("--fs", type=int, default=16000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--nj", type=int, default=2)
    args = parser.parse_args(argv)

    missing = [b for b in ("espeak-ng", "flite") if shutil.which(b) is None]
    if missing:
        print(
            f"synth_corpus: not installed: {', '.join(missing)} (apt-get install "
            f"{' '.join(missing)})",
            file=sys.stderr,
        )
        return 1

    layout = [("train", TRAIN_VOICES, args.num_train), ("dev", TRAIN_VOICES, args.num_dev)]
    if args.num_test > 0:
        layout += [(name, TEST_VOICES[name], args.num_test) for name in args.heldout_sets]
    # The in-domain set's sentences come last, so adding it leaves the other sets unchanged.
    if args.num_test_indomain > 0:
        layout.append((INDOMAIN, TRAIN_VOICES, args.num_test_indomain))
    total = sum(n for _, _, n in layout)
    try:
        pool_sentences = sentence_pool(total, args.seed, args.sentences)
    except (OSError, ValueError) as err:
        print(f"synth_corpus: --sentences: {err}", file=sys.stderr)
        return 1
    sets: dict[str, list[Job]] = {}
    start = 0
    for name, voices, n in layout:
        chunk = pool_sentences[start : start + n]
        start += n
        sets[name] = plan(name, voices, chunk, args.wav_dir, args.seed)

    jobs = [j for js in sets.values() for j in js]
    with ThreadPoolExecutor(max(1, args.nj)) as ex:
        for _ in ex.map(lambda j: synthesize(j, args.fs), jobs):
            pass

    for name, js in sets.items():
        d = DataDir()
        for j in js:
            d.wav[j.utt], d.text[j.utt], d.utt2spk[j.utt] = str(j.path), j.text, j.voice.spk
        d.write(args.data_root / name)
        secs = sum(soundfile.info(str(j.path)).duration for j in js)
        print(
            f"synth_corpus: {name}: {len(js)} utterances, {len(d.spk2utt())} voices, "
            f"{secs / 60:.1f} min"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
