"""Bad data past stage 1 through ``asr.sh`` itself (a bare recipe, a few utterances of noise):

- stage 3: a source that is gone since it was formatted stops the stage, and the failing job's
  error lines reach the console, not only "see the log";
- stage 4: the utterances it leaves out are named with their reason on the console and in
  ``dump/raw/<set>/dropped_utts``; text that is not UTF-8 is named by file, line and utterance,
  and the previous ``dump/raw/<set>`` is left as it was;
- stage 10: before ESPnet reads the dump, an unreadable or truncated file, or one at another rate
  than ``--fs``, stops it naming the utterance and the file.

Budget: about 10 s on 2 shared cores (stage 3 runs twice with two jobs; the other stages run on
dumps written here).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from recipes.corpora import bare_recipe
from recipes.test_asr_sh_stages import asr_sh

FS = 16000


def write_audio_dir(d: Path, seconds: dict[str, float], num_samples: bool = False) -> Path:
    """wav.scp, text ("a b"), utt2spk, spk2utt and a flac per utterance (and utt2num_samples)."""
    d.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for utt, s in seconds.items():
        sf.write(d / f"{utt}.flac", 0.1 * rng.standard_normal(int(s * FS)), FS, subtype="PCM_16")
    utts = sorted(seconds)
    (d / "wav.scp").write_text("".join(f"{u} {d / f'{u}.flac'}\n" for u in utts))
    (d / "text").write_text("".join(f"{u} a b\n" for u in utts))
    (d / "utt2spk").write_text("".join(f"{u} spk\n" for u in utts))
    (d / "spk2utt").write_text("spk " + " ".join(utts) + "\n")
    if num_samples:
        (d / "utt2num_samples").write_text("".join(f"{u} {int(seconds[u] * FS)}\n" for u in utts))
    return d


@pytest.fixture
def recipe(tmp_path) -> Path:
    return bare_recipe(tmp_path / "asr1")


def test_stage3_shows_the_failing_jobs_error_on_the_console(recipe):
    for name in ("train", "dev", "test"):
        write_audio_dir(recipe / "data" / name, {f"{name}{i}": 0.3 for i in range(4)})
    run = asr_sh(recipe, "--stage", "3", "--stop_stage", "3", "--nj", "2")
    assert run.returncode == 0, run.stdout
    gone = recipe / "data" / "train" / "train3.flac"
    gone.unlink()
    run = asr_sh(recipe, "--stage", "3", "--stop_stage", "3", "--nj", "2")
    assert run.returncode != 0
    # train3 is the 4th line of wav.scp: job 2 of 2
    log = "dump/raw/org/train/logdir/format.2.log"
    assert f"last lines of {log}:" in run.stdout, run.stdout
    assert "last lines of dump/raw/org/train/logdir/format.1.log" not in run.stdout
    formatted = recipe / "dump/raw/org/train/data/format.2/train3.flac"
    assert (
        f"      | format_audio: utterance train3: source audio file {gone} is gone; its copy "
        f"formatted earlier, {formatted}, is not reused" in run.stdout
    )


@pytest.fixture
def org_dumps(recipe) -> Path:
    """Stage 3's output for train (one utterance too short) and dev, written directly."""
    org = recipe / "dump" / "raw" / "org"
    write_audio_dir(org / "train", {"t1": 0.5, "t2": 0.05, "t3": 0.6}, num_samples=True)
    write_audio_dir(org / "dev", {"d1": 0.5, "d2": 0.5}, num_samples=True)
    return recipe


def test_stage4_names_what_it_leaves_out_and_keeps_the_dump_on_bad_text(org_dumps):
    recipe = org_dumps
    run = asr_sh(recipe, "--stage", "4", "--stop_stage", "4")
    assert run.returncode == 0, run.stdout
    assert (
        "filter_data_dir: kept 2 of 3 utterances -> dump/raw/train; left out 1 "
        "(dump/raw/train/dropped_utts): t2 (too short: 800 samples (0.05 s) < --min_samples "
        "1600 (0.1 s))"
    ) in run.stdout
    assert "--min_wav_duration: 1600 samples" in run.stdout
    train = recipe / "dump" / "raw" / "train"
    assert (train / "dropped_utts").read_text() == (
        "t2 too short: 800 samples (0.05 s) < --min_samples 1600 (0.1 s)\n"
    )
    before = {p.name: p.read_bytes() for p in train.iterdir()}
    (recipe / "dump/raw/org/train/text").write_bytes(b"t1 a b\nt2 a\nt3 na\xefve\n")
    run = asr_sh(recipe, "--stage", "4", "--stop_stage", "4")
    assert run.returncode != 0
    assert (
        "filter_data_dir: dump/raw/org/train/text:3: utterance t3: not UTF-8: byte 0xef at "
        "byte 6 of the line (invalid continuation byte)"
    ) in run.stdout, run.stdout
    assert "stage 4 failed for train" in run.stdout
    assert {p.name: p.read_bytes() for p in train.iterdir()} == before
    assert sorted(p.name for p in train.parent.iterdir()) == ["dev", "lm_train.txt", "org", "train"]


@pytest.fixture
def dumps(recipe) -> Path:
    """Stage 4's output for train and dev and a char token list: what stage 10 reads."""
    raw = recipe / "dump" / "raw"
    write_audio_dir(raw / "train", {"t1": 0.5, "t2": 0.5, "t3": 0.5}, num_samples=True)
    write_audio_dir(raw / "dev", {"d1": 0.5}, num_samples=True)
    tokens = recipe / "data" / "token_list" / "char" / "tokens.txt"
    tokens.parent.mkdir(parents=True)
    tokens.write_text("<blank>\n<unk>\na\nb\n<space>\n<sos/eos>\n")
    return recipe


def stage10(recipe: Path):
    return asr_sh(recipe, "--stage", "10", "--stop_stage", "10", "--token_type", "char",
                  "--ngpu", "0", "--nj", "2")  # fmt: skip


@pytest.mark.parametrize("fault", ["rate", "truncated", "unreadable"])
def test_stage10_names_the_bad_file_before_espnet_reads_the_dump(dumps, fault):
    recipe = dumps
    bad = recipe / "dump" / "raw" / "train" / "t2.flac"
    if fault == "rate":
        sf.write(bad, np.zeros(4000), 8000, subtype="PCM_16")
        want = f"utterance t2: sampling rate 8000 Hz, expected 16000 Hz (--fs 16000; {bad})"
    elif fault == "truncated":
        bad.write_bytes(bad.read_bytes()[:-20])
        want = f"utterance t2: truncated or corrupt audio file {bad} (8000 frames in its header"
    else:
        bad.write_bytes(b"not audio at all")
        want = f"utterance t2: unreadable audio file {bad} (Error opening"
    run = stage10(recipe)
    assert run.returncode != 0
    assert f"validate_data_dir: dump/raw/train: 1 problem(s):\n  {want}" in run.stdout, run.stdout
    assert "stage 10: the dump is not usable (report above)" in run.stdout
    assert "running:" not in run.stdout  # ESPnet was not started
    assert not (recipe / "exp" / "asr_stats_raw_char" / "logdir").exists()
