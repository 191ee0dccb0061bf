"""Crash-safe writes (:mod:`espnet_ddp.core.atomic_io`): the mode a plain ``open`` would give,
temporaries of a killed writer removed (only the writer's own), a directory replaced only once
its new content is complete, and the per-rank digest file kept one line per epoch."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from espnet_ddp.core.atomic_io import (
    recover_directory,
    remove_stale_temporaries,
    staged_directory,
    write_bytes_atomic,
    write_json_atomic,
)
from espnet_ddp.core.epoch_digests import read_digests, record_digest


@pytest.fixture
def umask():
    """Set the process umask for one test (restored after)."""
    saved = os.umask(0o022)
    os.umask(saved)
    yield os.umask
    os.umask(saved)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.parametrize("mask, expected", [(0o022, 0o644), (0o027, 0o640), (0o077, 0o600)])
def test_atomic_files_get_the_mode_of_a_plain_open(tmp_path, umask, mask, expected):
    umask(mask)
    write_json_atomic(tmp_path / "epoch1.json", {"a": 1})
    write_bytes_atomic(tmp_path / "scores_epoch1.npz", b"x")
    with open(tmp_path / "plain", "w"):
        pass
    assert mode(tmp_path / "plain") == expected
    assert mode(tmp_path / "epoch1.json") == expected
    assert mode(tmp_path / "scores_epoch1.npz") == expected
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["epoch1.json", "plain", "scores_epoch1.npz"]


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    write_bytes_atomic(tmp_path / "a.npz", b"old")
    with pytest.raises(TypeError):
        write_bytes_atomic(tmp_path / "a.npz", "not bytes")  # type: ignore[arg-type]
    assert (tmp_path / "a.npz").read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["a.npz"]


def test_stale_temporaries_are_removed_by_name_only(tmp_path):
    left = [".epoch2.json.ab3_9xyz.tmp", ".scores_epoch2.npz.0a1b2c3d.tmp",
            ".rank1.digests.zz9_8yy7.tmp"]  # fmt: skip
    kept = ["epoch2.json", ".hidden.tmp", "notes.tmp", ".epoch2.json.tooshort.x.tmp"]
    for name in left + kept:
        (tmp_path / name).write_text("x")
    removed = remove_stale_temporaries(tmp_path, lambda n: not n.startswith("rank1"))
    assert sorted(p.name for p in removed) == sorted(left[:2])
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(kept + left[2:])
    assert [p.name for p in remove_stale_temporaries(tmp_path, "rank1.digests")] == [left[2]]
    assert remove_stale_temporaries(tmp_path / "absent") == []


def fill(d: Path, text: str) -> None:
    (d / "wav.scp").write_text(text)


def test_staged_directory_replaces_only_when_complete(tmp_path, umask):
    umask(0o022)
    dst = tmp_path / "train"
    dst.mkdir()
    fill(dst, "old\n")
    with pytest.raises(RuntimeError, match="half way"):
        with staged_directory(dst) as tmp:
            fill(tmp, "new\n")
            raise RuntimeError("half way")
    assert (dst / "wav.scp").read_text() == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["train"]
    with staged_directory(dst) as tmp:
        assert tmp.parent == tmp_path and list(tmp.iterdir()) == []
        fill(tmp, "new\n")
        assert (dst / "wav.scp").read_text() == "old\n"  # not yet
    assert (dst / "wav.scp").read_text() == "new\n"
    assert mode(dst) == 0o755
    assert sorted(p.name for p in tmp_path.iterdir()) == ["train"]


def test_a_kill_between_the_renames_loses_nothing(tmp_path):
    dst = tmp_path / "train"
    aside = tmp_path / ".train.old"  # the previous directory, set aside, not yet replaced
    aside.mkdir()
    fill(aside, "old\n")
    unfinished = tmp_path / ".train.k2j4_x8a.tmp"
    unfinished.mkdir()
    other_set = tmp_path / ".train.x.k2j4_x8a.tmp"  # another set's (train.x) unfinished copy
    other_set.mkdir()
    assert sorted(recover_directory(dst)) == sorted([aside, unfinished])
    assert (dst / "wav.scp").read_text() == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == [".train.x.k2j4_x8a.tmp", "train"]


def test_digest_file_has_one_line_per_epoch_the_latest_plan_winning(tmp_path):
    path = tmp_path / "rank0.digests"
    path.write_text("1 aa\n2 bb\n2 bb\n3 cc\n")  # appended by a version before this one
    change = record_digest(path, 3, "cc")  # a resume at epoch 3, same plan
    assert change.replaced is None and change.dropped_epochs == []
    assert path.read_text() == "1 aa\n2 bb\n3 cc\n"
    change = record_digest(path, 3, "dd")  # a resume at epoch 3 that plans other data
    assert change.replaced == "cc"
    assert path.read_text() == "1 aa\n2 bb\n3 dd\n"
    record_digest(path, 4, "ee")
    change = record_digest(path, 2, "bb")  # resumed from an older checkpoint
    assert change.dropped_epochs == [3, 4] and read_digests(path) == {1: "aa", 2: "bb"}
    path.write_text("1 aa\n2\n")  # a line cut short by a kill during an append
    change = record_digest(path, 2, "bb")
    assert change.malformed == ["2"] and path.read_text() == "1 aa\n2 bb\n"
    path.write_text("x\n")
    with pytest.raises(ValueError, match=r"rank0.digests: malformed line 'x'"):
        read_digests(path)
