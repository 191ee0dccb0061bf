"""egs2/librispeech_ddp on a tiny synthesized LibriSpeech tree: stages 1-13, a rerun from the
statistics, the download path, and broken corpora reported by utterance at stage 1."""

from __future__ import annotations

import json
import tarfile
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from espnet_ddp.tools.datadir import DataDir
from recipes.corpora import (
    LibriSpeechTree,
    local_env,
    recipe_env,
    run_recipe,
    served_directory,
    stage_recipe,
    tiny_run_args,
    wer_rows,
)

TEST_SETS = ["test_clean", "test_other", "dev_clean", "dev_other"]
DATA_DIRS = {  # data dir -> its LibriSpeech subsets
    "train_clean_100": ["train-clean-100"],
    "dev": ["dev-clean", "dev-other"],
    "dev_clean": ["dev-clean"],
    "dev_other": ["dev-other"],
    "test_clean": ["test-clean"],
    "test_other": ["test-other"],
}
STAGE1 = ["--stage", "1", "--stop_stage", "1"]


@pytest.fixture(scope="module")
def full_run(librispeech_tree: LibriSpeechTree, tmp_path_factory):
    """./run.sh stages 1-13 with a tiny easy2hard + chunk-drop model (2 epochs, char tokens)."""
    tmp = tmp_path_factory.mktemp("librispeech_recipe")
    recipe = stage_recipe(tmp, "librispeech_ddp")
    env = recipe_env(LIBRISPEECH=str(librispeech_tree.root))
    args = tiny_run_args(tmp / "conf")
    run = run_recipe(recipe, args, env)
    assert run.returncode == 0, run.report(recipe)
    return recipe, env, args


def exp_dir(recipe: Path) -> Path:
    return recipe / "exp" / "asr_train_tiny_raw_en_char"


def check_data_dirs(data: Path, tree: LibriSpeechTree) -> None:
    for name, subsets in DATA_DIRS.items():
        d = DataDir.read(data / name)
        utts = [u for s in subsets for u in tree.utts[s]]
        assert sorted(d.wav) == sorted(utts), name
        assert d.text == {u: tree.text[u] for u in utts}
        assert d.utt2spk == {u: "-".join(u.split("-")[:2]) for u in utts}
        assert all(Path(d.wav[u]) == tree.flac(u).resolve() for u in utts)
        assert (data / name / "spk2utt").is_file()


def test_stage1_writes_every_data_dir(full_run, librispeech_tree):
    recipe, _, _ = full_run
    check_data_dirs(recipe / "data", librispeech_tree)


def test_stages_1_to_13_score_every_test_set(full_run):
    recipe, _, _ = full_run
    exp = exp_dir(recipe)
    rows = wer_rows((exp / "RESULTS.md").read_text())
    assert sorted(rows) == sorted(TEST_SETS)
    for test_set, row in rows.items():
        assert row[0] == "4", (test_set, row)  # sentences scored
        float(row[6])  # an error rate
    # trained by the plugin: a warm-up epoch on all 24 utterances, then 17 of them
    epochs = [json.loads((exp / f"data_pruning/epoch{e}.json").read_text()) for e in (1, 2)]
    assert [r["kept_utterances"] for r in epochs] == [24, 17]
    assert epochs[1]["fed_seconds"] < 0.9 * epochs[1]["kept_seconds"]  # dropping is on
    assert (exp / "valid.acc.ave.pth").exists()


def test_rerun_from_the_statistics_stage(full_run):
    recipe, env, args = full_run
    stats = recipe / "exp" / "asr_stats_raw_en_char" / "train" / "feats_stats.npz"
    before = stats.stat().st_mtime_ns
    run = run_recipe(recipe, [*args, "--stage", "10", "--stop_stage", "10"], env)
    assert run.returncode == 0, run.report(recipe)
    assert stats.stat().st_mtime_ns > before
    shapes = (recipe / "exp/asr_stats_raw_en_char/train/text_shape.char").read_text().splitlines()
    assert len(shapes) == 24


def break_missing_audio(tree: LibriSpeechTree, utt: str) -> str:
    tree.flac(utt).unlink()
    return "missing audio file"


def break_empty_transcript(tree: LibriSpeechTree, utt: str) -> str:
    trans = tree.trans(utt)
    lines = trans.read_text().splitlines()
    lines = [utt if line.split()[0] == utt else line for line in lines]
    trans.write_text("\n".join(lines) + "\n")
    return "empty transcript"


def break_sample_rate(tree: LibriSpeechTree, utt: str) -> str:
    wav, fs = sf.read(tree.flac(utt))
    sf.write(tree.flac(utt), wav[:: fs // 8000], 8000, format="FLAC", subtype="PCM_16")
    return "sampling rate 8000 Hz"


@pytest.mark.parametrize(
    ("subset", "breaker"),
    [
        ("train-clean-100", break_missing_audio),
        ("dev-other", break_empty_transcript),
        ("test-clean", break_sample_rate),
    ],
)
def test_stage1_names_the_broken_utterance(librispeech_tree, copy_tree, tmp_path, subset, breaker):
    tree = LibriSpeechTree(
        copy_tree(librispeech_tree.root), librispeech_tree.utts, librispeech_tree.text
    )
    utt = tree.utts[subset][1]
    why = breaker(tree, utt)
    recipe = stage_recipe(tmp_path / "run", "librispeech_ddp")
    run = run_recipe(recipe, STAGE1, recipe_env(LIBRISPEECH=str(tree.root)), timeout=300)
    assert run.returncode != 0, run.output
    assert f"utterance {utt}: {why}" in run.output, run.output
    assert "stage 1 failed" in run.output


def test_stage1_reports_every_broken_subset_in_one_run(librispeech_tree, copy_tree, tmp_path):
    tree = LibriSpeechTree(
        copy_tree(librispeech_tree.root), librispeech_tree.utts, librispeech_tree.text
    )
    broken = {
        tree.utts["train-clean-100"][5]: break_missing_audio,
        tree.utts["test-other"][0]: break_sample_rate,
    }
    expected = [f"utterance {utt}: {breaker(tree, utt)}" for utt, breaker in broken.items()]
    recipe = stage_recipe(tmp_path / "run", "librispeech_ddp")
    run = run_recipe(recipe, STAGE1, recipe_env(LIBRISPEECH=str(tree.root)), timeout=300)
    assert run.returncode != 0
    for line in expected:
        assert line in run.output, run.output
    assert not (recipe / "data" / "train_clean_100").exists()
    assert not (recipe / "data" / "test_other").exists()
    assert (recipe / "data" / "test_clean").is_dir()  # the sound subsets are written


def test_stage1_train_960_merges_the_three_training_subsets(librispeech_tree, copy_tree, tmp_path):
    root = copy_tree(librispeech_tree.root)
    train = root / "LibriSpeech" / "train-clean-100"
    speakers = sorted(p.name for p in train.iterdir())
    assert len(speakers) == 3
    parts = {"train-clean-100": speakers[0], "train-clean-360": speakers[1],
             "train-other-500": speakers[2]}  # fmt: skip
    for subset, spk in parts.items():
        if subset != "train-clean-100":
            (root / "LibriSpeech" / subset).mkdir()
            (train / spk).rename(root / "LibriSpeech" / subset / spk)
    recipe = stage_recipe(tmp_path / "run", "librispeech_ddp")
    args = [*STAGE1, "--train_set", "train_960",
            "--local_data_opts", "--train_960 true --download false"]  # fmt: skip
    run = run_recipe(recipe, args, recipe_env(LIBRISPEECH=str(root)), timeout=300)
    assert run.returncode == 0, run.output
    merged = DataDir.read(recipe / "data" / "train_960")
    assert sorted(merged.wav) == sorted(librispeech_tree.utts["train-clean-100"])
    assert merged.text == {u: librispeech_tree.text[u] for u in merged.wav}
    for subset, spk in parts.items():
        part = DataDir.read(recipe / "data" / subset.replace("-", "_"))
        assert {u.split("-")[0] for u in part.wav} == {spk}
    spk2utt = (recipe / "data" / "train_960" / "spk2utt").read_text().splitlines()
    assert len(spk2utt) == 6  # speaker-chapter pairs
    assert sorted(u for line in spk2utt for u in line.split()[1:]) == sorted(merged.wav)


def test_stage1_without_download_says_where_to_put_the_corpus(tmp_path):
    recipe = stage_recipe(tmp_path / "run", "librispeech_ddp")
    args = [*STAGE1, "--local_data_opts", "--download false"]
    run = run_recipe(recipe, args, recipe_env(LIBRISPEECH=str(tmp_path / "none")), timeout=120)
    assert run.returncode != 0
    missing = tmp_path / "none" / "LibriSpeech" / "train-clean-100"
    assert f"not in {missing} (--download false)" in run.output, run.output
    assert "https://www.openslr.org/12" in run.output
    assert not (tmp_path / "none").exists()


@pytest.fixture
def http_dir(tmp_path):
    """A directory served over HTTP on 127.0.0.1: yields (dir, base url)."""
    root = tmp_path / "served"
    root.mkdir()
    with served_directory(root) as url:
        yield root, url + "/resources/12"


def test_stage1_downloads_missing_subsets(librispeech_tree, http_dir, tmp_path):
    served, url = http_dir
    (served / "resources" / "12").mkdir(parents=True)
    corpus = librispeech_tree.root / "LibriSpeech"
    for subset in librispeech_tree.utts:
        with tarfile.open(served / "resources" / "12" / f"{subset}.tar.gz", "w:gz") as tar:
            tar.add(corpus / subset, arcname=f"LibriSpeech/{subset}")
            readme = tmp_path / "README.TXT"
            readme.write_text("LibriSpeech stand-in\n")
            tar.add(readme, arcname="LibriSpeech/README.TXT")
    downloads = tmp_path / "downloads"
    recipe = stage_recipe(tmp_path / "run", "librispeech_ddp")
    args = [*STAGE1, "--local_data_opts", f"--data_url {url}"]
    run = run_recipe(recipe, args, local_env(LIBRISPEECH=str(downloads)), timeout=300)
    assert run.returncode == 0, run.output
    got = LibriSpeechTree(downloads, librispeech_tree.utts, librispeech_tree.text)
    check_data_dirs(recipe / "data", got)
    assert (downloads / "LibriSpeech" / "README.TXT").is_file()
    assert sorted(p.name for p in downloads.iterdir()) == ["LibriSpeech"]  # no archive, no tmp
    same = got.flac(got.utts["dev-other"][0])
    assert np.array_equal(sf.read(same)[0], sf.read(librispeech_tree.flac(same.stem))[0])


def test_stage1_failed_download_says_where_to_put_the_corpus(http_dir, tmp_path):
    _, url = http_dir  # serves nothing: every archive is a 404
    downloads = tmp_path / "downloads"
    recipe = stage_recipe(tmp_path / "run", "librispeech_ddp")
    args = [*STAGE1, "--local_data_opts", f"--data_url {url}"]
    run = run_recipe(recipe, args, local_env(LIBRISPEECH=str(downloads)), timeout=300)
    assert run.returncode != 0
    assert f"download from {url}/train-clean-100.tar.gz failed" in run.output, run.output
    assert f"extract it under {downloads}" in run.output
    assert "https://www.openslr.org/12" in run.output
    assert not (downloads / "LibriSpeech").exists()
    assert not list(downloads.glob("*.part"))
