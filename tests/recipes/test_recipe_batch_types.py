"""Every ESPnet ``batch_type`` through ``asr.sh`` stages 11-13 (training with the plugin's
iterator, decoding, scoring), on the tiny LibriSpeech tree. Stages 1-10 run once and their
statistics are shared; each batch type trains a tiny model for one epoch, decodes and scores.

``folded`` (ESPnet's default) needs ``--fold_length`` per shape file, which ``asr.sh`` must pass as
ESPnet's own ``asr.sh`` does (``--asr_speech_fold_length`` x 100 for raw audio, then
``--asr_text_fold_length``)."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
import yaml
from espnet2.samplers.build_batch_sampler import build_batch_sampler
from plugin.corpus import TINY_CONFORMER

from recipes.corpora import (
    LibriSpeechTree,
    Run,
    recipe_env,
    run_recipe,
    stage_recipe,
    tiny_run_args,
    wer_rows,
)

# Every batch type ESPnet offers, through stages 11-13 (folded is ESPnet's default, numel the
# recipes'); stages 1-10 are shared by all of them.
BATCH_TYPES = ["folded", "numel", "length", "sorted", "unsorted"]
BATCH_SIZE = 4  # folded, sorted, unsorted
BATCH_BINS = 150000  # numel, length
TRAIN_UTTS = 24
# One epoch, no instance warm-up: no utterance has a score yet, so all are kept, and every one is
# shortened by 30% before batching (batches are sized by the fed lengths).
PLUGIN_KEYS = """\
max_epoch: 1
num_att_plot: 0
batch_size: 4
data_pruning: easy2hard
data_pruning_conf:
    keep_ratio: 0.7
    warmup_epochs: 0
time_drop: chunk
time_drop_conf:
    drop_ratio: 0.3
    chunk_ms: 20
"""


def train_config(batch_type: str) -> str:
    """The tiny conformer with ``batch_type`` (and ``batch_bins`` only for the bins types)."""
    base = TINY_CONFORMER.replace("batch_type: numel\n", "").replace("batch_bins: 150000\n", "")
    assert "batch_type" not in base and "batch_bins" not in base
    lines = [] if batch_type == "folded" else [f"batch_type: {batch_type}"]  # folded: the default
    if batch_type in ("numel", "length"):
        lines.append(f"batch_bins: {BATCH_BINS}")
    return base + PLUGIN_KEYS + "".join(f"{line}\n" for line in lines)


@pytest.fixture(scope="module")
def prepared(librispeech_tree: LibriSpeechTree, tmp_path_factory):
    """Stages 1-10 once: data, char tokens, statistics. Returns (recipe, env, args, conf dir)."""
    tmp = tmp_path_factory.mktemp("batch_types")
    recipe = stage_recipe(tmp, "librispeech_ddp")
    env = recipe_env(LIBRISPEECH=str(librispeech_tree.root))
    conf = tmp / "conf"
    args = [*tiny_run_args(conf), "--valid_set", "dev_clean", "--test_sets", "test_clean",
            "--inference_nj", "1", "--nj", "2"]  # fmt: skip
    run = run_recipe(recipe, [*args, "--stop_stage", "10"], env)
    assert run.returncode == 0, run.report(recipe)
    return recipe, env, args, conf


@pytest.fixture(scope="module")
def trained(prepared):
    """trained(batch_type) -> (experiment dir, Run of stages 11-13), run once per batch type."""
    recipe, env, args, conf = prepared
    runs: dict[str, tuple[Path, Run]] = {}

    def train(batch_type: str) -> tuple[Path, Run]:
        if batch_type not in runs:
            config = conf / f"train_{batch_type}.yaml"
            config.write_text(train_config(batch_type))
            stage = ["--stage", "11", "--stop_stage", "13", "--asr_config", str(config)]
            run = run_recipe(recipe, [*args, *stage], env, timeout=600)
            assert run.returncode == 0, run.report(recipe)
            runs[batch_type] = (recipe / "exp" / f"asr_train_{batch_type}_raw_en_char", run)
        return runs[batch_type]

    return train


def expected_batches(batch_type: str, n_keys: int, tmp: Path) -> int | None:
    """Batches of ESPnet's sampler over ``n_keys`` utterances where the count does not depend on
    their lengths (sorted, unsorted)."""
    if batch_type not in ("sorted", "unsorted"):
        return None
    shape = tmp / "keys_shape"
    shape.write_text("".join(f"utt{k:03d} 1\n" for k in range(n_keys)))
    sampler = build_batch_sampler(
        type=batch_type, batch_size=BATCH_SIZE, batch_bins=0, shape_files=[str(shape)]
    )
    return len(list(sampler))


# folded (ESPnet's default, the one that needs --fold_length) and numel (the recipes') in the
# default suite, about 35 s each on 2 idle cores; the other three behind -m slow (their batches
# equal ESPnet's samplers' in tests/plugin/test_epoch_batches.py without a recipe run).
DEFAULT_TYPES = ("folded", "numel")


@pytest.mark.parametrize(
    "batch_type",
    [t if t in DEFAULT_TYPES else pytest.param(t, marks=pytest.mark.slow) for t in BATCH_TYPES],
)
def test_stages_11_to_13_with_every_batch_type(trained, batch_type, tmp_path):
    exp, _ = trained(batch_type)
    config = yaml.safe_load((exp / "config.yaml").read_text())
    assert config["batch_type"] == batch_type
    assert config["fold_length"] == [80000, 150]  # 800 frames x 100 samples, 150 tokens
    record = json.loads((exp / "data_pruning" / "epoch1.json").read_text())
    assert record["kept_utterances"] == TRAIN_UTTS
    assert record["fed_seconds"] < 0.75 * record["kept_seconds"]  # batched at dropped lengths
    want = expected_batches(batch_type, record["kept_utterances"], tmp_path)
    if want is not None:
        assert record["num_batches"] == want == 6
    else:
        assert record["num_batches"] >= 1
    assert "The training was finished at 1 epochs" in (exp / "train.log").read_text()
    rows = wer_rows((exp / "RESULTS.md").read_text())
    assert list(rows) == ["test_clean"] and rows["test_clean"][0] == "4"


def test_training_job_gets_the_cores_as_omp_threads(trained):
    """One CPU training process: OMP_NUM_THREADS is this machine's core count (path.sh's 1 is
    for the parallel data jobs)."""
    exp, _ = trained("numel")
    first = (exp / "train.log").read_text().splitlines()[0]
    assert f"env OMP_NUM_THREADS={len(os.sched_getaffinity(0))} " in first, first


def test_cpu_training_decodes_on_cpu_when_gpu_inference_is_asked(prepared, trained):
    """``--ngpu 0 --gpu_inference true`` without CUDA: a warning, then stage 12 on the CPU."""
    recipe, env, args, _ = prepared
    exp, _ = trained("numel")
    config = ["--asr_config", str(prepared[3] / "train_numel.yaml")]
    stage = ["--stage", "12", "--stop_stage", "12", "--gpu_inference", "true"]
    run = run_recipe(recipe, [*args, *config, *stage], dict(env, CUDA_VISIBLE_DEVICES=""))
    assert run.returncode == 0, run.report(recipe)
    assert re.search(r"WARNING: --gpu_inference true but CUDA is not available.*on the CPU",
                     run.output), run.output  # fmt: skip
    logs = sorted(exp.glob("decode_*/test_clean/logdir/asr_inference.*.log"))
    assert logs and all("--ngpu 0 " in log.read_text().splitlines()[0] for log in logs)
    hyps = next(exp.glob("decode_*/test_clean/text")).read_text().splitlines()
    assert len(hyps) == 4
