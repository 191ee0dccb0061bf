"""The synthesized corpus's sets: the in-domain test set (training voices, held-out sentences),
the held-out-voice sets chosen by name, and sentences read from a file; nothing synthesized
(the sentence and voice plan only, so no espeak-ng is needed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from espnet_ddp.tools import synth_corpus
from espnet_ddp.tools.synth_corpus import INDOMAIN, TEST_VOICES, TRAIN_VOICES, sentence_pool


def planned_sets(monkeypatch, tmp_path: Path, *argv: str) -> dict[str, list]:
    """Run synth_corpus with synthesis and writing stubbed: set name -> its jobs."""
    seen: dict[str, list] = {}
    real_plan = synth_corpus.plan

    def plan(name, voices, sentences, wav_dir, seed):
        seen[name] = real_plan(name, voices, sentences, wav_dir, seed)
        return seen[name]

    monkeypatch.setattr(synth_corpus, "plan", plan)
    monkeypatch.setattr(synth_corpus, "synthesize", lambda job, fs: None)
    monkeypatch.setattr(synth_corpus.shutil, "which", lambda b: "/usr/bin/" + b)
    monkeypatch.setattr(synth_corpus.soundfile, "info", lambda p: type("I", (), {"duration": 1.0}))
    rc = synth_corpus.main(["--wav_dir", str(tmp_path / "wav"), "--data_root",
                            str(tmp_path / "data"), *argv])  # fmt: skip
    assert rc == 0
    return seen


def test_the_indomain_set_has_training_voices_and_held_out_sentences(monkeypatch, tmp_path):
    sets = planned_sets(monkeypatch, tmp_path, "--num_train", "40", "--num_dev", "10",
                        "--num_test", "5", "--num_test_indomain", "20")  # fmt: skip
    assert list(sets) == ["train", "dev", "test_espeak", "test_flite", INDOMAIN]
    assert len(sets[INDOMAIN]) == 20
    assert {j.voice for j in sets[INDOMAIN]} <= set(TRAIN_VOICES)
    texts = {name: {j.text for j in jobs} for name, jobs in sets.items()}
    for name in texts:
        if name != INDOMAIN:
            assert not texts[INDOMAIN] & texts[name], name  # no sentence shared with any set
    assert {j.voice for j in sets["test_flite"]} == set(TEST_VOICES["test_flite"])
    assert (tmp_path / "data" / INDOMAIN / "text").read_text().count("\n") == 20


def test_adding_the_indomain_set_leaves_the_other_sets_unchanged(monkeypatch, tmp_path):
    argv = ["--num_train", "30", "--num_dev", "5", "--num_test", "4"]
    without = planned_sets(monkeypatch, tmp_path / "a", *argv)
    with_it = planned_sets(monkeypatch, tmp_path / "b", *argv, "--num_test_indomain", "6")
    for name in ("train", "dev", "test_espeak", "test_flite"):
        assert [(j.utt, j.text) for j in without[name]] == [(j.utt, j.text) for j in with_it[name]]


def test_held_out_sets_are_chosen_by_name(monkeypatch, tmp_path):
    sets = planned_sets(monkeypatch, tmp_path, "--num_train", "20", "--num_dev", "4",
                        "--num_test", "3", "--heldout_sets", "test_espeak")  # fmt: skip
    assert list(sets) == ["train", "dev", "test_espeak"]
    assert not (tmp_path / "data" / "test_flite").exists()


def test_sentences_from_a_file_are_deduplicated_shuffled_by_seed_and_counted(tmp_path):
    f = tmp_path / "s.txt"
    f.write_text("the cat sat\nThe  cat sat\n\na dog ran\nbirds fly high\n")
    pool = sentence_pool(3, seed=0, sentence_file=f)
    assert sorted(pool) == ["A DOG RAN", "BIRDS FLY HIGH", "THE CAT SAT"]
    assert sentence_pool(3, seed=0, sentence_file=f) == pool
    assert any(sentence_pool(3, seed=s, sentence_file=f) != pool for s in range(1, 6))
    with pytest.raises(ValueError, match=r"s\.txt: 3 distinct sentences, 4 needed"):
        sentence_pool(4, seed=0, sentence_file=f)


def test_a_short_sentence_file_is_a_clear_error(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(synth_corpus.shutil, "which", lambda b: "/usr/bin/" + b)
    f = tmp_path / "few.txt"
    f.write_text("one sentence\n")
    rc = synth_corpus.main(["--wav_dir", str(tmp_path / "w"), "--data_root", str(tmp_path / "d"),
                            "--num_train", "5", "--sentences", str(f)])  # fmt: skip
    assert rc == 1
    assert "synth_corpus: --sentences:" in capsys.readouterr().err


SHARED = Path(__file__).resolve().parents[3] / "shared" / "data" / "text" / "sentences.txt"


@pytest.mark.skipif(not SHARED.is_file(), reason="../shared/data/text/sentences.txt is absent "
                    "(a fresh clone has no ../shared)")  # fmt: skip
def test_the_shared_sentence_file_gives_a_realistic_vocabulary():
    pool = sentence_pool(3000, seed=0, sentence_file=SHARED)
    words = {w for s in pool for w in s.split()}
    assert len(pool) == 3000 and len(words) > 3000  # the grammar has about 200 words
