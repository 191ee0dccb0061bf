"""Our ``asr.sh`` accepts every option of ESPnet's ``egs2/TEMPLATE/asr1/asr.sh``.

``data/espnet_asr_sh_options.txt`` holds ESPnet's option names. Each one parses here; the ones
this driver does not implement stop before stage 1, naming the option, when given a value other
than ESPnet's default (``docs/ASR_SH_OPTIONS.md``). ``stock_option_sets/*.txt`` are option lists
modelled on stock ESPnet ``run.sh`` files, each with the outcome it must have (``# expect:``).

The recipe here is a bare one (links to the TEMPLATE, a ``local/data.sh`` that leaves a marker
and fails), so a stage that ran by mistake shows. Time budget: about 10 s in all on 2 shared cores
(every asr.sh call stops before its first stage).
"""

from __future__ import annotations

import os
import shlex
import subprocess
from pathlib import Path

import pytest

from recipes.corpora import REPO, bare_recipe, recipe_env

HERE = Path(__file__).resolve().parent
TEMPLATE = REPO / "egs2" / "TEMPLATE" / "asr1"
OPTION_SETS = sorted((HERE / "stock_option_sets").glob("*.txt"))
NO_STAGE = ["--stage", "14", "--stop_stage", "13"]  # every check runs, no stage does
SETS = ["--train_set", "train", "--valid_set", "dev", "--test_sets", "test"]

# ESPnet's default of each option (what its asr.sh sets before parsing).
ESPNET_DEFAULTS = {
    "stage": "1", "stop_stage": "10000", "skip_data_prep": "false", "skip_train": "false",
    "skip_eval": "false", "skip_upload": "true", "skip_upload_hf": "true", "ngpu": "1",
    "num_nodes": "1", "nj": "32", "inference_nj": "32", "gpu_inference": "false",
    "dumpdir": "dump", "expdir": "exp", "python": "python3", "debug": "false",
    "local_data_opts": "", "speed_perturb_factors": "", "feats_type": "raw",
    "audio_format": "flac", "fs": "16k", "min_wav_duration": "0.1", "max_wav_duration": "20",
    "token_type": "bpe", "nbpe": "30", "bpemode": "unigram", "oov": "<unk>", "blank": "<blank>",
    "sos_eos": "<sos/eos>", "bpe_input_sentence_size": "100000000", "bpe_nlsyms": "",
    "bpe_char_cover": "1.0", "hugging_face_model_name_or_path": "", "use_ngram": "false",
    "ngram_exp": "", "ngram_num": "3", "use_lm": "true", "lm_tag": "", "lm_exp": "",
    "lm_stats_dir": "", "lm_config": "", "lm_args": "", "use_word_lm": "false",
    "num_splits_lm": "1", "word_vocab_size": "10000", "asr_task": "asr", "asr_tag": "",
    "asr_exp": "", "asr_stats_dir": "", "asr_config": "", "asr_args": "", "pretrained_model": "",
    "ignore_init_mismatch": "false", "feats_normalize": "global_mvn", "num_splits_asr": "1",
    "num_ref": "1", "num_inf": "", "hf_repo": "", "use_k2": "false", "k2_ctc_decoding": "true",
    "use_nbest_rescoring": "true", "num_paths": "1000", "nll_batch_size": "100",
    "k2_config": "./conf/decode_asr_transformer_with_k2.yaml", "use_streaming": "false",
    "use_maskctc": "false", "batch_size": "1", "inference_tag": "", "inference_config": "",
    "inference_args": "", "inference_lm": "valid.loss.ave.pth", "inference_ngram": "3gram.bin",
    "inference_asr_model": "valid.acc.ave.pth", "download_model": "", "train_set": "",
    "valid_set": "", "test_sets": "", "bpe_train_text": "", "lm_train_text": "",
    "lm_dev_text": "", "lm_test_text": "", "nlsyms_txt": "none", "cleaner": "none", "g2p": "none",
    "lang": "noinfo", "score_opts": "", "local_score_opts": "", "asr_speech_fold_length": "800",
    "asr_text_fold_length": "150", "lm_fold_length": "150",
}  # fmt: skip

# The options accepted at ESPnet's default only, each with a value that must stop asr.sh.
NOT_HONOURED = {
    "skip_upload": "false", "skip_upload_hf": "false", "hf_repo": "me/model", "debug": "true",
    "hugging_face_model_name_or_path": "bert-base", "use_ngram": "true", "ngram_exp": "exp/ng",
    "ngram_num": "4", "inference_ngram": "4gram.bin", "use_word_lm": "true", "num_splits_lm": "2",
    "num_splits_asr": "4", "asr_task": "asr_transducer", "num_ref": "2", "num_inf": "2",
    "use_k2": "true", "k2_ctc_decoding": "false", "use_nbest_rescoring": "false",
    "num_paths": "500", "nll_batch_size": "50", "k2_config": "conf/k2.yaml",
    "use_streaming": "true", "use_maskctc": "true", "download_model": "kamo/some_model",
    "g2p": "g2p_en",
}  # fmt: skip


def espnet_option_names() -> list[str]:
    lines = (HERE / "data" / "espnet_asr_sh_options.txt").read_text().splitlines()
    return [n.strip() for n in lines if n.strip() and not n.startswith("#")]


@pytest.fixture(scope="module")
def recipe(tmp_path_factory) -> Path:
    """A bare recipe folder (corpora.bare_recipe) with data/nlsyms.txt."""
    d = bare_recipe(tmp_path_factory.mktemp("bare") / "asr1")
    (d / "data").mkdir()
    (d / "data" / "nlsyms.txt").write_text("<NOISE>\n")
    return d


def asr_sh(recipe: Path, *args: str) -> subprocess.CompletedProcess:
    proc = subprocess.run(["./asr.sh", *args], cwd=recipe, env=recipe_env(), text=True,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)  # fmt: skip
    assert not (recipe / "stage1_ran").exists(), proc.stdout
    return proc


def test_the_defaults_table_covers_espnets_option_names():
    names = espnet_option_names()
    assert len(names) == len(set(names)) == 90
    assert set(names) == set(ESPNET_DEFAULTS)
    assert set(NOT_HONOURED) < set(names)


def test_our_defaults_are_espnets():
    """Each option's default in our asr.sh is ESPnet's (the value assigned before parsing)."""
    text = (TEMPLATE / "asr.sh").read_text()
    ours = {}
    for line in text.split("help_message=", 1)[0].splitlines():
        name, eq, value = line.partition("=")
        if eq and name.isidentifier():
            words = shlex.split(value, comments=True)
            ours[name] = words[0] if words else ""
    ours["inference_ngram"] = ours["inference_ngram"].replace("${ngram_num}", ours["ngram_num"])
    assert {n: ours.get(n) for n in ESPNET_DEFAULTS} == ESPNET_DEFAULTS


def test_every_espnet_option_parses_at_its_default(recipe):
    """One call with all 90 options at ESPnet's defaults (then the data sets, and no stage)."""
    args = [a for name, value in ESPNET_DEFAULTS.items() for a in (f"--{name}", value)]
    proc = asr_sh(recipe, *args, *SETS, *NO_STAGE)
    assert proc.returncode == 0, proc.stdout
    assert "Successfully finished" in proc.stdout
    assert "asr_exp=exp/asr_train_raw_bpe30 asr_stats_dir=exp/asr_stats_raw_bpe30 " in proc.stdout
    assert "token_list=data/token_list/bpe_unigram30/tokens.txt" in proc.stdout  # lang noinfo


@pytest.mark.parametrize(("name", "value"), sorted(NOT_HONOURED.items()))
def test_a_not_honoured_option_stops_before_stage_1_naming_it(recipe, name, value):
    proc = asr_sh(recipe, f"--{name}", value, *SETS)
    assert proc.returncode != 0
    expected = f"--{name} {value}: not supported by this asr.sh ("
    assert expected in proc.stdout, proc.stdout
    assert f"only ESPnet's default '{ESPNET_DEFAULTS[name]}' is accepted" in proc.stdout
    assert "Stage 1" not in proc.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--feats_type", "fbank_pitch"], "--feats_type fbank_pitch: not supported by this asr.sh"),
        (["--feats_type", "extracted"], "--feats_type extracted: not supported by this asr.sh"),
        (["--token_type", "phn"], "--token_type must be bpe, char or word: phn"),
        (["--audio_format", "mp3"], "--audio_format must be flac, wav, flac.ark or wav.ark: mp3"),
        (["--use_lm", "yes"], "--use_lm must be true or false: yes"),
        (["--lm_fold_length", "0"], "--lm_fold_length must be a positive integer: 0"),
        (["--bpe_char_cover", "1.5"], "--bpe_char_cover must be a number in (0, 1]: 1.5"),
        (["--stage", "5", "--nlsyms_txt", "data/missing.txt"],
         "--nlsyms_txt data/missing.txt: no such file (needed by stages 5-13)"),
        (["--stage", "13", "--local_score_opts", "--x 1"],
         "--local_score_opts '--x 1' given, but this recipe has no local/score.sh"),
        (["--stage", "13", "--score_opts", "-s", "--scorer", "python"],
         "--score_opts '-s' are sclite options: not with --scorer python"),
        (["--audio_format", "flac.ark", "--eval_sample_rates", "8000"],
         "--eval_sample_rates needs audio files in dump/raw: use --audio_format flac or wav"),
    ],
)  # fmt: skip
def test_bad_values_of_honoured_options_stop_before_stage_1(recipe, args, message):
    proc = asr_sh(recipe, *args, *SETS)
    assert proc.returncode != 0
    assert message in proc.stdout, proc.stdout
    assert "Stage 1" not in proc.stdout and "Stage 5" not in proc.stdout


def test_lang_names_the_directories_as_espnet_does(recipe):
    proc = asr_sh(recipe, "--lang", "en", "--token_type", "char", "--use_lm", "true",
                  "--lm_config", "conf/train_lm.yaml", *SETS, *NO_STAGE)  # fmt: skip
    assert proc.returncode == 0, proc.stdout
    out = proc.stdout
    assert "asr_exp=exp/asr_train_raw_en_char asr_stats_dir=exp/asr_stats_raw_en_char " in out
    assert "token_list=data/en_token_list/char/tokens.txt" in proc.stdout


def read_option_set(path: Path) -> tuple[str, list[str]]:
    """(expected outcome, options) of a stock option set file."""
    lines = path.read_text().splitlines()
    expect = next(line.split(":", 1)[1].strip() for line in lines if line.startswith("# expect:"))
    words = shlex.split(" ".join(line for line in lines if not line.startswith("#")))
    return expect, words


def test_there_are_stock_option_sets():
    assert len(OPTION_SETS) >= 8
    names = {p.stem for p in OPTION_SETS}
    assert {"librispeech_100", "tedlium2", "wsj", "aishell", "an4", "commonvoice"} <= names


@pytest.mark.parametrize("path", OPTION_SETS, ids=[p.stem for p in OPTION_SETS])
def test_a_stock_option_set_passes_the_checks_or_names_the_option(recipe, path):
    expect, words = read_option_set(path)
    assert len(words) % 2 == 0 and all(w.startswith("--") for w in words[::2]), words
    names = {w[2:] for w in words[::2]}
    assert names <= set(ESPNET_DEFAULTS), names - set(ESPNET_DEFAULTS)  # stock options only
    proc = asr_sh(recipe, *words, *NO_STAGE)
    if expect == "ok":
        assert proc.returncode == 0, proc.stdout
        assert "Successfully finished" in proc.stdout
    else:
        assert proc.returncode != 0
        assert expect in proc.stdout, proc.stdout
    assert "Stage " not in proc.stdout


def test_our_recipes_pass_use_lm_false_and_lang_en():
    """ESPnet's defaults are use_lm true and lang noinfo; our recipes train no LM and keep the
    en names of their directories."""
    for run_sh in sorted((REPO / "egs2").glob("*/asr1/run.sh")):
        text = run_sh.read_text()
        assert "--use_lm false" in text, run_sh
        assert "--lang en" in text, run_sh
    assert os.access(TEMPLATE / "asr.sh", os.X_OK)
