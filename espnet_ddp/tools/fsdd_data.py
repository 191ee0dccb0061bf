"""Connected-digit utterances from the Free Spoken Digit Dataset (FSDD), as Kaldi data directories.

FSDD holds single spoken digits, ``recordings/{digit}_{speaker}_{index}.wav`` (or ``.flac``),
8 kHz mono, 50 clips per digit and speaker. This module strings clips of one speaker together
into utterances of ``--min_digits`` to ``--max_digits`` digits, with a pause before, between and
after the digits (uniform in ``--min_pause_ms``..``--max_pause_ms``, noise at the speaker's own
noise floor, limited to the clips' band), resampled to ``--fs``. Clips are never trimmed, so an
utterance has exactly ``sum(clip samples at fs) + sum(pauses)`` samples. Words are the digit names
(``THREE SEVEN``). Sets, all derived from ``--seed``:

- ``train``: the training speakers' clips with index > ``--dev_max_index`` (FSDD's own split);
- ``dev``: the training speakers' held-out clips (index <= ``--dev_max_index``);
- ``test``: the ``--test_speakers``, never heard in training (all their clips).

Responsible for: checking every clip (name, readable, non-empty, no index missing in a speaker's
digit) before anything is written, the seeded plan, the audio (16-bit flac under
``--wav_dir/<set>/``) and ``wav.scp``, ``text``, ``utt2spk``, ``spk2utt`` and ``composition``
(``utt pause clip pause ... clip pause``, pauses in samples at ``--fs``). Utterance ids end in a
digest of the composition, so a changed option never reuses stale audio of a later stage. Not
responsible for downloading the corpus (``local/data.sh`` of ``egs2/fsdd_digits_ddp``).

    python -m espnet_ddp.tools.fsdd_data --wav_dir downloads/fsdd_wav downloads/fsdd data

>>> plan = Utterance("george", (Clip(3, "george", 7, Path("3_george_7.wav")),), (800, 1600), 0)
>>> plan.text, plan.num_samples({"3_george_7": 3000})
('THREE', 5400)
"""

from __future__ import annotations

import argparse
import hashlib
import re
import sys
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile

from espnet_ddp.tools.audio_io import resample, to_mono
from espnet_ddp.tools.datadir import DataDir, write_kv
from espnet_ddp.tools.validate_data_dir import format_report

WORDS = ("ZERO", "ONE", "TWO", "THREE", "FOUR", "FIVE", "SIX", "SEVEN", "EIGHT", "NINE")
CLIP_NAME = re.compile(r"^([0-9])_([A-Za-z0-9]+)_([0-9]+)$")
AUDIO_SUFFIXES = (".wav", ".flac")
SETS = ("train", "dev", "test")
FLOOR_FRAME_MS = 10


@dataclass(frozen=True)
class Clip:
    """One FSDD recording: the digit spoken, its speaker, its index and its file."""

    digit: int
    speaker: str
    index: int
    path: Path

    @property
    def name(self) -> str:
        return f"{self.digit}_{self.speaker}_{self.index}"


@dataclass(frozen=True)
class Utterance:
    """The plan of one utterance: its speaker's clips in order and the pauses around them.

    ``pauses`` has one more entry than ``clips`` (before, between, after), in samples at the
    output rate; ``noise_seed`` seeds the noise in the pauses.
    """

    speaker: str
    clips: tuple[Clip, ...]
    pauses: tuple[int, ...]
    noise_seed: int

    def __post_init__(self) -> None:
        if len(self.pauses) != len(self.clips) + 1:
            raise ValueError(f"{len(self.clips)} clips need {len(self.clips) + 1} pauses")

    @property
    def text(self) -> str:
        return " ".join(WORDS[c.digit] for c in self.clips)

    def num_samples(self, clip_samples: Mapping[str, int]) -> int:
        """Length of the utterance given each clip's length at the output rate."""
        return sum(clip_samples[c.name] for c in self.clips) + sum(self.pauses)

    def composition(self) -> str:
        """``pause clip pause ... clip pause``, the line of the ``composition`` file."""
        parts = [str(self.pauses[0])]
        for clip, pause in zip(self.clips, self.pauses[1:]):
            parts += [clip.name, str(pause)]
        return " ".join(parts)

    def utt_id(self, set_name: str, number: int) -> str:
        """``<speaker>-<set>-<number>-<digest>``; the digest changes with any part of the plan."""
        digest = hashlib.sha1(f"{self.composition()} {self.noise_seed}".encode()).hexdigest()
        return f"{self.speaker}-{set_name}-{number:05d}-{digest[:8]}"


@dataclass(frozen=True)
class Options:
    """What to build; validated on construction, errors name the command-line option."""

    num_train: int = 1200
    num_dev: int = 200
    num_test: int = 300
    test_speakers: tuple[str, ...] = ("jackson", "theo")
    dev_max_index: int = 4
    min_digits: int = 2
    max_digits: int = 7
    min_pause_ms: float = 50.0
    max_pause_ms: float = 300.0
    fs: int = 16000
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("num_train", "num_dev", "num_test"):
            if getattr(self, name) < 1:
                raise ValueError(f"--{name} must be at least 1: {getattr(self, name)}")
        if not self.test_speakers:
            raise ValueError("--test_speakers must name at least one speaker")
        if self.dev_max_index < 0:
            raise ValueError(f"--dev_max_index must be >= 0: {self.dev_max_index}")
        if not 1 <= self.min_digits <= self.max_digits:
            raise ValueError(
                f"need 1 <= --min_digits <= --max_digits: {self.min_digits}, {self.max_digits}"
            )
        if not 0 <= self.min_pause_ms <= self.max_pause_ms:
            raise ValueError(
                "need 0 <= --min_pause_ms <= --max_pause_ms: "
                f"{self.min_pause_ms}, {self.max_pause_ms}"
            )
        if self.fs <= 0:
            raise ValueError(f"--fs must be positive: {self.fs}")

    def pause_range(self) -> tuple[int, int]:
        """The shortest and longest pause in samples at ``fs``."""
        per_ms = self.fs / 1000
        return round(self.min_pause_ms * per_ms), round(self.max_pause_ms * per_ms)


def scan_recordings(root: Path) -> tuple[list[Clip], list[str]]:
    """The clips of ``root/recordings`` sorted by name, and the problems of their names."""
    rec = root / "recordings"
    if not rec.is_dir():
        return [], [f"no recordings/ folder in {root}"]
    clips: list[Clip] = []
    problems: list[str] = []
    seen: dict[str, Path] = {}
    for path in sorted(rec.iterdir()):
        if path.suffix not in AUDIO_SUFFIXES:
            continue
        m = CLIP_NAME.match(path.stem)
        if not m:
            problems.append(f"clip {path}: name is not {{digit}}_{{speaker}}_{{index}}")
            continue
        if path.stem in seen:
            problems.append(f"clip {path}: the same clip as {seen[path.stem]}")
            continue
        seen[path.stem] = path
        clips.append(Clip(int(m[1]), m[2], int(m[3]), path))
    if not clips and not problems:
        problems.append(f"no {{digit}}_{{speaker}}_{{index}}.wav/.flac clips in {rec}")
    return clips, problems


def missing_indices(clips: Iterable[Clip]) -> list[str]:
    """Names each clip missing from a speaker's digit: its indices must run 0..max."""
    indices: dict[tuple[str, int], set[int]] = defaultdict(set)
    where: dict[tuple[str, int], Path] = {}  # a clip of the speaker's digit
    for c in clips:
        indices[c.speaker, c.digit].add(c.index)
        where[c.speaker, c.digit] = c.path
    problems = []
    for (spk, digit), got in sorted(indices.items()):
        for i in sorted(set(range(max(got) + 1)) - got):
            problems.append(
                f"clip {where[spk, digit].with_stem(f'{digit}_{spk}_{i}')}: missing "
                f"(speaker {spk} has digit {digit} clips 0-{max(got)} but not {i})"
            )
    return problems


def read_clip(clip: Clip, fs: int) -> tuple[np.ndarray, int]:
    """The clip's samples at ``fs`` (mono float32) and its own sampling rate; raises ValueError
    naming the file."""
    if not clip.path.exists():
        raise ValueError(f"clip {clip.path}: missing audio file (broken link?)")
    try:
        x, sr = soundfile.read(str(clip.path), dtype="float32")
    except Exception as e:  # noqa: BLE001 - any decoder error is reported as unreadable
        raise ValueError(f"clip {clip.path}: unreadable audio file ({e})") from e
    if x.size == 0:
        raise ValueError(f"clip {clip.path}: empty audio file")
    return resample(to_mono(x), int(sr), fs), int(sr)


def noise_floor(x: np.ndarray, fs: int) -> float:
    """RMS of the quietest 10 ms frame of a clip (its background level)."""
    n = max(1, fs * FLOOR_FRAME_MS // 1000)
    frames = x[: len(x) // n * n].reshape(-1, n) if len(x) >= n else x.reshape(1, -1)
    return float(np.sqrt((frames.astype(np.float64) ** 2).mean(axis=1)).min())


def check_pools(clips: Sequence[Clip], opts: Options) -> list[str]:
    """Problems that make a set impossible: unknown test speakers, digits without clips."""
    speakers = sorted({c.speaker for c in clips})
    problems = [
        f"--test_speakers: no clips of speaker {s} (speakers found: {' '.join(speakers)})"
        for s in opts.test_speakers
        if s not in speakers
    ]
    train_speakers = [s for s in speakers if s not in opts.test_speakers]
    if not train_speakers:
        problems.append(f"--test_speakers leaves no training speaker (found: {' '.join(speakers)})")
    have = {(c.speaker, c.digit, c.index <= opts.dev_max_index) for c in clips}
    low, high = f"index <= {opts.dev_max_index}", f"index > {opts.dev_max_index}"
    for spk in speakers:
        for digit in range(10):
            if spk in opts.test_speakers:
                if not {(spk, digit, True), (spk, digit, False)} & have:
                    problems.append(f"speaker {spk}: no clip of digit {digit} (test)")
                continue
            for held_out, which, set_name in ((False, high, "train"), (True, low, "dev")):
                if (spk, digit, held_out) not in have:
                    problems.append(
                        f"speaker {spk}: no clip of digit {digit} with {which} ({set_name})"
                    )
    return problems


def pools_of(clips: Sequence[Clip], opts: Options) -> dict[str, dict[str, dict[int, list[Clip]]]]:
    """set -> speaker -> digit -> the clips that set may use."""
    pools: dict[str, dict[str, dict[int, list[Clip]]]] = {s: {} for s in SETS}
    for c in clips:
        if c.speaker in opts.test_speakers:
            set_name = "test"
        elif c.index <= opts.dev_max_index:
            set_name = "dev"
        else:
            set_name = "train"
        pools[set_name].setdefault(c.speaker, {}).setdefault(c.digit, []).append(c)
    return pools


def plan_set(
    pool: Mapping[str, Mapping[int, Sequence[Clip]]],
    num: int,
    opts: Options,
    rng: np.random.Generator,
) -> list[Utterance]:
    """``num`` utterances over the speakers of ``pool`` in turn (sorted, round robin).

    Digits are uniform; a clip is not repeated within an utterance while its digit has others.
    """
    speakers = sorted(pool)
    lo, hi = opts.pause_range()
    plans = []
    for n in range(num):
        spk = speakers[n % len(speakers)]
        digits = rng.integers(0, 10, size=int(rng.integers(opts.min_digits, opts.max_digits + 1)))
        used: set[Clip] = set()
        chosen = []
        for d in digits:
            options = [c for c in pool[spk][int(d)] if c not in used] or list(pool[spk][int(d)])
            clip = options[int(rng.integers(len(options)))]
            used.add(clip)
            chosen.append(clip)
        pauses = tuple(int(p) for p in rng.integers(lo, hi + 1, size=len(chosen) + 1))
        plans.append(Utterance(spk, tuple(chosen), pauses, int(rng.integers(2**31))))
    return plans


def plan_corpus(clips: Sequence[Clip], opts: Options) -> dict[str, list[Utterance]]:
    """The plans of all three sets; each set has its own random stream from ``opts.seed``."""
    pools = pools_of(clips, opts)
    sizes = {"train": opts.num_train, "dev": opts.num_dev, "test": opts.num_test}
    return {
        s: plan_set(pools[s], sizes[s], opts, np.random.default_rng([opts.seed, k]))
        for k, s in enumerate(SETS)
    }


@dataclass(frozen=True)
class Background:
    """A speaker's recording background: the level of the pauses and the band the clips cover.

    ``rms`` is the median noise floor of their clips; ``band`` the fraction of the output band
    (0..fs/2) their sampling rate covers (0.5 for 8 kHz clips at 16 kHz).
    """

    rms: float
    band: float


def pause_noise(n: int, bg: Background, rng: np.random.Generator) -> np.ndarray:
    """``n`` samples of white noise at ``bg.rms``, low-passed to ``bg.band``: a pause carries no
    energy where the clips have none, so it is no spectral cue."""
    if n == 0 or bg.rms == 0:
        return np.zeros(n, dtype=np.float32)
    spec = np.fft.rfft(rng.standard_normal(n))
    spec[max(1, int(bg.band * len(spec))) :] = 0
    spec[0] = 0
    x = np.fft.irfft(spec, n)
    std = x.std()
    return (x * (bg.rms / std) if std > 0 else x).astype(np.float32)


def render(plan: Utterance, audio: Mapping[str, np.ndarray], bg: Background) -> np.ndarray:
    """The utterance's samples: the clips untouched, pauses of noise like their background."""
    rng = np.random.default_rng(plan.noise_seed)
    parts = [pause_noise(plan.pauses[0], bg, rng)]
    for clip, pause in zip(plan.clips, plan.pauses[1:]):
        parts.append(audio[clip.name])
        parts.append(pause_noise(pause, bg, rng))
    return np.concatenate(parts)


def load_audio(
    clips: Sequence[Clip], fs: int
) -> tuple[dict[str, np.ndarray], dict[str, int], list[str]]:
    """Every clip at ``fs`` and its own rate, by name, and the problems (unreadable, empty,
    missing files)."""
    audio: dict[str, np.ndarray] = {}
    rates: dict[str, int] = {}
    problems = []
    for c in clips:
        try:
            audio[c.name], rates[c.name] = read_clip(c, fs)
        except ValueError as e:
            problems.append(str(e))
    return audio, rates, problems


def speaker_backgrounds(
    audio: Mapping[str, np.ndarray], rates: Mapping[str, int], clips: Sequence[Clip], fs: int
) -> dict[str, Background]:
    """Speaker -> the background of their pauses (median floor, narrowest band of their clips)."""
    floors: dict[str, list[float]] = defaultdict(list)
    band: dict[str, float] = {}
    for c in clips:
        floors[c.speaker].append(noise_floor(audio[c.name], fs))
        band[c.speaker] = min(band.get(c.speaker, 1.0), rates[c.name] / fs)
    return {s: Background(float(np.median(v)), band[s]) for s, v in floors.items()}


def write_set(
    plans: Sequence[Utterance],
    set_name: str,
    audio: Mapping[str, np.ndarray],
    backgrounds: Mapping[str, Background],
    wav_dir: Path,
    data_dir: Path,
    fs: int,
) -> DataDir:
    """Writes the set's flac files and its data directory; removes stale flac files of the set."""
    out = (wav_dir / set_name).resolve()
    out.mkdir(parents=True, exist_ok=True)
    d = DataDir()
    composition = {}
    for n, plan in enumerate(plans):
        utt = plan.utt_id(set_name, n)
        path = out / f"{utt}.flac"
        tmp = out / f"{utt}.tmp.flac"
        x = render(plan, audio, backgrounds[plan.speaker])
        soundfile.write(str(tmp), x, fs, subtype="PCM_16")
        tmp.replace(path)
        d.wav[utt] = str(path)
        d.text[utt] = plan.text
        d.utt2spk[utt] = plan.speaker
        composition[utt] = plan.composition()
    for old in out.glob("*.flac"):
        if old.stem not in d.wav:
            old.unlink()
    d.write(data_dir / set_name)
    write_kv(data_dir / set_name / "composition", composition)
    return d


def build(corpus: Path, data_root: Path, wav_dir: Path, opts: Options) -> list[str]:
    """Checks the corpus, then writes the three sets. Returns the problems (nothing is written
    when there are any)."""
    clips, problems = scan_recordings(corpus)
    if not clips:
        return problems
    problems += missing_indices(clips)
    problems += check_pools(clips, opts)
    audio, rates, unreadable = load_audio(clips, opts.fs)
    problems += unreadable
    if problems:
        return problems
    backgrounds = speaker_backgrounds(audio, rates, clips, opts.fs)
    lengths = {name: len(x) for name, x in audio.items()}
    for set_name, plans in plan_corpus(clips, opts).items():
        d = write_set(plans, set_name, audio, backgrounds, wav_dir, data_root, opts.fs)
        seconds = sum(plan.num_samples(lengths) for plan in plans)
        speakers = " ".join(sorted(d.spk2utt()))
        print(
            f"fsdd_data: {len(d.wav)} utterances, {seconds / opts.fs / 3600:.2f} h, "
            f"speakers {speakers} -> {data_root / set_name}"
        )
    return []


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("corpus", type=Path, help="the folder holding recordings/")
    parser.add_argument("data_root", type=Path, help="where data/{train,dev,test} go")
    parser.add_argument("--wav_dir", type=Path, required=True, help="folder of the utterances")
    defaults = Options()
    for name in ("num_train", "num_dev", "num_test", "dev_max_index", "min_digits",
                 "max_digits", "fs", "seed"):  # fmt: skip
        parser.add_argument(f"--{name}", type=int, default=getattr(defaults, name))
    for name in ("min_pause_ms", "max_pause_ms"):
        parser.add_argument(f"--{name}", type=float, default=getattr(defaults, name))
    parser.add_argument(
        "--test_speakers", default=" ".join(defaults.test_speakers),
        help="held-out speakers, separated by commas or spaces",
    )  # fmt: skip
    args = vars(parser.parse_args(argv))
    corpus, data_root, wav_dir = args.pop("corpus"), args.pop("data_root"), args.pop("wav_dir")
    args["test_speakers"] = tuple(args["test_speakers"].replace(",", " ").split())
    try:
        opts = Options(**args)
    except ValueError as e:
        print(f"fsdd_data: {e}", file=sys.stderr)
        return 1
    problems = build(corpus, data_root, wav_dir, opts)
    if problems:
        print(format_report(f"fsdd_data: {corpus}", problems), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
