"""egs2/fsdd_digits_ddp on the shared copy of the Free Spoken Digit Dataset (../shared/data/fsdd):
stages 1-13 on a few utterances with a tiny model, lengths exact through stage 3, broken clips named
at stage 1, the download path (a local HTTP server), and run.sh's defaults. Skipped when the shared
copy is absent (a fresh clone has no ../shared)."""

from __future__ import annotations

import os
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest
import soundfile as sf
import yaml
from plugin.corpus import TINY_CONFORMER

from espnet_ddp.tools.datadir import DataDir, read_kv
from espnet_ddp.tools.fsdd_data import WORDS
from recipes.corpora import (
    REPO,
    TINY_DECODE,
    local_env,
    recipe_env,
    run_recipe,
    served_directory,
    stage_recipe,
    wer_rows,
)

FSDD = REPO.parent / "shared" / "data" / "fsdd"
RECIPE = REPO / "egs2" / "fsdd_digits_ddp" / "asr1"
TEST_SPEAKERS = {"jackson", "theo"}  # local/data.sh's default
SIZES = {"train": 16, "dev": 4, "test": 4}
STAGE1 = ["--stage", "1", "--stop_stage", "1"]
EXP = "exp/asr_train_tiny_raw_en_word"


@pytest.fixture(scope="module")
def fsdd() -> Path:
    if not (FSDD / "recordings").is_dir():
        pytest.skip(f"no shared FSDD copy: {FSDD / 'recordings'} (../shared/data/fsdd) is absent")
    return FSDD


def sizes_opt(**sizes: int) -> str:
    s = {**SIZES, **sizes}
    return f"--num_train {s['train']} --num_dev {s['dev']} --num_test {s['test']}"


def tiny_args(conf: Path) -> list[str]:
    """A tiny conformer for one epoch, one job per stage, decoding capped at 15 words."""
    conf.mkdir(parents=True, exist_ok=True)
    (conf / "train_tiny.yaml").write_text(TINY_CONFORMER + "max_epoch: 1\nnum_att_plot: 0\n")
    decode = TINY_DECODE.replace("maxlenratio: 0.0", "maxlenratio: 0.1")
    (conf / "decode_tiny.yaml").write_text(decode)
    return [
        "--nj", "1",
        "--inference_nj", "1",
        "--asr_config", str(conf / "train_tiny.yaml"),
        "--inference_config", str(conf / "decode_tiny.yaml"),
        "--asr_args", "--use_matplotlib false --seed 0",
        "--local_data_opts", sizes_opt(),
    ]  # fmt: skip


@pytest.fixture(scope="module")
def full_run(fsdd, tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("fsdd_recipe")
    recipe = stage_recipe(tmp, "fsdd_digits_ddp")
    run = run_recipe(recipe, tiny_args(tmp / "conf"), recipe_env(FSDD=str(fsdd)), timeout=600)
    assert run.returncode == 0, run.report(recipe)
    return recipe


def test_stage1_sets_and_speaker_disjoint_test(full_run):
    sets = {s: DataDir.read(full_run / "data" / s) for s in SIZES}
    for s, d in sets.items():
        assert len(d.wav) == SIZES[s], s
        assert all(set(t.split()) <= set(WORDS) and 2 <= len(t.split()) <= 7
                   for t in d.text.values())  # fmt: skip
    assert set(sets["test"].utt2spk.values()) == TEST_SPEAKERS
    train_speakers = set(sets["train"].utt2spk.values())
    assert len(train_speakers) == 4 and not train_speakers & TEST_SPEAKERS
    assert set(sets["dev"].utt2spk.values()) == train_speakers


@pytest.mark.parametrize("dset", ["dev", "test"])
def test_lengths_are_exact_through_stage_3(full_run, fsdd, dset):
    """dump/raw's utt2num_samples = sum of the clips' samples at 16 kHz + the pauses."""
    comp = read_kv(full_run / "data" / dset / "composition")
    dumped = read_kv(full_run / "dump" / "raw" / dset / "utt2num_samples")
    assert sorted(dumped) == sorted(comp)
    for utt, line in comp.items():
        parts = line.split()
        clips = sum(2 * sf.info(fsdd / "recordings" / f"{c}.flac").frames for c in parts[1::2])
        assert int(dumped[utt]) == clips + sum(int(p) for p in parts[0::2]), utt


def test_word_tokens_and_scored_test_set(full_run):
    tokens = (full_run / "data/en_token_list/word/tokens.txt").read_text().split()
    assert tokens[:2] == ["<blank>", "<unk>"] and tokens[-1] == "<sos/eos>"
    assert sorted(tokens[2:-1]) == sorted(WORDS)  # 16 training utterances use every digit
    rows = wer_rows((full_run / EXP / "RESULTS.md").read_text())
    assert list(rows) == ["test"]
    assert rows["test"][0] == str(SIZES["test"])  # sentences scored
    words = sum(len(t.split()) for t in DataDir.read(full_run / "data/test").text.values())
    assert rows["test"][1] == str(words)
    assert (full_run / EXP / "valid.acc.ave.pth").exists()


@pytest.fixture
def corpus_copy(fsdd, tmp_path) -> Path:
    dst = tmp_path / "fsdd"
    shutil.copytree(fsdd / "recordings", dst / "recordings")
    return dst


def corrupt(rec: Path) -> tuple[Path, str]:
    bad = rec / "3_lucas_17.flac"
    bad.write_bytes(bad.read_bytes()[:60])
    return bad, f"clip {bad}: unreadable audio file"


def missing(rec: Path) -> tuple[Path, str]:
    gone = rec / "8_george_30.flac"
    gone.unlink()
    return gone, f"clip {gone}: missing (speaker george has digit 8 clips 0-49 but not 30)"


@pytest.mark.parametrize("breaker", [corrupt, missing])
def test_stage1_names_the_broken_clip(corpus_copy, tmp_path, breaker):
    _, message = breaker(corpus_copy / "recordings")
    recipe = stage_recipe(tmp_path / "run", "fsdd_digits_ddp")
    args = [*STAGE1, "--local_data_opts", sizes_opt()]
    run = run_recipe(recipe, args, recipe_env(FSDD=str(corpus_copy)), timeout=300)
    assert run.returncode != 0
    assert message in run.output, run.output
    assert "stage 1 failed" in run.output
    assert not (recipe / "data" / "train").exists()


@pytest.fixture
def http_dir(tmp_path):
    """A directory served over HTTP on 127.0.0.1: yields (dir, base url)."""
    root = tmp_path / "served"
    root.mkdir()
    with served_directory(root) as url:
        yield root, url


def test_stage1_downloads_the_corpus_when_absent(fsdd, http_dir, tmp_path):
    served, url = http_dir
    # GitHub's layout: one top folder; clips 0-5 of every speaker are enough for a few utterances
    clips = sorted(p for p in (fsdd / "recordings").iterdir() if int(p.stem.split("_")[2]) <= 5)
    (served / "archive").mkdir()
    readme = tmp_path / "README.md"
    readme.write_text("FSDD stand-in\n")
    with tarfile.open(served / "archive" / "master.tar.gz", "w:gz") as tar:
        for p in clips:
            tar.add(p, arcname=f"free-spoken-digit-dataset-master/recordings/{p.name}")
        tar.add(readme, arcname="free-spoken-digit-dataset-master/README.md")
    target = tmp_path / "downloads" / "fsdd"
    recipe = stage_recipe(tmp_path / "run", "fsdd_digits_ddp")
    opts = f"{sizes_opt()} --data_url {url}/archive/master.tar.gz"
    run = run_recipe(recipe, [*STAGE1, "--local_data_opts", opts], local_env(FSDD=str(target)),
                     timeout=300)  # fmt: skip
    assert run.returncode == 0, run.output
    assert sorted(p.name for p in target.iterdir()) == ["README.md", "recordings"]  # no archive
    assert sorted(p.name for p in (target / "recordings").iterdir()) == [p.name for p in clips]
    train = read_kv(recipe / "data" / "train" / "composition")
    assert len(train) == SIZES["train"]
    assert all(c.endswith("_5") for line in train.values() for c in line.split()[1::2])


def test_stage1_failed_download_says_where_to_put_the_corpus(http_dir, tmp_path):
    _, url = http_dir  # serves nothing: a 404
    target = tmp_path / "downloads" / "fsdd"
    recipe = stage_recipe(tmp_path / "run", "fsdd_digits_ddp")
    opts = f"--data_url {url}/archive/master.tar.gz"
    run = run_recipe(recipe, [*STAGE1, "--local_data_opts", opts], local_env(FSDD=str(target)),
                     timeout=120)  # fmt: skip
    assert run.returncode != 0
    assert f"download from {url}/archive/master.tar.gz failed" in run.output, run.output
    assert f"folder into {target}" in run.output
    assert not (target / "recordings").exists() and not list(target.glob("*.part"))


def test_stage1_without_download_says_where_to_put_the_corpus(tmp_path):
    recipe = stage_recipe(tmp_path / "run", "fsdd_digits_ddp")
    args = [*STAGE1, "--local_data_opts", "--download false"]
    run = run_recipe(recipe, args, recipe_env(FSDD=str(tmp_path / "none")), timeout=120)
    assert run.returncode != 0
    assert f"not in {tmp_path / 'none' / 'recordings'} (--download false)" in run.output
    assert "github.com/Jakobovski/free-spoken-digit-dataset" in run.output
    assert not (tmp_path / "none").exists()


def test_recipe_layout():
    template = (REPO / "egs2" / "TEMPLATE" / "asr1").resolve()
    for link in ("asr.sh", "path.sh", "utils", "cmd.sh"):
        assert (RECIPE / link).is_symlink() and not Path(os.readlink(RECIPE / link)).is_absolute()
        assert (RECIPE / link).resolve() == template / link
    assert (RECIPE / "conf" / "slurm.conf").resolve() == template / "conf" / "slurm.conf"
    for script in ("run.sh", "local/data.sh"):
        assert os.access(RECIPE / script, os.X_OK), script
    for script in ("run.sh", "local/data.sh", "db.sh"):
        proc = subprocess.run(["bash", "-n", str(RECIPE / script)], capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr


def dry_run(recipe: Path, *args: str) -> str:
    """./run.sh with no stage to run: only the option handling of run.sh and asr.sh."""
    proc = subprocess.run(["./run.sh", "--stage", "14", "--stop_stage", "13", *args], cwd=recipe,
                          env=recipe_env(), capture_output=True, text=True, timeout=60)  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout + proc.stderr


def test_run_sh_defaults_and_overrides_reach_asr_sh(tmp_path):
    recipe = stage_recipe(tmp_path, "fsdd_digits_ddp")
    out = dry_run(recipe)
    assert "asr_exp=exp/asr_train_asr_full_raw_en_word " in out
    assert "--train_set train --valid_set dev --test_sets test" in out
    out = dry_run(recipe, "--asr_config", "conf/other.yaml", "--token_type", "char")
    assert "asr_exp=exp/asr_other_raw_en_char " in out


def test_full_config_builds_the_word_model():
    from espnet_ddp.espnet.task import PrunedASRTask

    conf = RECIPE / "conf" / "train_asr_full.yaml"
    args = PrunedASRTask.get_parser().parse_args(["--config", str(conf), "--token_list", "x"])
    args.token_list = ["<blank>", "<unk>", *WORDS, "<sos/eos>"]
    model = PrunedASRTask.build_model(args)
    assert model.vocab_size == 13
    c = yaml.safe_load(conf.read_text())
    assert c["encoder"] == "conformer" and c["max_epoch"] == 24
    assert not {"data_pruning", "time_drop"} & set(c)  # the full-data baseline
    decode = yaml.safe_load((RECIPE / "conf" / "decode_asr.yaml").read_text())
    assert decode["ctc_weight"] == c["model_conf"]["ctc_weight"]
