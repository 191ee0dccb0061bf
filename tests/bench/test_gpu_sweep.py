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
from gpu import estimate, sweep, sweep_report  # noqa: E402
from gpu.variants import Variant, check_all, select  # noqa: E402

from espnet_ddp.core.errors import ConfigError  # noqa: E402
from espnet_ddp.report.experiment import Experiment  # noqa: E402
from espnet_ddp.report.pruning_log import PruningEpoch, PruningLog  # noqa: E402
from espnet_ddp.report.read_results_md import Score  # noqa: E402
from espnet_ddp.report.strategy import strategy_from_config  # noqa: E402
from espnet_ddp.report.train_log import EpochLog, TrainLog  # noqa: E402

BY_NAME = {v.name: v for v in sweep.VARIANTS}
CONFIG = yaml.safe_load(sweep.SWEEP.config())
CANDIDATES = ["infobatch", "random70", "e2h70", "e2h70_chunk30_decay"]


def test_variant_list_is_stock_full_data_budgets_and_fitted_candidates() -> None:
    assert [v.name for v in sweep.VARIANTS] == [
        "full", "budget0.3", "budget0.5", "budget0.7", "budget0.8", "budget0.9", "budget1.0",
        *(f"{c}_lrfit" for c in CANDIDATES),
    ]  # fmt: skip
    assert BY_NAME["full"].lr_fit == "none" and BY_NAME["full"].is_full_data
    assert all(BY_NAME[f"{c}_lrfit"].lr_fit == "linear" for c in CANDIDATES)
    budgets = [v for v in sweep.VARIANTS if v.budget is not None]
    assert all(v.is_full_data and v.lr_fit == "linear" for v in budgets)
    # the 24-epoch plan: 0.3 ... 1.0 of it rounded half up (budget_config's rule)
    assert [v.epochs(24) for v in budgets] == [7, 12, 17, 19, 22, 24]
    assert [v.epochs(3) for v in budgets] == [1, 2, 2, 2, 3, 3]


def test_options_of_fitted_candidates_have_no_lr_trajectory() -> None:
    assert BY_NAME["full"].options(24) == {
        "data_pruning": "none", "data_pruning_conf": {},
        "time_drop": "none", "time_drop_conf": {}, "lr_fit": "none",
    }  # fmt: skip
    assert BY_NAME["e2h70_chunk30_decay_lrfit"].options(24) == {
        "data_pruning": "easy2hard",
        "data_pruning_conf": {"keep_ratio": 0.7},
        "time_drop": "chunk",
        "time_drop_conf": {"drop_ratio": 0.3, "chunk_ms": 20, "drop_schedule": "linear_decay"},
        "lr_fit": "linear",
    }
    assert BY_NAME["infobatch_lrfit"].options(24)["data_pruning_conf"] == {"prune_prob": 0.5}
    assert BY_NAME["budget0.5"].options(24)["data_pruning_conf"] == {}
    # a pruned run on ESPnet's schedule (the quick plan's) still gets lr_trajectory=epoch
    assert Variant("e", "e", ("random", {"keep_ratio": 0.7})).args(24) == [
        "--data_pruning", "random",
        "--data_pruning_conf", "keep_ratio=0.7", "--data_pruning_conf", "lr_trajectory=epoch",
        "--time_drop", "none",
    ]  # fmt: skip


def test_args_are_one_conf_flag_per_key_and_lr_fit_only_when_fitted() -> None:
    assert BY_NAME["e2h70_chunk30_decay_lrfit"].args(24) == [
        "--data_pruning", "easy2hard", "--data_pruning_conf", "keep_ratio=0.7",
        "--time_drop", "chunk",
        "--time_drop_conf", "drop_ratio=0.3", "--time_drop_conf", "chunk_ms=20",
        "--time_drop_conf", "drop_schedule=linear_decay",
        "--lr_fit", "linear",
    ]  # fmt: skip
    assert BY_NAME["full"].args(24) == ["--data_pruning", "none", "--time_drop", "none"]
    assert BY_NAME["budget0.7"].args(24) == [
        "--data_pruning", "none", "--time_drop", "none", "--lr_fit", "linear",
    ]  # fmt: skip


def test_data_share_counts_full_data_epochs() -> None:
    # epoch 1 on all data, then 0.7 of it: 1 + 23 x 0.7; chunks decaying 0.3 -> 0 remove 0.15
    assert sweep.data_share(BY_NAME["e2h70_lrfit"], 24) == pytest.approx(17.1)
    assert sweep.data_share(BY_NAME["e2h70_chunk30_decay_lrfit"], 24) == pytest.approx(
        1 + 23 * 0.7 * 0.85)
    assert sweep.data_share(BY_NAME["budget0.8"], 24) == 19.0


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
    skipped = select(sweep.VARIANTS, None, ["random70_lrfit", "full"])
    assert [v.name for v in skipped][:3] == ["full", "budget0.3", "budget0.5"]
    assert "random70_lrfit" not in [v.name for v in skipped]
    with pytest.raises(ConfigError, match="unknown variant.*nope"):
        select(sweep.VARIANTS, ["nope"], None)
    assert entry.main(["--sweep", "--dry", "--small", "--only", "nope"]) == 2
    assert "sweep: error: --only/--skip: unknown variant(s) nope" in capsys.readouterr().err


def test_dry_run_plans_every_variant_with_the_seed_and_phase_estimates(
    capsys: pytest.CaptureFixture,
) -> None:
    assert entry.main(["--sweep", "--dry", "--seed", "3"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["mode"] == "sweep" and out["parallel"] == 9 and out["seed"] == 3
    assert not set(sweep.GPU_SKIP) & set(out["variants"])  # left out of one 9-minute command
    assert out["plan"]["epochs"] == 24 and out["plan"]["num_train"] == 3000
    assert sorted(out["estimated_seconds"]) == sorted(estimate.PHASES)
    assert out["estimated_total_seconds"] <= estimate.CAP_SECONDS
    assert out["variants"]["budget0.5"] == {
        "label": "budget 0.5: full data, fitted", "epochs": 12,
        "args": ["--data_pruning", "none", "--time_drop", "none", "--lr_fit", "linear"],
    }  # fmt: skip
    assert entry.main(["--sweep", "--dry", "--epochs", "10", "--only", "budget0.5"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert {k: v["epochs"] for k, v in out["variants"].items()} == {"full": 10, "budget0.5": 5}
    # a plan over the 540 s of one command is refused before anything runs
    assert entry.main(["--sweep", "--dry", "--epochs", "200"]) == 2
    assert "over the 540 s of one command" in capsys.readouterr().err
    assert entry.main(["--sweep", "--dry", "--seed", "-1"]) == 2
    assert "--seed -1: must be an integer >= 0" in capsys.readouterr().err


def row(name: str, status: str = "ok", **kw) -> dict:
    base = {"name": name, "label": name, "schedule": "warmuplr", "status": status, "epochs": 3,
            "steps": 60, "fed_hours": 0.25, "valid_acc": 0.8, "steps_to_target": 45,
            "target_reached": True, "frontier": "on the curve",
            "scores": {"a": {"wer": 12.34, "cer": 3.0}}}  # fmt: skip
    return {**base, **kw}


def test_wer_table_exact() -> None:
    rows = [
        row("full", reached_98=2),
        row("slow", schedule="fitted linear", steps=40, fed_hours=0.125, valid_acc=0.5,
            steps_to_target=None, target_reached=False, frontier="not bracketed (below)",
            scores={"a": {"wer": 50.0, "cer": 20.05}, "b": None}),  # fmt: skip
        row("broken", status="failed (exit 1)"),
        row("undecoded", steps=None, fed_hours=None, valid_acc=None, target_reached=None,
            frontier="n/a", scores={}),  # fmt: skip
        row("resumed", status="ok (resumed)", reached_98=3),
    ]
    assert sweep_report.wer_table(rows, ["a", "b"]).splitlines() == [
        "| variant | LR | epochs | steps | audio fed (h) | valid acc | 98% at epoch | "
        "steps to target | frontier ratio | WER / CER a (%) | WER / CER b (%) |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
        "| full | warmuplr | 3 | 60 | 0.250 | 0.800 | 2 | 45 | on the curve | 12.3 / 3.0 | n/a |",
        "| slow | fitted linear | 3 | 40 | 0.125 | 0.500 | n/a | not reached "
        "| not bracketed (below) | 50.0 / 20.1 | n/a |",
        "| broken | failed (exit 1) | | | | | | | | | |",
        "| undecoded | warmuplr | 3 | n/a | n/a | n/a | n/a | n/a | n/a | n/a | n/a |",
        "| resumed | warmuplr | 3 | 60 | 0.250 | 0.800 | 3 | 45 | on the curve | 12.3 / 3.0 "
        "| n/a |",
    ]


def test_reached_98_is_the_first_epoch_at_98_percent_of_the_last() -> None:
    assert sweep_report.reached_98({1: 0.5, 2: 0.9, 3: 0.935, 4: 0.95}) == 3  # 0.931 needed
    assert sweep_report.reached_98({1: 0.5, 2: 0.9, 3: 0.93, 4: 0.95}) == 4
    assert sweep_report.reached_98({1: 0.5, 2: 0.6}) == 2
    assert sweep_report.reached_98({}) is None


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
    # WER 30 on the curve 40 -> 20: 3 + 7 x 0.5 = 6.5 h of 7, read across 7 of the 10 h (wide)
    assert configurations.splitlines()[-1] == (
        "| e2h70_lrfit | pruned or dropped | fitted linear | 1 | 7.000 | 0.7500 | 0.93 (wide) "
        "| 30.00 | 0.93 (wide) |"
    )
    assert sentence.startswith("The curve: end points of the full-data runs")
    no_budget = sweep_report.collect(Path("exp"), [variants[0], variants[3]], 2, trained,
                                     scores, [exps[0], exps[3]])[1]  # fmt: skip
    assert sweep_report.frontier_tables(no_budget) == [
        "No frontier: no budget run (full data, fitted LR) finished."
    ]


def write_seed(root: Path, seed: int, runs: dict[str, tuple[float, float, float]]) -> None:
    """A saved seed folder as the sweep writes it: run.json, and per run config.yaml, train.log
    (one results line per epoch, the last one's valid acc given), one pruning record per epoch
    and RESULTS.md (WER on dev). ``runs``: name -> (audio hours, final valid acc, dev WER)."""
    from gpu.seed_results import seed_dir

    names = list(runs)
    base = seed_dir(root, seed)
    for name, (audio, acc, wer) in runs.items():
        exp = base / "exp" / name
        (exp / "data_pruning").mkdir(parents=True)
        variant = BY_NAME[name]
        epochs = variant.epochs(4)
        config = {"seed": seed, "max_epoch": epochs, "scheduler": "warmuplr",
                  **variant.options(4)}  # fmt: skip
        (exp / "config.yaml").write_text(yaml.safe_dump(config))
        lines = [
            f"[vm] 2026-12-04 10:00:{e:02d},000 (trainer:394) INFO: {e}epoch results: [train] "
            f"loss=1.0, time=10.0 seconds, total_count={10 * e}, [valid] acc="
            f"{acc * (0.9 if e < epochs else 1.0):.4f}, time=1.0 seconds, total_count={e}"
            for e in range(1, epochs + 1)
        ]  # fmt: skip
        (exp / "train.log").write_text("\n".join(lines) + "\n")
        for e in range(1, epochs + 1):
            (exp / "data_pruning" / f"epoch{e}.json").write_text(json.dumps(
                {"epoch": e, "fed_seconds": audio * 3600 / epochs, "optimizer_steps": 10}))
        (exp / "RESULTS.md").write_text(
            "# RESULTS\n## decode_x\n### WER\n\n|dataset|Snt|Wrd|Corr|Sub|Del|Ins|Err|S.Err|\n"
            f"|---|---|---|---|---|---|---|---|---|\n|decode_x/dev|10|100|{100 - wer}|{wer}|0.0|"
            f"0.0|{wer}|50.0|\n")  # fmt: skip
    run = {"seed": seed, "small": False, "plan": dataclasses.asdict(sweep.SWEEP), "parallel": 4,
           "environment": {k: "x" for k in ("date", "gpu", "cpu", "python", "torch", "espnet",
                                               "espnet_ddp commit")},
           "corpus_hours": 2.1, "variants": names, "test_sets": ["dev"],
           "trained": {n: {"status": "ok"} for n in names}, "decoded": {"dev": 10},
           "reached_98": {n: 1 for n in names}, "phase_seconds": {"training": 100.0}}  # fmt: skip
    (base / "run.json").write_text(json.dumps(run))


def test_rebuild_from_two_seed_folders_builds_the_frontier_from_their_means(tmp_path) -> None:
    root = tmp_path / "sweep"
    write_seed(root, 0, {"budget0.5": (5.0, 0.70, 30.0), "budget1.0": (10.0, 0.90, 20.0),
                         "e2h70_lrfit": (7.0, 0.80, 24.0)})  # fmt: skip
    write_seed(root, 1, {"budget0.5": (5.0, 0.74, 34.0), "budget1.0": (10.0, 0.94, 22.0),
                         "e2h70_lrfit": (7.0, 0.82, 26.0)})  # fmt: skip
    md = sweep_report.rebuild(root, sweep.VARIANTS)
    assert md.count("## Seed ") == 2 and "Seeds: 0, 1" in md
    comparison, experiments = sweep_report.all_seeds(root, ["budget0.5", "budget1.0",
                                                            "e2h70_lrfit"])  # fmt: skip
    assert len(experiments) == 6
    curve = comparison.frontier.acc_curve
    # seed means: budget0.5 (5 h, 0.72), budget1.0 (10 h, 0.92); e2h70: 0.81 at 7 h
    assert [(p.label, p.seeds) for p in curve.points] == [("budget0.5@seed0", 2),
                                                          ("budget1.0@seed0", 2)]  # fmt: skip
    assert [p.value for p in curve.points] == pytest.approx([0.72, 0.92])
    e2h = [c for c in comparison.frontier.configurations if c.label == "e2h70_lrfit@seed0"][0]
    # 0.81 on the curve 0.72 -> 0.92 (5 -> 10 h): 5 + 5 x 0.45 = 7.25 h, over 7 h fed
    assert e2h.seeds == 2 and e2h.acc_ratio == pytest.approx(7.25 / 7.0)
    assert "| budget0.5@seed0 | 2 | 5.000 | 0.7200 |" in md
