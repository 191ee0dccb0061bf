"""bench/gpu --sweep: the variant list (candidates, budget baseline, fitted twins), the options it
generates, the checks before anything runs, the WER table and the frontier on synthetic
experiments (budget: 20 s in all; nothing trains)."""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "bench"))

import yaml  # noqa: E402
from gpu import __main__ as entry  # noqa: E402
from gpu import sweep, sweep_report  # noqa: E402
from gpu.variants import Variant, check_all, select  # noqa: E402

from espnet_ddp.core.errors import ConfigError  # noqa: E402
from espnet_ddp.report.experiment import Experiment  # noqa: E402
from espnet_ddp.report.pruning_log import PruningEpoch, PruningLog  # noqa: E402
from espnet_ddp.report.read_results_md import Score  # noqa: E402
from espnet_ddp.report.strategy import strategy_from_config  # noqa: E402
from espnet_ddp.report.train_log import EpochLog, TrainLog  # noqa: E402

BY_NAME = {v.name: v for v in sweep.VARIANTS}
CONFIG = yaml.safe_load(sweep.SWEEP.config())
CANDIDATES = ["e2h70", "random70", "infobatch", "e2h70_chunk30_decay"]


def test_variant_list_is_candidates_budgets_and_fitted_twins() -> None:
    assert [v.name for v in sweep.VARIANTS] == [
        "full", *CANDIDATES, "budget0.3", "budget0.5", "budget0.7", "budget1.0",
        *(f"{c}_lrfit" for c in CANDIDATES),
    ]  # fmt: skip
    for name in CANDIDATES:
        plain, twin = BY_NAME[name], BY_NAME[f"{name}_lrfit"]
        assert (plain.lr_fit, twin.lr_fit) == ("none", "linear")
        assert (plain.data_pruning, plain.time_drop) == (twin.data_pruning, twin.time_drop)
    budgets = [v for v in sweep.VARIANTS if v.budget is not None]
    assert all(v.is_full_data and v.lr_fit == "linear" for v in budgets)
    # the 24-epoch plan: 0.3, 0.5, 0.7, 1.0 of it rounded half up (budget_config's rule)
    assert [v.epochs(24) for v in budgets] == [7, 12, 17, 24]
    assert [v.epochs(3) for v in budgets] == [1, 2, 2, 3]


def test_options_lr_trajectory_only_on_espnets_schedule() -> None:
    assert BY_NAME["full"].options(24) == {
        "data_pruning": "none", "data_pruning_conf": {},
        "time_drop": "none", "time_drop_conf": {}, "lr_fit": "none",
    }  # fmt: skip
    assert BY_NAME["e2h70_chunk30_decay"].options(24) == {
        "data_pruning": "easy2hard",
        "data_pruning_conf": {"keep_ratio": 0.7, "lr_trajectory": "epoch"},
        "time_drop": "chunk",
        "time_drop_conf": {"drop_ratio": 0.3, "chunk_ms": 20, "drop_schedule": "linear_decay"},
        "lr_fit": "none",
    }  # fmt: skip
    assert BY_NAME["e2h70_chunk30_decay_lrfit"].options(24)["data_pruning_conf"] == {
        "keep_ratio": 0.7
    }
    assert BY_NAME["infobatch_lrfit"].options(24)["data_pruning_conf"] == {"prune_prob": 0.5}
    assert BY_NAME["budget0.5"].options(24)["data_pruning_conf"] == {}


def test_args_are_one_conf_flag_per_key_and_lr_fit_only_when_fitted() -> None:
    assert BY_NAME["e2h70_chunk30_decay_lrfit"].args(24) == [
        "--data_pruning", "easy2hard", "--data_pruning_conf", "keep_ratio=0.7",
        "--time_drop", "chunk",
        "--time_drop_conf", "drop_ratio=0.3", "--time_drop_conf", "chunk_ms=20",
        "--time_drop_conf", "drop_schedule=linear_decay",
        "--lr_fit", "linear",
    ]  # fmt: skip
    assert BY_NAME["random70"].args(24) == [
        "--data_pruning", "random",
        "--data_pruning_conf", "keep_ratio=0.7", "--data_pruning_conf", "lr_trajectory=epoch",
        "--time_drop", "none",
    ]  # fmt: skip
    assert BY_NAME["budget0.7"].args(24) == [
        "--data_pruning", "none", "--time_drop", "none", "--lr_fit", "linear",
    ]  # fmt: skip


def test_every_variant_passes_the_training_entry_points_checks() -> None:
    check_all(sweep.VARIANTS, 24, CONFIG)
    check_all(sweep.VARIANTS, 3, yaml.safe_load(sweep.SWEEP_SMALL.config()))


def test_bad_variants_fail_before_anything_runs_naming_each() -> None:
    bogus = Variant("wobble30", "x", time_drop=("wobble", {"drop_ratio": 0.3}))
    with pytest.raises(ConfigError, match=r"^variant wobble30: --time_drop='wobble': must"):
        bogus.check(10, CONFIG)
    both = Variant("both", "x", ("easy2hard", {"lr_trajectory": "epoch"}), lr_fit="linear")
    with pytest.raises(ConfigError, match=r"^variant both: .*lr_trajectory='epoch' contradicts "
                       r"--lr_fit=linear"):  # fmt: skip
        both.check(24, CONFIG)
    too_long = Variant("wa", "x", time_drop=("chunk", {"warmup_epochs": 2, "anneal_epochs": 1}))
    with pytest.raises(ConfigError) as err:
        check_all([BY_NAME["full"], bogus, too_long], 3, CONFIG)
    text = str(err.value)
    assert "variant wobble30: --time_drop='wobble'" in text
    assert "variant wa: --time_drop_conf warmup_epochs=2 + anneal_epochs=1" in text
    assert text.endswith("(run the others with --skip wobble30 wa)")


def test_selection_keeps_full_data_first(capsys: pytest.CaptureFixture) -> None:
    chosen = select(sweep.VARIANTS, ["budget0.3", "e2h70_lrfit"], None)
    assert [v.name for v in chosen] == ["full", "budget0.3", "e2h70_lrfit"]
    skipped = select(sweep.VARIANTS, None, ["random70", "full"])
    assert [v.name for v in skipped][:3] == ["full", "e2h70", "infobatch"]
    with pytest.raises(ConfigError, match="unknown variant.*nope"):
        select(sweep.VARIANTS, ["nope"], None)
    assert entry.main(["--sweep", "--dry", "--small", "--only", "nope"]) == 2
    assert "sweep: error: --only/--skip: unknown variant(s) nope" in capsys.readouterr().err


def test_dry_run_plans_every_variant_concurrently(capsys: pytest.CaptureFixture) -> None:
    assert entry.main(["--sweep", "--dry"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["mode"] == "sweep" and out["parallel"] == 13
    assert out["plan"]["epochs"] == 24 and out["plan"]["num_train"] == 3000
    assert out["variants"]["budget0.3"] == {
        "label": "budget 0.3: full data, fitted LR", "epochs": 7,
        "args": ["--data_pruning", "none", "--time_drop", "none", "--lr_fit", "linear"],
    }  # fmt: skip
    assert entry.main(["--sweep", "--dry", "--epochs", "10", "--only", "budget0.5"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert {k: v["epochs"] for k, v in out["variants"].items()} == {"full": 10, "budget0.5": 5}


def row(name: str, status: str = "ok", **kw) -> dict:
    base = {"name": name, "label": name, "schedule": "warmuplr", "status": status, "epochs": 3,
            "steps": 60, "fed_hours": 0.25, "valid_acc": 0.8, "steps_to_target": 45,
            "target_reached": True, "frontier": "on the curve",
            "scores": {"a": {"wer": 12.34, "cer": 3.0}}}  # fmt: skip
    return {**base, **kw}


def test_wer_table_exact() -> None:
    rows = [
        row("full"),
        row("slow", schedule="fitted linear", steps=40, fed_hours=0.125, valid_acc=0.5,
            steps_to_target=None, target_reached=False, frontier="not bracketed (below)",
            scores={"a": {"wer": 50.0, "cer": 20.05}, "b": None}),  # fmt: skip
        row("broken", status="failed (exit 1)"),
        row("undecoded", steps=None, fed_hours=None, valid_acc=None, target_reached=None,
            frontier="n/a", scores={}),  # fmt: skip
    ]
    assert sweep_report.wer_table(rows, ["a", "b"]).splitlines() == [
        "| variant | LR | epochs | steps | audio fed (h) | valid acc | steps to target | "
        "frontier ratio | WER / CER a (%) | WER / CER b (%) |",
        "|---|---|---|---|---|---|---|---|---|---|",
        "| full | warmuplr | 3 | 60 | 0.250 | 0.800 | 45 | on the curve | 12.3 / 3.0 | n/a |",
        "| slow | fitted linear | 3 | 40 | 0.125 | 0.500 | not reached | not bracketed (below) "
        "| 50.0 / 20.1 | n/a |",
        "| broken | failed (exit 1) | | | | | | | | |",
        "| undecoded | warmuplr | 3 | n/a | n/a | n/a | n/a | n/a | n/a | n/a |",
    ]


TAG = "decode"


def experiment(variant: Variant, audio_h: float, accs: list[float], wer: float) -> Experiment:
    """What load_experiment gives for a finished sweep run: config, log, records, RESULTS.md."""
    opts = variant.options(len(accs))
    config = {"max_epoch": len(accs), "seed": 0, "output_dir": f"exp/{variant.name}",
              "scheduler": "warmuplr", **opts}  # fmt: skip
    epochs = [EpochLog(e, stats={"train": {"time": 60.0}, "valid": {"acc": a}})
              for e, a in enumerate(accs, 1)]  # fmt: skip
    per_epoch = audio_h * 3600 / len(accs)
    records = [PruningEpoch(e, {"epoch": e, "fed_seconds": per_epoch, "optimizer_steps": 10})
               for e in range(1, len(accs) + 1)]  # fmt: skip
    return Experiment(
        path=Path(f"exp/{variant.name}"), name=variant.name, config=config,
        strategy=strategy_from_config(config), train_log=TrainLog(epochs, len(accs), True),
        pruning=PruningLog(records), scores=[Score(TAG, "t", "WER", wer)], decode_tag=TAG,
    )  # fmt: skip


def test_rows_and_frontier_come_from_espnet_ddp_report() -> None:
    variants = [BY_NAME[n] for n in ("full", "budget0.3", "budget1.0", "e2h70_lrfit")]
    exps = [
        experiment(variants[0], 10.0, [0.5, 0.88], 22.0),  # warmuplr: a separate series
        experiment(variants[1], 3.0, [0.6], 40.0),
        experiment(variants[2], 10.0, [0.5, 0.9], 20.0),
        experiment(variants[3], 7.0, [0.5, 0.75], 30.0),
    ]
    trained = {v.name: {"status": "ok"} for v in variants}
    scores = {v.name: {"t": {"wer": 1.0, "cer": 0.5}} for v in variants}
    rows, comparison = sweep_report.collect(Path("exp"), variants, 2, trained, scores, exps)
    # the curve: (3 h, 0.6) -> (10 h, 0.9); 0.75 needs 3 + 7 x 0.15/0.3 = 6.5 h, the run fed 7
    assert [r["frontier"] for r in rows] == ["0.95", "on the curve", "on the curve", "0.93"]
    assert [r["schedule"] for r in rows] == ["warmuplr", *["fitted linear"] * 3]
    assert rows[3]["steps_to_target"] is None and rows[3]["target_reached"] is False
    assert rows[2]["steps_to_target"] == 20  # 0.9 >= 0.98 x 0.88 at epoch 2
    curve, configurations, sentence = sweep_report.frontier_tables(comparison)
    assert curve.splitlines()[2:] == [
        "| budget0.3 | 1 | 3.000 | 0.6000 | 0.6000 | 40.00 (envelope 40.00) |",
        "| budget1.0 | 1 | 10.000 | 0.9000 | 0.9000 | 20.00 (envelope 20.00) |",
    ]
    head = configurations.splitlines()[0]
    assert "frontier ratio (WER t)" in head and "wall time" not in head
    # WER 30 on the curve 40 -> 20: 3 + 7 x 0.5 = 6.5 h of 7
    assert configurations.splitlines()[-1] == (
        "| e2h70_lrfit | pruned or dropped | fitted linear | 1 | 7.000 | 0.7500 | 0.93 | 30.00 "
        "| 0.93 |"
    )
    assert sentence.startswith("The curve: end points of the full-data runs")
    no_budget = sweep_report.collect(Path("exp"), [variants[0], variants[3]], 2, trained,
                                     scores, [exps[0], exps[3]])[1]  # fmt: skip
    assert sweep_report.frontier_tables(no_budget) == [
        "No frontier: no budget run (full data, fitted LR) finished."
    ]


def test_report_holds_the_table_and_the_frontier() -> None:
    env = {k: "x" for k in ("date", "gpu", "cpu", "python", "torch", "espnet",
                            "espnet_ddp commit")}  # fmt: skip
    report = {
        "small": False, "environment": env, "plan": dataclasses.asdict(sweep.SWEEP),
        "parallel": 13, "corpus_hours": 2.1,
        "test_sets": ["a"], "baseline_plateau": True, "target_valid_acc": 0.86,
        "rows": [row("full")], "frontier_tables": ["CURVE", "CONFIGURATIONS"],
    }  # fmt: skip
    md = sweep_report.markdown(report)
    assert "test sets a (150)" in md and "13 runs at a time on one device" in md
    assert "final (0.8600)" in md
    assert md.endswith("## The frontier: full data on a fitted schedule, for less audio\n\n"
                       "CURVE\n\nCONFIGURATIONS\n")  # fmt: skip
