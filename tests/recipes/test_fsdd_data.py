"""espnet_ddp.tools.fsdd_data on a small FSDD-shaped tree of generated clips: exact lengths and
transcripts, untouched clips, the speaker/clip split, determinism, and bad corpora named."""

from __future__ import annotations

import doctest
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from espnet_ddp.tools import fsdd_data
from espnet_ddp.tools.audio_io import resample
from espnet_ddp.tools.datadir import DataDir, read_kv
from espnet_ddp.tools.fsdd_data import WORDS, Options, build

SPEAKERS = ["amy", "bob", "cat", "dan"]  # dan's clips are .wav, the others' .flac
INDICES = range(3)  # clips 0-2 per digit and speaker
OPTS = Options(num_train=30, num_dev=9, num_test=7, test_speakers=("dan",), dev_max_index=0,
               seed=3)  # fmt: skip
PAUSE_LO, PAUSE_HI = 800, 4800  # 50 and 300 ms at 16 kHz


def clip_len(spk: str, digit: int, index: int) -> int:
    """Every clip a distinct length at 8 kHz, so any mix-up changes an utterance's length."""
    return 1200 + 97 * digit + 31 * index + 7 * SPEAKERS.index(spk)


def write_tree(root: Path) -> Path:
    rng = np.random.default_rng(0)
    rec = root / "recordings"
    rec.mkdir(parents=True)
    for s, spk in enumerate(SPEAKERS):
        for digit in range(10):
            for i in INDICES:
                n = clip_len(spk, digit, i)
                t = np.arange(n) / 8000
                x = 0.3 * np.sin(2 * np.pi * (200 + 30 * digit + 50 * s) * t)
                x[:200] = x[-200:] = 0  # 25 ms of background at either end, as FSDD's clips
                x += 0.002 * rng.standard_normal(n)
                suffix = ".wav" if spk == "dan" else ".flac"
                sf.write(rec / f"{digit}_{spk}_{i}{suffix}", x, 8000, subtype="PCM_16")
    return root


@pytest.fixture(scope="module")
def tree(tmp_path_factory) -> Path:
    return write_tree(tmp_path_factory.mktemp("fsdd"))


@pytest.fixture(scope="module")
def built(tree, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("built")
    assert build(tree, out / "data", out / "wav", OPTS) == []
    return out


def parse(line: str) -> tuple[list[int], list[tuple[int, str, int]]]:
    """A composition line -> (pauses, clips as (digit, speaker, index))."""
    parts = line.split()
    pauses = [int(p) for p in parts[0::2]]
    clips = []
    for name in parts[1::2]:
        digit, spk, index = name.split("_")
        clips.append((int(digit), spk, int(index)))
    return pauses, clips


def read_set(built: Path, name: str) -> tuple[DataDir, dict[str, str]]:
    return DataDir.read(built / "data" / name), read_kv(built / "data" / name / "composition")


def test_module_doctest():
    assert doctest.testmod(fsdd_data).failed == 0


@pytest.mark.parametrize("set_name", ["train", "dev", "test"])
def test_exact_lengths_and_transcripts(built, set_name):
    d, comp = read_set(built, set_name)
    assert len(d.wav) == {"train": 30, "dev": 9, "test": 7}[set_name]
    assert sorted(comp) == sorted(d.wav)
    for utt, line in comp.items():
        pauses, clips = parse(line)
        assert 2 <= len(clips) <= 7 and len(pauses) == len(clips) + 1
        assert all(PAUSE_LO <= p <= PAUSE_HI for p in pauses), pauses
        assert d.text[utt] == " ".join(WORDS[digit] for digit, _, _ in clips)
        assert {spk for _, spk, _ in clips} == {d.utt2spk[utt]}
        assert utt.startswith(f"{d.utt2spk[utt]}-{set_name}-")
        info = sf.info(d.wav[utt])
        assert info.samplerate == 16000 and info.subtype == "PCM_16"
        assert info.frames == sum(2 * clip_len(s, g, i) for g, s, i in clips) + sum(pauses)


def test_clips_are_untouched_and_pauses_quiet(built, tree):
    d, comp = read_set(built, "train")
    utt = sorted(comp)[5]
    pauses, clips = parse(comp[utt])
    y, _ = sf.read(d.wav[utt], dtype="float32")
    pos = pauses[0]
    assert np.abs(y[:pos]).max() < 0.02  # the first pause: noise at the clips' floor
    for (digit, spk, index), pause in zip(clips, pauses[1:]):
        x, sr = sf.read(tree / "recordings" / f"{digit}_{spk}_{index}.flac", dtype="float32")
        ref = resample(x, sr, 16000)
        assert np.abs(y[pos : pos + len(ref)] - ref).max() <= 1.01 / 32768  # PCM_16 rounding
        pos += len(ref)
        assert np.abs(y[pos : pos + pause]).max() < 0.02
        pos += pause
    assert pos == len(y)


def test_pauses_are_the_background_level_and_band(built):
    """Noise at the clips' floor (0.002 RMS here), nothing above 4 kHz (the 8 kHz clips' band)."""
    d, comp = read_set(built, "train")
    utt, line = max(comp.items(), key=lambda kv: int(kv[1].split()[0]))
    pause = int(line.split()[0])
    y, _ = sf.read(d.wav[utt], dtype="float64")
    rms = np.sqrt((y[:pause] ** 2).mean())
    assert 0.0012 < rms < 0.0025, rms
    power = np.abs(np.fft.rfft(y[:pause])) ** 2
    assert power[len(power) // 2 + 2 :].sum() < 1e-3 * power.sum()


def test_split_by_speaker_and_clip_index(built):
    clips = {s: [c for line in read_set(built, s)[1].values() for c in parse(line)[1]]
             for s in ("train", "dev", "test")}  # fmt: skip
    assert {spk for _, spk, _ in clips["test"]} == {"dan"}  # speaker-disjoint test set
    assert {spk for _, spk, _ in clips["train"]} == {"amy", "bob", "cat"}
    assert {spk for _, spk, _ in clips["dev"]} == {"amy", "bob", "cat"}
    assert all(i >= 1 for _, _, i in clips["train"])  # --dev_max_index 0
    assert all(i == 0 for _, _, i in clips["dev"])
    spk_counts = np.unique([u.split("-")[0] for u in read_set(built, "train")[0].wav],
                           return_counts=True)[1]  # fmt: skip
    assert list(spk_counts) == [10, 10, 10]  # speakers in turn


def test_no_clip_repeats_within_an_utterance_while_others_exist(built):
    for s in ("train", "dev", "test"):
        for line in read_set(built, s)[1].values():
            clips = parse(line)[1]
            for digit in {g for g, _, _ in clips}:
                same = [c for c in clips if c[0] == digit]
                available = 1 if s == "dev" else (3 if s == "test" else 2)
                assert len(set(same)) == min(len(same), available), line


def test_same_seed_same_corpus_other_seed_another(built, tree, tmp_path):
    assert build(tree, tmp_path / "a" / "data", tmp_path / "a" / "wav", OPTS) == []
    for s in ("train", "dev", "test"):
        d, comp = read_set(built, s)
        d2, comp2 = read_set(tmp_path / "a", s)
        assert (d.text, d.utt2spk, comp) == (d2.text, d2.utt2spk, comp2)
        utt = sorted(d.wav)[0]
        assert np.array_equal(sf.read(d.wav[utt])[0], sf.read(d2.wav[utt])[0])
    other = Options(**{**OPTS.__dict__, "seed": 4})
    assert build(tree, tmp_path / "b" / "data", tmp_path / "b" / "wav", other) == []
    assert read_set(tmp_path / "b", "train")[0].text != read_set(built, "train")[0].text


def test_rebuild_with_other_options_removes_stale_audio(tree, tmp_path):
    assert build(tree, tmp_path / "data", tmp_path / "wav", OPTS) == []
    old = DataDir.read(tmp_path / "data" / "dev")
    small = Options(**{**OPTS.__dict__, "num_train": 4, "max_pause_ms": 100})
    assert build(tree, tmp_path / "data", tmp_path / "wav", small) == []
    new = DataDir.read(tmp_path / "data" / "dev")
    assert not set(old.wav) & set(new.wav)  # other pauses, other ids: no stale dump is reused
    for s, n in (("train", 4), ("dev", 9), ("test", 7)):
        d = DataDir.read(tmp_path / "data" / s)
        assert len(d.wav) == n
        assert sorted(p.stem for p in (tmp_path / "wav" / s).glob("*.flac")) == sorted(d.wav)


@pytest.fixture
def broken(tree, tmp_path) -> Path:
    """A private copy of the tree."""
    root = tmp_path / "corpus"
    (root / "recordings").mkdir(parents=True)
    for p in (tree / "recordings").iterdir():
        (root / "recordings" / p.name).write_bytes(p.read_bytes())
    return root


def problems_of(root: Path, tmp_path: Path, opts: Options = OPTS) -> list[str]:
    problems = build(root, tmp_path / "out" / "data", tmp_path / "out" / "wav", opts)
    assert problems, "a broken corpus was accepted"
    assert not (tmp_path / "out").exists(), "something was written for a broken corpus"
    return problems


def test_corrupt_clip_is_named(broken, tmp_path):
    bad = broken / "recordings" / "4_bob_2.flac"
    bad.write_bytes(bad.read_bytes()[:40])
    problems = problems_of(broken, tmp_path)
    assert len(problems) == 1 and problems[0].startswith(f"clip {bad}: unreadable audio file")


def test_missing_clip_is_named(broken, tmp_path):
    rec = broken / "recordings"
    (rec / "7_amy_1.flac").unlink()
    (rec / "2_dan_0.wav").unlink()
    (rec / "2_dan_0.wav").symlink_to(broken / "nowhere.wav")
    assert problems_of(broken, tmp_path) == [
        f"clip {rec / '7_amy_1.flac'}: missing (speaker amy has digit 7 clips 0-2 but not 1)",
        f"clip {rec / '2_dan_0.wav'}: missing audio file (broken link?)",
    ]


def test_digit_without_clips_for_a_set_is_named(broken, tmp_path):
    for i in (1, 2):
        (broken / "recordings" / f"5_cat_{i}.flac").unlink()
    assert problems_of(broken, tmp_path) == [
        "speaker cat: no clip of digit 5 with index > 0 (train)"
    ]


def test_unknown_test_speaker_names_the_option(broken, tmp_path):
    opts = Options(**{**OPTS.__dict__, "test_speakers": ("dan", "eve")})
    assert problems_of(broken, tmp_path, opts) == [
        "--test_speakers: no clips of speaker eve (speakers found: amy bob cat dan)"
    ]


def test_no_recordings_folder(tmp_path):
    assert problems_of(tmp_path / "nothing", tmp_path) == [
        f"no recordings/ folder in {tmp_path / 'nothing'}"
    ]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"num_train": 0}, "--num_train must be at least 1"),
        ({"min_digits": 5, "max_digits": 3}, "need 1 <= --min_digits <= --max_digits: 5, 3"),
        ({"min_pause_ms": 300, "max_pause_ms": 50}, "need 0 <= --min_pause_ms <= --max_pause_ms"),
        ({"test_speakers": ()}, "--test_speakers must name at least one speaker"),
    ],
)
def test_bad_options_name_the_option(change, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        Options(**{**OPTS.__dict__, **change})


def test_command_line(tree, tmp_path, capsys):
    args = [str(tree), str(tmp_path / "data"), "--wav_dir", str(tmp_path / "wav"),
            "--num_train", "6", "--num_dev", "3", "--num_test", "2",
            "--test_speakers", "cat,dan", "--dev_max_index", "0", "--max_digits", "3"]  # fmt: skip
    assert fsdd_data.main(args) == 0
    test = DataDir.read(tmp_path / "data" / "test")
    assert sorted(set(test.utt2spk.values())) == ["cat", "dan"]
    assert all(2 <= len(t.split()) <= 3 for t in test.text.values())
    assert "6 utterances" in capsys.readouterr().out
    assert fsdd_data.main([*args, "--min_digits", "0"]) == 1
    assert "--min_digits" in capsys.readouterr().err
