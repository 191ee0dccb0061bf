"""The mini recipe (``egs2/mini_ddp/asr1/run.sh``, what ``make demo`` runs), shrunk to a few
dozen utterances and four epochs (InfoBatch: one warm-up, one pruned, two annealing): stages
1-13 for its three experiments, the comparison table with the frontier, and a rerun from
statistics (``--stage 10``)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
EXPERIMENTS = [
    "asr_train_asr_budget1.0", "asr_train_asr_budget0.7", "asr_train_asr_ddp_recommended"
]
TEST_SETS = ["test_espeak", "test_flite"]
SHRINK = [
    "--local_data_opts", "--num_train 48 --num_dev 8 --num_test 6",
    "--asr_args", "--max_epoch 4 --num_workers 0",
    "--inference_args", "--beam_size 2",
    "--inference_nj", "1",  # 6 utterances a set: one decoding process each
]  # fmt: skip


def recipe_copy(root: Path) -> Path:
    """``root/egs2/mini_ddp/asr1``: the recipe's own files, the shared driver linked in."""
    (root / "egs2").mkdir(parents=True)
    (root / "egs2" / "TEMPLATE").symlink_to(REPO / "egs2" / "TEMPLATE")
    recipe = root / "egs2" / "mini_ddp" / "asr1"
    shutil.copytree(REPO / "egs2" / "mini_ddp" / "asr1", recipe, symlinks=True,
                    ignore=shutil.ignore_patterns("data", "dump", "exp", "downloads"))  # fmt: skip
    return recipe


def run_recipe(recipe: Path, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}")
    env.pop("VIRTUAL_ENV", None)
    return subprocess.run(
        ["./run.sh", *SHRINK, *args], cwd=recipe, env=env, capture_output=True, text=True,
        timeout=900,
    )  # fmt: skip


@pytest.fixture(scope="module")
def mini_run(tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess]:
    for tool in ("espeak-ng", "flite"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed (apt-get install {tool})")
    recipe = recipe_copy(tmp_path_factory.mktemp("mini"))
    proc = run_recipe(recipe)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return recipe, proc


def test_every_experiment_scores_every_test_set(mini_run):
    recipe, _ = mini_run
    for name in EXPERIMENTS:
        results = (recipe / "exp" / name / "RESULTS.md").read_text()
        for test_set in TEST_SETS:
            assert re.search(rf"^\|\S*/{test_set}\|\d+\|\d+\|", results, re.M), results


def test_comparison_table_has_the_budgets_the_pruned_run_and_the_frontier(mini_run):
    recipe, proc = mini_run
    table = (recipe / "exp" / "COMPARISON.md").read_text()
    assert table in proc.stdout
    cmp = json.loads((recipe / "exp" / "comparison.json").read_text())
    rows = cmp["table"]["rows"]
    assert len(rows) == 3
    columns = cmp["table"]["columns"]
    speed = columns.index(next(c for c in columns if c.lower().startswith("speed")))
    assert rows[0][speed].startswith("1.00")
    # the budget runs make the curve (here, with --max_epoch 4 for all, one configuration of two
    # runs); the pruned run, not on it, gets its ratio or "not bracketed"
    assert "## The frontier" in table
    points = cmp["frontier"]["acc_curve"]["points"]
    assert len(points) == 1 and points[0]["seeds"] == 2, points
    ratio = columns.index("frontier ratio")
    assert rows[0][ratio] == rows[1][ratio] == "on the curve"
    assert re.fullmatch(r"\d+\.\d\d|not bracketed \((below|above)\)", rows[2][ratio]), rows[2]
    # the recommended run (InfoBatch) pruned in epoch 2, at full length, and trained all in 3-4
    full, pruned = (recipe / "exp" / n / "data_pruning" for n in (EXPERIMENTS[0], EXPERIMENTS[2]))
    epochs = [json.loads((pruned / f"epoch{e}.json").read_text()) for e in (1, 2, 3, 4)]
    total = epochs[0]["total_utterances"]
    assert [e["kept_utterances"] == total for e in epochs] == [True, False, True, True]
    assert epochs[1]["fed_seconds"] == epochs[1]["kept_seconds"] < epochs[1]["total_seconds"]
    base2 = json.loads((full / "epoch2.json").read_text())
    assert epochs[1]["optimizer_steps"] == epochs[1]["num_batches"] <= base2["optimizer_steps"]
    assert list((recipe / "exp" / "comparison_plots").glob("*.png"))


def test_test_sets_are_rescored_at_other_sampling_rates(mini_run):
    """``--eval_sample_rates 8000``, both modes, for one experiment: stages 12-13 again."""
    recipe, _ = mini_run
    name = EXPERIMENTS[0]
    proc = run_recipe(
        recipe, "--stage", "12", "--asr_configs", "conf/demo/train_asr_budget1.0.yaml",
        "--eval_sample_rates", "8000",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-4000:]
    table = (recipe / "exp" / "COMPARISON.md").read_text()
    for test_set in TEST_SETS:
        part = table.split(f"### WER (%) by evaluation sampling rate: {test_set}")[1]
        for mode in ("asis", "back"):
            assert re.search(rf"^\| {re.escape(name)} \| {mode} \| [\d.]+ \|", part, re.M)
        resampled = recipe / "dump" / "raw" / f"{test_set}_sr8000_asis" / "utt2num_samples"
        original = recipe / "dump" / "raw" / test_set / "utt2num_samples"
        for a, b in zip(original.read_text().split("\n"), resampled.read_text().split("\n")):
            if a:
                assert int(b.split()[1]) == round(int(a.split()[1]) / 2)  # 16 kHz -> 8 kHz


def test_rerun_from_statistics(mini_run):
    recipe, _ = mini_run
    stats = recipe / "exp" / "asr_stats_raw_en_bpe50" / "train" / "feats_stats.npz"
    before = stats.stat().st_mtime_ns
    proc = run_recipe(recipe, "--stage", "10", "--stop_stage", "10")
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert "Stage 10" in proc.stderr and "Stage 1:" not in proc.stderr
    assert stats.stat().st_mtime_ns > before


def test_two_cpu_ranks_through_the_recipe(mini_run):
    """``--ngpu 0 --num_procs 2``: stage 11 under torchrun (gloo), as a multi-GPU run goes through
    torch.distributed; both ranks make the same selection every epoch."""
    recipe, _ = mini_run
    proc = run_recipe(
        recipe, "--stage", "11", "--stop_stage", "11",
        "--asr_configs", "conf/tuning/train_asr_e2h0.7_chunk0.3.yaml", "--expdir", "exp_ddp",
        "--asr_stats_dir", "exp/asr_stats_raw_en_bpe50", "--num_procs", "2",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-4000:]
    exp = recipe / "exp_ddp" / "asr_train_asr_e2h0.7_chunk0.3"
    digests = [(exp / "data_pruning" / f"rank{r}.digests").read_text().split() for r in (0, 1)]
    assert digests[0] == digests[1] and len(digests[0]) == 2 * 4  # "epoch digest" x 4 epochs
    assert "The training was finished at 4 epochs" in (exp / "train.log").read_text()
    epoch2 = json.loads((exp / "data_pruning" / "epoch2.json").read_text())
    assert epoch2["planned_fed_seconds"] == epoch2["fed_seconds"] < 0.75 * epoch2["kept_seconds"]


def test_demo_baseline_is_the_sized_model():
    """conf/train_asr_full.yaml is the model docs/EVIDENCE.md sized for ``make demo`` (trial c2,
    30 epochs, no per-epoch PNGs), and stock ESPnet builds it."""
    import yaml

    from espnet_ddp.espnet.task import PrunedASRTask

    conf = REPO / "egs2" / "mini_ddp" / "asr1" / "conf" / "train_asr_full.yaml"
    c = yaml.safe_load(conf.read_text())
    enc = c["encoder_conf"]
    assert (c["encoder"], enc["output_size"], enc["linear_units"], enc["num_blocks"]) == (
        "conformer", 64, 256, 4
    )
    assert c["frontend_conf"]["n_mels"] == 40 and c["decoder_conf"]["num_blocks"] == 1
    assert (c["batch_type"], c["batch_bins"], c["max_epoch"]) == ("numel", 800000, 30)
    assert c["use_matplotlib"] is False
    args = PrunedASRTask.get_parser().parse_args(["--config", str(conf), "--token_list", "x"])
    args.token_list = ["<blank>", "<unk>", *(f"t{i}" for i in range(47)), "<sos/eos>"]
    model = PrunedASRTask.build_model(args)
    assert model.vocab_size == 50 and model.encoder.output_size() == 64


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--parallel_train", "maybe"], "--parallel_train must be true or false: maybe"),
        (["--asr_configs", "conf/none.yaml"], "no such --asr_configs entry: conf/none.yaml"),
    ],
)
def test_run_sh_refuses_bad_options_before_any_stage(args, message):
    recipe = REPO / "egs2" / "mini_ddp" / "asr1"
    proc = subprocess.run(
        ["./run.sh", *args], cwd=recipe, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 1 and message in proc.stderr
    assert "Stage" not in proc.stderr
