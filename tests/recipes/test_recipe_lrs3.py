"""egs2/lrs3_ddp on a tiny synthesized LRS3 tree: stage 1 (mp4 -> wav, speaker split), broken
clips reported by utterance, a missing corpus explained, and (slow) stages 1-13."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import soundfile as sf

from espnet_ddp.tools.datadir import DataDir
from espnet_ddp.tools.lrs3_data import dev_speakers
from recipes.corpora import (
    LRS3_SPLITS,
    Lrs3Tree,
    recipe_env,
    run_recipe,
    stage_recipe,
    tiny_run_args,
    video_codec,
    wer_rows,
    write_mp4,
)

STAGE1 = ["--stage", "1", "--stop_stage", "1"]


@pytest.fixture(scope="module")
def stage1(lrs3_tree: Lrs3Tree, tmp_path_factory) -> Path:
    recipe = stage_recipe(tmp_path_factory.mktemp("lrs3_stage1"), "lrs3_ddp")
    run = run_recipe(recipe, STAGE1, recipe_env(LRS3=str(lrs3_tree.root)), timeout=300)
    assert run.returncode == 0, run.output
    return recipe


def test_stage1_splits_trainval_by_speaker(stage1, lrs3_tree):
    data = stage1 / "data"
    sets = {name: DataDir.read(data / name) for name in ("train", "dev", "test")}
    trainval = set(lrs3_tree.utts["trainval"])
    assert set(sets["train"].wav) | set(sets["dev"].wav) == trainval
    assert not set(sets["train"].wav) & set(sets["dev"].wav)
    assert set(sets["test"].wav) == set(lrs3_tree.utts["test"])
    speakers = LRS3_SPLITS["trainval"][0]
    assert set(sets["dev"].utt2spk.values()) == dev_speakers(sorted(speakers), 0.05)
    assert not set(sets["train"].utt2spk.values()) & set(sets["dev"].utt2spk.values())
    for d in sets.values():
        assert d.text == {u: lrs3_tree.text[u] for u in d.wav}
        for wav in d.wav.values():
            info = sf.info(wav)
            assert (info.samplerate, info.channels) == (16000, 1)
            assert info.frames > 16000 // 2


def break_missing_audio(tree: Lrs3Tree, utt: str) -> str:
    tree.clip(utt).with_suffix(".mp4").unlink()
    return "missing audio file"


def break_empty_transcript(tree: Lrs3Tree, utt: str) -> str:
    tree.clip(utt).with_suffix(".txt").write_text("Text:  \nConf:  4\n")
    return "empty transcript"


def break_sample_rate(tree: Lrs3Tree, utt: str) -> str:
    mp4 = tree.clip(utt).with_suffix(".mp4")
    write_mp4(tree.text[utt], "en", 160, mp4, video_codec(), fs=8000)
    return "sampling rate 8000 Hz, expected 16000 Hz"


@pytest.mark.parametrize(
    ("split", "breaker"),
    [
        ("trainval", break_missing_audio),
        ("test", break_empty_transcript),
        ("trainval", break_sample_rate),
    ],
)
def test_stage1_names_the_broken_clip(lrs3_tree, copy_tree, tmp_path, split, breaker):
    tree = Lrs3Tree(copy_tree(lrs3_tree.root), lrs3_tree.utts, lrs3_tree.text)
    utt = tree.utts[split][2]
    why = breaker(tree, utt)
    recipe = stage_recipe(tmp_path / "run", "lrs3_ddp")
    run = run_recipe(recipe, STAGE1, recipe_env(LRS3=str(tree.root)), timeout=300)
    assert run.returncode != 0, run.output
    assert f"utterance {utt}: {why}" in run.output, run.output
    assert "stage 1 failed" in run.output
    assert not (recipe / "data" / "train").exists()


def test_stage1_without_the_corpus_says_where_to_put_it(tmp_path):
    recipe = stage_recipe(tmp_path / "run", "lrs3_ddp")
    run = run_recipe(recipe, STAGE1, recipe_env(LRS3=str(tmp_path / "nowhere")), timeout=120)
    assert run.returncode != 0
    assert f"no {tmp_path / 'nowhere'}/trainval/" in run.output, run.output
    assert "license" in run.output and "cannot be downloaded" in run.output
    assert "set LRS3" in run.output


@pytest.mark.slow
def test_stages_1_to_13_and_a_rerun_from_the_statistics(lrs3_tree, tmp_path):
    recipe = stage_recipe(tmp_path, "lrs3_ddp")
    env = recipe_env(LRS3=str(lrs3_tree.root))
    args = tiny_run_args(tmp_path / "conf")
    run = run_recipe(recipe, args, env)
    assert run.returncode == 0, run.report(recipe)
    exp = recipe / "exp" / "asr_train_tiny_raw_en_char"
    rows = wer_rows((exp / "RESULTS.md").read_text())
    assert list(rows) == ["test"] and rows["test"][0] == "6"
    n_train = len(DataDir.read(recipe / "data" / "train").wav)
    epoch2 = json.loads((exp / "data_pruning" / "epoch2.json").read_text())
    assert epoch2["total_utterances"] == n_train
    assert epoch2["kept_utterances"] == int(0.7 * n_train + 0.5)
    run = run_recipe(recipe, [*args, "--stage", "10", "--stop_stage", "10"], env)
    assert run.returncode == 0, run.report(recipe)
