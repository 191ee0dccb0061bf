"""The plugin's records under ``<exp>/data_pruning`` after kills and resumes, on one rank with
invented losses (``plugin.plan_ranks``, no model; about a second): temporaries of a killed write
removed at the next start (not another rank's), every file with the mode of a plain ``open``, and
``rank0.digests`` one line per epoch, the latest plan replacing an earlier one with a warning."""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

import pytest

from espnet_ddp.core.config import PruningConfig, TimeDropConfig
from espnet_ddp.espnet.distributed import RankInfo
from espnet_ddp.espnet.epoch_batches import BatchSpec, ShapeTable
from espnet_ddp.espnet.min_length import MinKeepRule
from espnet_ddp.espnet.options import PluginOptions
from espnet_ddp.espnet.pruning_run import DataPruningRun
from plugin.plan_ranks import MAX_EPOCH, make_run, train
from plugin.test_distributed import write_shapes


@pytest.fixture
def shapes(tmp_path) -> Path:
    return write_shapes(tmp_path / "shapes")


def other_keep_ratio_run(shapes: Path, out: Path) -> DataPruningRun:
    """:func:`make_run` with keep_ratio 0.6 instead of 0.5."""
    table = ShapeTable.load([str(shapes / "speech_shape"), str(shapes / "text_shape")],
                            ["speech", "text"])  # fmt: skip
    options = PluginOptions(
        pruning=PruningConfig.from_options("easy2hard", {"keep_ratio": 0.6, "ctc_weight": 0.3}),
        time_drop=TimeDropConfig.from_options("chunk", {"drop_ratio": 0.3}),
    )
    spec = BatchSpec("numel", 1, 400_000, (), "descending", "descending", False, 1)
    return DataPruningRun(options, table, spec, out, MAX_EPOCH, MinKeepRule(), RankInfo())


def test_a_killed_runs_temporaries_are_removed_at_the_next_start(shapes, tmp_path, caplog):
    exp = tmp_path / "exp"
    train(make_run(str(shapes), str(exp), RankInfo()), 1, 2)
    records = exp / "data_pruning"
    left = [".epoch3.json.k1_2j3x9.tmp", ".scores_epoch3.npz.a8b7c6d5.tmp",
            ".epoch3.npz.zz_00zz1.tmp", ".rank0.digests.q0w9e8r7.tmp"]  # fmt: skip
    others = [".rank1.digests.q0w9e8r7.tmp", "notes.tmp"]  # rank 1's, and no temporary
    for name in left + others:
        (records / name).write_bytes(b"half")
    with caplog.at_level(logging.WARNING):
        run = make_run(str(shapes), str(exp), RankInfo())
    assert sorted(p.name for p in records.glob("*.tmp")) == sorted(others)
    assert f"removed 4 unfinished write(s) of a killed run in {records}" in caplog.text
    train(run, 3, 3)
    assert not [p for p in records.iterdir() if p.name.startswith(".") and p.name not in others]


def test_records_get_the_mode_of_a_plain_open(shapes, tmp_path):
    saved = os.umask(0o022)
    try:
        exp = tmp_path / "exp"
        train(make_run(str(shapes), str(exp), RankInfo()), 1, 3)
    finally:
        os.umask(saved)
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in (exp / "data_pruning").iterdir()}
    assert {"epoch3.json", "epoch3.npz", "scores_epoch3.npz", "rank0.digests"} <= set(modes)
    assert any(name.startswith("utt_ids.") for name in modes)
    assert {name: m for name, m in modes.items() if m != 0o644} == {}


def test_digests_one_line_per_epoch_across_resumes(shapes, tmp_path, caplog):
    exp = tmp_path / "exp"
    first = train(make_run(str(shapes), str(exp), RankInfo()), 1, 3)
    digests = exp / "data_pruning" / "rank0.digests"
    want = [f"{x['epoch']} {x['digest']}" for x in first]
    assert digests.read_text().splitlines() == want
    # killed during epoch 3, after its plan was checked: the resume plans epoch 3 again
    again = train(make_run(str(shapes), str(exp), RankInfo()), 3, 3)
    assert again[0]["digest"] == first[2]["digest"]
    assert digests.read_text().splitlines() == want
    # a resume at epoch 3 that selects other data (here: another keep ratio)
    with caplog.at_level(logging.WARNING):
        other = train(other_keep_ratio_run(shapes, exp), 3, 3)[0]["digest"]
    assert other != first[2]["digest"]
    assert digests.read_text().splitlines() == want[:2] + [f"3 {other}"]
    assert (
        f"epoch 3 was recorded with selection digest {first[2]['digest'][:12]} and is now "
        f"planned as {other[:12]}"
    ) in caplog.text
