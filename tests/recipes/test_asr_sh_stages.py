"""Real runs of the asr.sh stages that ESPnet's options change, on a few utterances of synthetic
audio in a bare recipe (``corpora.bare_recipe``):

- stage 3 cuts ``segments`` and writes ``flac.ark`` / ``wav.ark`` archives that ESPnet's
  ``kaldi_ark`` loader reads back sample for sample; stages 11-12 then name that data type;
- stage 5 keeps ``--nlsyms_txt`` symbols whole, learns sentencepiece from ``--bpe_train_text``
  with ``--bpe_nlsyms``;
- stage 11 passes the non-linguistic symbols, cleaner, ``--pretrained_model`` and
  ``--ignore_init_mismatch``; stage 12 ``--batch_size``, the audio type and the LM (shallow fusion);
- stage 13 removes the symbols before scoring, passes ``--score_opts`` to sclite and runs
  ``local/score.sh`` with ``--local_score_opts``.

Stages 11 and 12 run stand-ins (a recording training module; a ``--python`` wrapper that records
``espnet2.bin.asr_inference``'s arguments and writes one hypothesis per utterance). Time budget:
10 s measured on 2 shared cores (stage 5's sentencepiece and the Python start-ups dominate). The LM
stages 6-8 with ESPnet's real ``espnet2.bin.lm_train`` are ``slow`` (100 s measured).
"""

from __future__ import annotations

import json
import shlex
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from espnet_ddp.tools.sentences import make_sentences
from recipes.corpora import bare_recipe, recipe_env
from recipes.test_asr_sh_training_launch import RECORDER, values_of

FS = 16000
SETS = ["--train_set", "train", "--valid_set", "dev", "--test_sets", "test"]
# (utterance, start s, end s) of the one 2-second recording of each set
SEGMENTS = [("rec1-a", 0.0, 0.5), ("rec1-b", 0.5, 1.2), ("rec1-c", 1.2, -1)]


def asr_sh(recipe: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    proc = subprocess.run(["./asr.sh", *args, *SETS], cwd=recipe, env=env or recipe_env(),
                          text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          timeout=300)  # fmt: skip
    assert not (recipe / "stage1_ran").exists()
    return proc


def write_segmented_set(d: Path, audio: np.ndarray) -> None:
    d.mkdir(parents=True)
    sf.write(d / "rec1.flac", audio, FS, subtype="PCM_16")
    (d / "wav.scp").write_text(f"rec1 {d / 'rec1.flac'}\n")
    (d / "segments").write_text("".join(f"{u} rec1 {s} {e}\n" for u, s, e in SEGMENTS))
    (d / "text").write_text("".join(f"{u} WORD {k}\n" for k, (u, _, _) in enumerate(SEGMENTS)))
    (d / "utt2spk").write_text("".join(f"{u} rec1\n" for u, _, _ in SEGMENTS))
    (d / "spk2utt").write_text("rec1 " + " ".join(u for u, _, _ in SEGMENTS) + "\n")


@pytest.fixture
def segmented(tmp_path) -> tuple[Path, np.ndarray]:
    """A bare recipe whose data sets are 3 segments of a 2-second recording (16-bit values)."""
    recipe = bare_recipe(tmp_path / "asr1")
    rng = np.random.default_rng(0)
    audio = (rng.integers(-8000, 8000, 2 * FS) / 32768).astype(np.float64)
    for name in ("train", "dev", "test"):
        write_segmented_set(recipe / "data" / name, audio)
    return recipe, audio


@pytest.mark.parametrize("fmt", ["flac.ark", "wav.ark"])
def test_stage_3_cuts_segments_into_an_ark_that_espnets_loader_reads(segmented, fmt):
    from espnet2.train.dataset import kaldi_loader

    recipe, audio = segmented
    run = asr_sh(recipe, "--stage", "3", "--stop_stage", "4", "--audio_format", fmt, "--nj", "2")
    assert run.returncode == 0, run.stdout
    dump = recipe / "dump" / "raw" / "org" / "train"
    lines = (dump / "wav.scp").read_text().splitlines()
    assert [line.split()[0] for line in lines] == [u for u, _, _ in SEGMENTS]
    arks = {line.split()[1].rsplit(":", 1)[0] for line in lines}
    assert arks == {str(dump / "data" / f"format.{j}" / "data_wav.ark") for j in (1, 2)}
    loaded = kaldi_loader(str(dump / "wav.scp"))
    for utt, start, end in SEGMENTS:
        want = audio[int(start * FS) :] if end == -1 else audio[int(start * FS) : int(end * FS)]
        np.testing.assert_array_equal(loaded[utt], want)
    assert (dump / "utt2num_samples").read_text() == "rec1-a 8000\nrec1-b 11200\nrec1-c 12800\n"
    assert (dump / "audio_format").read_text() == f"{fmt}\n"
    first = Path(lines[0].split()[1].rsplit(":", 1)[0]).read_bytes()
    magic = {"flac.ark": b"fLaC", "wav.ark": b"RIFF"}[fmt]
    assert first.startswith(b"rec1-a AUDIO") and magic in first[:24]  # kaldiio's AUDIO record
    assert not (dump / "segments").exists()
    assert (recipe / "dump/raw/train/wav.scp").read_text() == (dump / "wav.scp").read_text()
    assert (recipe / "dump/raw/lm_train.txt").read_text() == (dump / "text").read_text()


def test_stage_2_speed_perturbs_the_recordings_of_segments(segmented):
    recipe, _ = segmented
    run = asr_sh(recipe, "--stage", "2", "--stop_stage", "2", "--speed_perturb_factors", "0.9 1.0")
    assert run.returncode == 0, run.stdout
    sp = recipe / "data" / "train_sp"
    segments = (sp / "segments").read_text().splitlines()
    assert "sp0.9-rec1-b sp0.9-rec1 0.556 1.333" in segments
    assert "rec1-b rec1 0.5 1.2" in segments and "sp0.9-rec1-c sp0.9-rec1 1.333 -1" in segments
    wav = dict(line.split(" ", 1) for line in (sp / "wav.scp").read_text().splitlines())
    assert sorted(wav) == ["rec1", "sp0.9-rec1"] and "speed 0.9 |" in wav["sp0.9-rec1"]


def write_text(path: Path, lines: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"utt{k:03d} {t}\n" for k, t in enumerate(lines)))


def test_stage_5_char_tokens_keep_non_linguistic_symbols_whole(tmp_path):
    recipe = bare_recipe(tmp_path / "asr1")
    (recipe / "data").mkdir()
    (recipe / "data" / "nlsyms.txt").write_text("<NOISE>\n")
    write_text(recipe / "data" / "lm" / "text", ["ab <NOISE> ba", "ab ab"])
    run = asr_sh(recipe, "--stage", "5", "--stop_stage", "5", "--token_type", "char",
                 "--nlsyms_txt", "data/nlsyms.txt", "--lm_train_text", "data/lm/text",
                 "--oov", "<UNK>")  # fmt: skip
    assert run.returncode == 0, run.stdout
    tokens = (recipe / "data/token_list/char/tokens.txt").read_text().split()
    # a and b 4 times each, <space> 3, <NOISE> 1: one token, not its 7 characters
    assert tokens == ["<blank>", "<UNK>", "a", "b", "<space>", "<NOISE>", "<sos/eos>"]


def test_stage_5_bpe_learns_from_bpe_train_text_with_bpe_nlsyms(tmp_path):
    import sentencepiece as spm

    recipe = bare_recipe(tmp_path / "asr1")
    write_text(recipe / "data" / "bpe" / "text", [f"{s} [EN]" for s in make_sentences(60)])
    run = asr_sh(recipe, "--stage", "5", "--stop_stage", "5", "--lang", "en", "--nbpe", "40",
                 "--bpe_train_text", "data/bpe/text", "--bpe_nlsyms", "[EN],[ZH]")  # fmt: skip
    assert run.returncode == 0, run.stdout  # no dump/raw/train/text: the option was used
    d = recipe / "data" / "en_token_list" / "bpe_unigram40"
    tokens = (d / "tokens.txt").read_text().split()
    assert len(tokens) == 40 and tokens[:2] == ["<blank>", "<unk>"] and tokens[-1] == "<sos/eos>"
    assert {"[EN]", "[ZH]"} <= set(tokens)
    sp = spm.SentencePieceProcessor(model_file=str(d / "bpe.model"))
    assert "[EN]" in sp.encode("HELLO [EN]", out_type=str)


@pytest.fixture
def staged_ark(tmp_path) -> Path:
    """A bare recipe with flac.ark dumps, fake statistics and an LM and ASR model file."""
    recipe = bare_recipe(tmp_path / "asr1")
    for name in ("train", "dev", "test"):
        d = recipe / "dump" / "raw" / name
        d.mkdir(parents=True)
        (d / "audio_format").write_text("flac.ark\n")
        (d / "wav.scp").write_text(f"u1 {d}/data_wav.ark:3\nu2 {d}/data_wav.ark:900\n")
        (d / "text").write_text("u1 A <NOISE> B\nu2 C D\n")
        (d / "utt2spk").write_text("u1 s\nu2 s\n")
    (recipe / "data").mkdir()
    (recipe / "data" / "nlsyms.txt").write_text("<NOISE>\n")
    (recipe / "exp" / "stats" / "train").mkdir(parents=True)
    (recipe / "exp" / "stats" / "train" / "feats_stats.npz").write_bytes(b"")
    (recipe / "exp" / "asr").mkdir()
    (recipe / "exp" / "asr" / "valid.acc.ave.pth").write_bytes(b"")
    (recipe / "exp" / "lm").mkdir()
    (recipe / "exp" / "lm" / "lm.best.pth").write_bytes(b"")
    return recipe


def test_stage_11_gets_espnets_tokenizer_and_init_options(staged_ark):
    recipe = staged_ark
    (recipe.parent / "mods").mkdir()
    (recipe.parent / "mods" / "record_train.py").write_text(RECORDER)
    env = recipe_env(PYTHONPATH=str(recipe.parent / "mods"))
    run = asr_sh(recipe, "--stage", "11", "--stop_stage", "11", "--ngpu", "0",
                 "--token_type", "char", "--asr_stats_dir", "exp/stats", "--asr_exp", "exp/asr",
                 "--train_module", "record_train", "--nlsyms_txt", "data/nlsyms.txt",
                 "--cleaner", "tacotron", "--pretrained_model", "exp/x/valid.acc.ave.pth:encoder",
                 "--ignore_init_mismatch", "true", env=env)  # fmt: skip
    assert run.returncode == 0, run.stdout
    argv = json.loads((recipe / "exp" / "asr" / "record.none.json").read_text())["argv"]
    assert values_of(argv, "--non_linguistic_symbols") == ["data/nlsyms.txt"]
    assert values_of(argv, "--cleaner") == ["tacotron"] and values_of(argv, "--g2p") == ["none"]
    assert values_of(argv, "--init_param") == ["exp/x/valid.acc.ave.pth:encoder"]
    assert values_of(argv, "--ignore_init_mismatch") == ["true"]
    assert values_of(argv, "--train_data_path_and_name_and_type") == [
        "dump/raw/train/wav.scp,speech,kaldi_ark", "dump/raw/train/text,text,text"
    ]  # fmt: skip


FAKE_PYTHON = """\
#!/usr/bin/env bash
# Records asr_inference's arguments and writes "<utt> A B" for each key; runs python3 otherwise.
if [ "$1" = -m ] && [ "$2" = espnet2.bin.asr_inference ]; then
    args=("$@")
    for i in "${!args[@]}"; do
        [ "${args[i]}" = --output_dir ] && out="${args[i+1]}"
        [ "${args[i]}" = --key_file ] && keys="${args[i+1]}"
    done
    mkdir -p "${out}/1best_recog"
    printf '%s\\n' "$@" >"${out}/argv"
    awk '{ print $1 " A B" }' "${keys}" >"${out}/1best_recog/text"
    exit 0
fi
exec python3 "$@"
"""


def test_stage_12_decodes_arks_with_the_lm_and_batch_size(staged_ark):
    recipe = staged_ark
    fake = recipe.parent / "fake_python"
    fake.write_text(FAKE_PYTHON)
    fake.chmod(0o755)
    run = asr_sh(recipe, "--stage", "12", "--stop_stage", "12", "--python", str(fake),
                 "--asr_exp", "exp/asr", "--lm_exp", "exp/lm", "--inference_lm", "lm.best.pth",
                 "--use_lm", "true", "--batch_size", "3", "--inference_nj", "1")  # fmt: skip
    assert run.returncode == 0, run.stdout
    out = recipe / "exp" / "asr" / "decode_inference_lm_lm_lm.best_asr_model_valid.acc.ave" / "test"
    argv = (out / "logdir" / "output.1" / "argv").read_text().splitlines()
    assert values_of(argv, "--lm_train_config") == ["exp/lm/config.yaml"]
    assert values_of(argv, "--lm_file") == ["exp/lm/lm.best.pth"]
    assert values_of(argv, "--batch_size") == ["3"]
    data = values_of(argv, "--data_path_and_name_and_type")
    assert data == ["dump/raw/test/wav.scp,speech,kaldi_ark"]
    assert (out / "text").read_text() == "u1 A B\nu2 A B\n"


def test_stage_12_without_the_lm_stops_naming_it(staged_ark):
    run = asr_sh(staged_ark, "--stage", "12", "--stop_stage", "12", "--asr_exp", "exp/asr",
                 "--lm_exp", "exp/lm")  # fmt: skip
    assert run.returncode != 0
    assert "stage 12: --use_lm true but no LM exp/lm/valid.loss.ave.pth" in run.stdout


@pytest.mark.parametrize("scorer", ["python", "sclite"])
def test_stage_13_removes_nlsyms_and_runs_local_score_sh(staged_ark, scorer):
    from espnet_ddp.tools.score_asr import find_sclite

    if scorer == "sclite" and find_sclite() is None:
        pytest.skip("sclite is not installed (apt-get install sctk)")
    recipe = staged_ark
    dec = recipe / "exp" / "asr" / "decode_inference_asr_model_valid.acc.ave" / "test"
    dec.mkdir(parents=True)
    (dec / "text").write_text("u1 A B\nu2 C D\n")
    (recipe / "local" / "score.sh").write_text('#!/usr/bin/env bash\necho "$@" >local_score_args\n')
    (recipe / "local" / "score.sh").chmod(0o755)
    opts = ["--score_opts", "-s"] if scorer == "sclite" else []
    run = asr_sh(recipe, "--stage", "13", "--stop_stage", "13", "--use_lm", "false",
                 "--asr_exp", "exp/asr", "--nlsyms_txt", "data/nlsyms.txt", "--scorer", scorer,
                 "--local_score_opts", "--flag 1", *opts)  # fmt: skip
    assert run.returncode == 0, run.stdout
    for metric in ("wer", "cer"):
        ref = (dec / f"score_{metric}" / "ref.trn").read_text()
        assert "NOISE" not in ref
        result = (dec / f"score_{metric}" / "result.txt").read_text()
        assert "Sum/Avg" in result and " 0.0 " in result.split("Sum/Avg")[1].splitlines()[0]
    assert (recipe / "local_score_args").read_text() == "--flag 1 exp/asr\n"


def test_sclite_gets_the_score_opts(staged_ark, tmp_path):
    from espnet_ddp.tools.score_asr import find_sclite, main

    if find_sclite() is None:
        pytest.skip("sclite is not installed (apt-get install sctk)")
    d = staged_ark / "dump" / "raw" / "test"
    args = [str(d / "text"), str(d / "text"), str(d / "utt2spk"), str(tmp_path / "s")]
    assert main(["--metric", "wer", "--sclite_opts", "-e utf-8", *args]) == 0
    assert main(["--metric", "wer", "--sclite_opts=-s", *args]) == 0  # case-sensitive scoring
    assert main(["--metric", "wer", "--sclite_opts=--no-such-option", *args]) == 1
    assert main(["--metric", "wer", "--scorer", "python", "--sclite_opts", "-e utf-8", *args]) == 1


TINY_LM = """\
lm: seq_rnn
lm_conf:
    unit: 16
    nlayers: 1
max_epoch: 1
batch_type: unsorted
batch_size: 4
num_workers: 0
optim: adam
"""


@pytest.mark.slow
def test_lm_stages_6_to_8_train_espnets_lm_and_compute_its_perplexity(tmp_path):
    """Budget 100 s (measured): espnet2.bin.lm_train for statistics and one epoch, perplexity."""
    recipe = bare_recipe(tmp_path / "asr1")
    sentences = make_sentences(30)
    for name, part in (("train", sentences[:20]), ("dev", sentences[20:25]),
                       ("test", sentences[25:])):  # fmt: skip
        write_text(recipe / "dump" / "raw" / name / "text", part)
    (recipe / "conf").mkdir()
    (recipe / "conf" / "lm.yaml").write_text(TINY_LM)
    # stage 5 writes dump/raw/lm_train.txt from the training text (stage 4 would, with audio)
    run = asr_sh(recipe, "--stage", "5", "--stop_stage", "8", "--token_type", "char",
                 "--ngpu", "0", "--nj", "2", "--lm_config", "conf/lm.yaml",
                 "--inference_lm", "1epoch.pth", "--lm_fold_length", "100")  # fmt: skip
    assert run.returncode == 0, run.stdout
    lm_exp = recipe / "exp" / "lm_lm_char"
    assert (recipe / "exp" / "lm_stats_char" / "train" / "text_shape.char").is_file()
    argv = shlex.split((lm_exp / "train.log").read_text().splitlines()[0].lstrip("# "))
    assert values_of(argv, "--fold_length") == ["100"]
    ppl = float((lm_exp / "perplexity_test" / "ppl").read_text())
    assert 1.0 < ppl < 100.0  # 1 epoch on 20 sentences: above 1, below uniform over ~30 chars
    assert "perplexity of dump/raw/test/text: " in run.stdout


def test_stage_1_checks_the_recordings_of_segments(segmented):
    from espnet_ddp.tools.validate_data_dir import main

    recipe, _ = segmented
    d = recipe / "data" / "train"
    assert main(["--no_audio", str(d)]) == 0
    (d / "segments").write_text("rec1-a rec1 0 0.5\nrec1-b rec2 0.5 1.2\nrec1-c rec1 1.2 -1\n")
    assert main(["--no_audio", str(d)]) == 1  # rec2 is not in wav.scp: rec1-b has no audio
