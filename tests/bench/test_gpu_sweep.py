"""bench/gpu/sweep.py: the variant list, the options it generates, its checks and its WER table."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "bench"))
sys.path.insert(0, str(REPO / "bench" / "gpu"))

import sweep  # noqa: E402

from espnet_ddp.core.config import DROP_MODES  # noqa: E402
from espnet_ddp.core.errors import ConfigError  # noqa: E402

BY_NAME = {v.name: v for v in sweep.VARIANTS}


def run_sweep(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "bench/gpu/sweep.py", *args], capture_output=True, text=True,
        timeout=60, cwd=REPO,
    )  # fmt: skip


def test_variant_list_holds_the_issue_7_candidates() -> None:
    assert [v.name for v in sweep.VARIANTS] == [
        "full", "e2h70", "e2h60", "e2h50", "infobatch", "e2h70_chunk30", "e2h70_chunk30_wa",
        "e2h70_chunk30_energy", "e2h70_frames30", "e2h70_tempo30", "e2h70_chunk30_decay",
        "e2h70_chunk30_byscore", "point30", "chunk30",
    ]  # fmt: skip
    assert sweep.VARIANTS[0].is_full_data and sum(v.is_full_data for v in sweep.VARIANTS) == 1
    modes = {v.time_drop[0] for v in sweep.VARIANTS}
    assert modes == {"none", "chunk", "frames", "tempo", "point"}


def test_options_resolve_shares_and_add_the_lr_trajectory() -> None:
    assert BY_NAME["full"].options(24) == {
        "data_pruning": "none", "data_pruning_conf": {},
        "time_drop": "none", "time_drop_conf": {},
    }  # fmt: skip
    wa = BY_NAME["e2h70_chunk30_wa"]
    assert wa.options(24) == {
        "data_pruning": "easy2hard",
        "data_pruning_conf": {"keep_ratio": 0.7, "lr_trajectory": "epoch"},
        "time_drop": "chunk",
        "time_drop_conf": {"drop_ratio": 0.3, "chunk_ms": 20, "warmup_epochs": 6,
                           "anneal_epochs": 4},
    }  # fmt: skip
    assert wa.options(12)["time_drop_conf"]["warmup_epochs"] == 3
    assert wa.options(12)["time_drop_conf"]["anneal_epochs"] == 2
    assert BY_NAME["point30"].options(24)["data_pruning_conf"] == {"lr_trajectory": "epoch"}
    assert BY_NAME["infobatch"].options(24)["data_pruning_conf"]["prune_prob"] == 0.5


def test_args_are_one_conf_flag_per_key_in_yaml() -> None:
    assert BY_NAME["e2h70_chunk30_byscore"].args(24) == [
        "--data_pruning", "easy2hard",
        "--data_pruning_conf", "keep_ratio=0.7", "--data_pruning_conf", "lr_trajectory=epoch",
        "--time_drop", "chunk",
        "--time_drop_conf", "drop_ratio=0.3", "--time_drop_conf", "chunk_ms=20",
        "--time_drop_conf", "ratio_by_score=true",
    ]  # fmt: skip


def test_every_variant_whose_mode_exists_passes_the_core_checks() -> None:
    runnable = [v for v in sweep.VARIANTS if v.time_drop[0] in DROP_MODES]
    assert {"full", "e2h70", "e2h70_chunk30", "point30", "chunk30"} <= {v.name for v in runnable}
    for variant in runnable:
        variant.check(24)
        variant.check(3)  # the --small plan


def test_an_unknown_mode_fails_before_anything_runs() -> None:
    bogus = sweep.Variant("wobble30", "x", time_drop=("wobble", {"drop_ratio": 0.3}))
    with pytest.raises(ConfigError, match=r"^sweep variant wobble30: --time_drop='wobble': must"):
        bogus.check(10)
    too_long = sweep.Variant("wa", "x", time_drop=("chunk", {"warmup_epochs": 2,
                                                               "anneal_epochs": 1}))  # fmt: skip
    with pytest.raises(ConfigError) as err:
        sweep.check_all([BY_NAME["full"], bogus, too_long], 3)
    text = str(err.value)
    assert "sweep variant wobble30: --time_drop='wobble'" in text
    assert "sweep variant wa: --time_drop_conf warmup_epochs=2 + anneal_epochs=1" in text
    assert text.endswith("(run the others with --skip wobble30 wa)")


def test_selection_keeps_full_data_first() -> None:
    chosen = sweep.select(["point30", "chunk30"], None)
    assert [v.name for v in chosen] == ["full", "point30", "chunk30"]
    assert [v.name for v in sweep.select(None, ["e2h60", "full"])][:3] == ["full", "e2h70", "e2h50"]
    with pytest.raises(ConfigError, match="unknown variant.*nope"):
        sweep.select(["nope"], None)
    proc = run_sweep("--dry", "--small", "--only", "nope")
    assert proc.returncode == 2 and "sweep: error: --only/--skip: unknown" in proc.stderr


def test_dry_run_plans_every_variant_concurrently() -> None:
    proc = run_sweep("--dry", "--only", "e2h70", "chunk30")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["parallel"] == 3 and list(out["variants"]) == ["full", "e2h70", "chunk30"]
    assert out["plan"]["epochs"] == 24 and out["plan"]["num_train"] == 3000


def test_wer_table_exact() -> None:
    def row(name, status="ok", **kw):
        base = {"name": name, "label": name, "status": status, "epochs": 3, "steps": 60,
                "fed_hours": 0.25, "valid_acc": 0.8, "steps_to_target": 45,
                "target_reached": True, "scores": {"a": {"wer": 12.34, "cer": 3.0}}}  # fmt: skip
        return {**base, **kw}

    rows = [
        row("full"),
        row(
            "slow",
            steps=40,
            fed_hours=0.125,
            valid_acc=0.5,
            steps_to_target=None,
            target_reached=False,
            scores={"a": {"wer": 50.0, "cer": 20.05}, "b": None},
        ),  # fmt: skip
        row("broken", status="failed (exit 1)"),
        row(
            "undecoded", steps=None, fed_hours=None, valid_acc=None, target_reached=None, scores={}
        ),  # fmt: skip
    ]
    assert sweep.wer_table(rows, ["a", "b"]).splitlines() == [
        "| variant | epochs | steps | audio fed (h) | valid acc | steps to target | "
        "WER / CER a (%) | WER / CER b (%) |",
        "|---|---|---|---|---|---|---|---|",
        "| full | 3 | 60 | 0.250 | 0.800 | 45 | 12.3 / 3.0 | n/a |",
        "| slow | 3 | 40 | 0.125 | 0.500 | not reached | 50.0 / 20.1 | n/a |",
        "| broken | failed (exit 1) | | | | | | |",
        "| undecoded | 3 | n/a | n/a | n/a | n/a | n/a | n/a |",
    ]
