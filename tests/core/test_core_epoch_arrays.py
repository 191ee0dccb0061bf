"""The binary per-utterance part of an epoch record, and the fast sorts the planner uses."""

import numpy as np
import pytest

from espnet_ddp.core.epoch_arrays import (
    EpochArrays,
    ids_file_name,
    read_ids_file,
    write_ids_file,
)
from espnet_ddp.core.score_table import ids_digest
from espnet_ddp.core.selection import argsort_by_score


def test_round_trip_keeps_kept_scores_and_weights(tmp_path):
    ids = [f"u{i:02d}" for i in range(20)]
    arrays = EpochArrays.build(
        ids, kept=[7, 1, 3], seen=[3, 1, 7, 3], scores=[1.5, float("nan"), 2.0, 4.0],
        weights={1: 2.0},
    )  # fmt: skip
    back = EpochArrays.from_bytes(arrays.to_bytes())
    assert back.kept.tolist() == [1, 3, 7]
    assert back.seen.tolist() == [1, 3, 7]
    assert np.isnan(back.scores[0]) and back.scores[1:].tolist() == [4.0, 2.0]  # later 3 wins
    assert dict(zip(back.weight_index.tolist(), back.weights.tolist())) == {1: 2.0}
    assert back.ids_file == ids_file_name(ids_digest(ids)) and back.num_utts == 20


def test_ids_file_is_written_once_and_checked(tmp_path):
    ids = ["a", "b", "c"]
    name = write_ids_file(tmp_path, ids)
    assert read_ids_file(tmp_path / name, ids_digest(ids)) == ids
    (tmp_path / name).write_text("a\nb\n")
    assert write_ids_file(tmp_path, ids) == name  # present: left alone
    with pytest.raises(ValueError, match="does not match"):
        read_ids_file(tmp_path / name, ids_digest(ids))


def test_corrupt_file_is_named():
    with pytest.raises(ValueError, match="epoch7.npz"):
        EpochArrays.from_bytes(b"not a zip", source="epoch7.npz")


def test_argsort_by_score_is_a_stable_argsort():
    rng = np.random.default_rng(0)
    scores = rng.choice([-2.5, -0.0, 0.0, 1e-30, 0.5, 3.0, 1e30], size=2000).astype(np.float32)
    scores[::7] = rng.random(scores[::7].size)
    expected = np.argsort(scores + np.float32(0.0), kind="stable")
    assert argsort_by_score(scores).tolist() == expected.tolist()
