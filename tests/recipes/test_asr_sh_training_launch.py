"""How ``asr.sh`` stage 11 starts training: ESPnet's launcher for ``--ngpu N`` (one process that
spawns a process per GPU), torchrun for ``--ngpu 0 --num_procs N`` (gloo), the ``--fold_length``
pairs, and the OMP_NUM_THREADS each training process gets (``--train_omp_threads``).

The training module is a stand-in (``--train_module``) that records its arguments and environment,
so the real launch commands run on a machine without GPUs in a second or two."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from recipes.corpora import recipe_env, run_recipe, stage_recipe

CORES = len(os.sched_getaffinity(0))  # what nproc reports
RECORDER = """\
import json, os, sys
from pathlib import Path

out = Path(sys.argv[sys.argv.index("--output_dir") + 1])
out.mkdir(parents=True, exist_ok=True)
record = {k: os.environ.get(k) for k in ("OMP_NUM_THREADS", "RANK", "WORLD_SIZE")}
record["argv"] = sys.argv[1:]
(out / f"record.{os.environ.get('RANK', 'none')}.json").write_text(json.dumps(record))
"""


@pytest.fixture
def recipe(tmp_path):
    """The librispeech recipe with fake statistics and the recording training module."""
    recipe = stage_recipe(tmp_path, "librispeech_ddp")
    stats = recipe / "exp" / "stats" / "train"
    stats.mkdir(parents=True)
    (stats / "feats_stats.npz").write_bytes(b"")
    (tmp_path / "mods").mkdir()
    (tmp_path / "mods" / "record_train.py").write_text(RECORDER)
    return recipe


def stage11(recipe: Path, *args: str):
    """./run.sh --stage 11 --stop_stage 11 with the recorder; returns (Run, records by rank)."""
    env = recipe_env(PYTHONPATH=str(recipe.parents[2] / "mods"))
    opts = ["--stage", "11", "--stop_stage", "11", "--token_type", "char",
            "--speed_perturb_factors", "", "--asr_stats_dir", "exp/stats", "--asr_exp", "exp/rec",
            "--train_module", "record_train", "--asr_args", "--seed 3", *args]  # fmt: skip
    run = run_recipe(recipe, opts, env, timeout=300)
    records = {}
    for path in sorted((recipe / "exp" / "rec").glob("record.*.json")):
        record = json.loads(path.read_text())
        records[record["RANK"]] = record
    return run, records


def values_of(argv: list[str], option: str) -> list[str]:
    return [argv[i + 1] for i, a in enumerate(argv) if a == option]


def test_ngpu_n_goes_through_espnets_launcher(recipe):
    """``--ngpu 2``: ESPnet's launcher runs the module once with ``--ngpu 2
    --multiprocessing_distributed True`` (ESPnet then spawns one process per GPU), and the two
    processes share the cores."""
    run, records = stage11(recipe, "--ngpu", "2")
    assert run.returncode == 0, run.output
    assert list(records) == [None]  # one process, not started by torchrun
    argv = records[None]["argv"]
    assert argv[-4:] == ["--ngpu", "2", "--multiprocessing_distributed", "True"]
    assert records[None]["OMP_NUM_THREADS"] == str(max(1, CORES // 2))
    first = (recipe / "exp" / "rec" / "train.log").read_text().splitlines()[0]
    assert first.startswith(f"# env OMP_NUM_THREADS={max(1, CORES // 2)} python3 -m record_train ")
    assert argv[argv.index("--seed") + 1] == "3"  # --asr_args come last, before the launcher's


def test_shape_files_get_one_fold_length_each(recipe):
    run, records = stage11(recipe, "--ngpu", "0", "--asr_speech_fold_length", "500")
    assert run.returncode == 0, run.output
    argv = records[None]["argv"]
    assert values_of(argv, "--train_shape_file") == [
        "exp/stats/train/speech_shape", "exp/stats/train/text_shape.char"
    ]  # fmt: skip
    assert values_of(argv, "--fold_length") == ["50000", "150"]  # 500 frames as samples, tokens


def test_cpu_ranks_go_through_torchrun_and_share_the_cores(recipe):
    run, records = stage11(recipe, "--ngpu", "0", "--num_procs", "2")
    assert run.returncode == 0, run.output
    assert sorted(records) == ["0", "1"]
    for record in records.values():
        assert record["WORLD_SIZE"] == "2"
        assert record["OMP_NUM_THREADS"] == str(max(1, CORES // 2))
        argv = record["argv"]
        assert values_of(argv, "--dist_backend") == ["gloo"]
        assert values_of(argv, "--ngpu") == ["0"]
        assert values_of(argv, "--multiprocessing_distributed") == ["false"]


@pytest.mark.parametrize(
    ("args", "threads"),
    [(["--ngpu", "0"], CORES), (["--ngpu", "1"], CORES),
     (["--ngpu", "0", "--train_omp_threads", "3"], 3)],
)  # fmt: skip
def test_one_training_process_gets_every_core(recipe, args, threads):
    run, records = stage11(recipe, *args)
    assert run.returncode == 0, run.output
    assert records[None]["OMP_NUM_THREADS"] == str(threads)
    assert f"OMP_NUM_THREADS={threads} each" in run.output


def test_bad_thread_count_is_refused_before_any_stage(recipe):
    run, records = stage11(recipe, "--train_omp_threads", "0")
    assert run.returncode != 0
    assert "--train_omp_threads must be auto or a positive integer: 0" in run.output
    assert "Stage 11" not in run.output and not records


def test_cooldown_budgets_train_the_long_wsd_run_then_its_branches(recipe):
    run, records = stage11(recipe, "--cooldown_budgets", "0.3 0.5", "--cooldown_decay_share",
                           "0.25")  # fmt: skip
    argv = records[None]["argv"]
    assert values_of(argv, "--lr_fit") == ["wsd"]
    assert values_of(argv, "--lr_fit_conf") == ["decay_share=0.25", "branch_budgets=[0.3,0.5]"]
    # then the branch command runs on the experiment: the recorder wrote no config.yaml, so it
    # stops, naming the file, and stage 11 fails showing the end of its log
    assert run.returncode != 0
    log = (recipe / "exp" / "rec" / "cooldown_branches.log").read_text()
    assert "espnet_ddp.tools.cooldown_branch exp/rec --budgets 0.3 0.5" in log
    assert "exp/rec/config.yaml: not found" in log
    assert "last lines of exp/rec/cooldown_branches.log" in run.output
