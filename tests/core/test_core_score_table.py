import json
import math
import os

import numpy as np
import pytest

from espnet_ddp.core.score_table import ScoreTable


def test_update_get_contains_len():
    t = ScoreTable()
    assert t.update(["a", "b"], [1.0, 2.0]) == 0
    assert t.get("a") == 1.0 and t.get("zz") is None
    assert "b" in t and "zz" not in t and len(t) == 2
    t.update(["a"], [5.0])
    assert t.get("a") == 5.0  # no EMA: last value wins
    assert t.get("b") == 2.0  # not updated: keeps its stale score


def test_accepts_numpy_scores():
    t = ScoreTable()
    t.update(["a", "b"], np.array([1.5, 2.5], dtype=np.float32))
    assert t.scores() == {"a": 1.5, "b": 2.5}
    assert all(type(v) is float for v in t.scores().values())


def test_ema():
    t = ScoreTable(ema=0.5)
    t.update(["a"], [2.0])
    assert t.get("a") == 2.0  # first value as is
    t.update(["a"], [4.0])
    assert t.get("a") == 3.0
    t.update(["a", "b"], [3.0, 8.0])
    assert t.get("a") == 3.0 and t.get("b") == 8.0


def test_duplicate_in_one_update_later_wins():
    t = ScoreTable()
    t.update(["a", "a"], [1.0, 7.0])
    assert t.get("a") == 7.0
    t = ScoreTable(ema=0.5)
    t.update(["a"], [2.0])
    t.update(["a", "a"], [4.0, 8.0])  # one EMA step with the later value
    assert t.get("a") == 5.0
    t.update(["a", "a"], [6.0, float("nan")])  # a non-finite later value never wins
    assert t.get("a") == 5.5 and t.nonfinite_total == 1


def test_nonfinite_counted_not_stored():
    t = ScoreTable()
    t.update(["a"], [1.0])
    skipped = t.update(["a", "b", "c", "d"], [float("nan"), float("inf"), -math.inf, 2.0])
    assert skipped == 3 and t.nonfinite_total == 3
    assert t.get("a") == 1.0 and "b" not in t and "c" not in t and t.get("d") == 2.0
    t.update(["e"], [float("nan")])
    assert t.nonfinite_total == 4


def test_update_argument_errors():
    t = ScoreTable()
    with pytest.raises(ValueError, match="2 utterance ids but 1 scores"):
        t.update(["a", "b"], [1.0])
    with pytest.raises(TypeError):
        t.update([3], [1.0])  # type: ignore[list-item]
    with pytest.raises(ValueError):
        ScoreTable(ema=1.0)


def test_scores_is_a_copy():
    t = ScoreTable()
    t.update(["a"], [1.0])
    s = t.scores()
    s["a"] = 99.0
    s["b"] = 1.0
    assert t.get("a") == 1.0 and "b" not in t


def test_stats():
    t = ScoreTable()
    assert t.stats() == {"min": None, "mean": None, "max": None}
    t.update(["a", "b", "c"], [1.0, 2.0, 6.0])
    assert t.stats() == {"min": 1.0, "mean": 3.0, "max": 6.0}
    assert t.stats(["a", "b", "unscored"]) == {"min": 1.0, "mean": 1.5, "max": 2.0}
    assert t.stats(["unscored"]) == {"min": None, "mean": None, "max": None}


def _filled() -> ScoreTable:
    t = ScoreTable(ema=0.25)
    t.update(["utt-b", "utt-a", "utt-c"], [0.5, 1.0 / 3.0, 12345.678901234])
    t.update(["utt-d"], [float("nan")])
    return t


def test_state_dict_round_trip():
    t = _filled()
    u = ScoreTable(ema=0.25)
    u.load_state_dict(t.state_dict())
    assert u.scores() == t.scores() and u.nonfinite_total == 1
    assert u.state_dict() == t.state_dict()


@pytest.mark.parametrize(
    "mutate, match",
    [
        (lambda s: s.pop("scores"), "missing keys \\['scores'\\]"),
        (lambda s: s.pop("version"), "missing keys \\['version'\\]"),
        (lambda s: s.update(extra=1), "unexpected keys \\['extra'\\]"),
        (lambda s: s.update(version=2), "version 2"),
        (lambda s: s.update(nonfinite_total=-1), "nonfinite_total"),
        (lambda s: s["scores"].update(x=float("nan")), "bad entry 'x'"),
        (lambda s: s["scores"].update(x="1.0"), "bad entry 'x'"),
        (lambda s: s["scores"].update({3: 1.0}), "bad entry 3"),
        (lambda s: s.update(scores=[1.0]), "'scores' must be a mapping"),
    ],
)
def test_load_state_dict_is_strict(mutate, match):
    state = _filled().state_dict()
    mutate(state)
    t = ScoreTable()
    t.update(["keep"], [1.0])
    with pytest.raises(ValueError, match=match):
        t.load_state_dict(state)
    assert t.scores() == {"keep": 1.0}  # untouched by a failed load


def test_save_load_round_trip_without_temp_files(tmp_path):
    t = _filled()
    path = tmp_path / "scores.json"
    t.save(path)
    t.update(["utt-a"], [9.0])
    t.save(str(path))  # overwrite, str path
    assert [p.name for p in tmp_path.iterdir()] == ["scores.json"]
    u = ScoreTable.load(path)
    assert u.scores() == t.scores()
    assert u.nonfinite_total == t.nonfinite_total and u.ema == 0.25
    assert json.loads(path.read_text())["version"] == 1
    assert ScoreTable.load(path, ema=0.0).ema == 0.0


def test_failed_save_keeps_old_file_and_leaves_no_temp(tmp_path, monkeypatch):
    path = tmp_path / "scores.json"
    _filled().save(path)
    before = path.read_bytes()

    def broken_replace(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    t = ScoreTable()
    t.update(["other"], [1.0])
    with pytest.raises(OSError, match="disk full"):
        t.save(path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["scores.json"]


def test_load_truncated_file_names_it(tmp_path):
    path = tmp_path / "scores.json"
    _filled().save(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError) as err:
        ScoreTable.load(path)
    assert str(path) in str(err.value)


@pytest.mark.parametrize("content", [b"[1, 2]", b'{"version": 1}', b"\xff\xfe", b""])
def test_load_corrupt_content_names_file(tmp_path, content):
    path = tmp_path / "bad.json"
    path.write_bytes(content)
    with pytest.raises(ValueError, match="bad.json"):
        ScoreTable.load(path)


def test_load_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError):
        ScoreTable.load(tmp_path / "nope.json")


# -- the array form ---------------------------------------------------------------------------


def test_update_at_matches_update_with_duplicates_and_ema():
    ids = [f"u{i}" for i in range(6)]
    by_id, by_pos = ScoreTable(ema=0.5, utt_ids=ids), ScoreTable(ema=0.5, utt_ids=ids)
    rounds = [
        (["u3", "u1", "u3", "u5"], [1.0, 2.0, 3.0, float("nan")]),
        (["u1", "u1", "u0"], [4.0, float("inf"), 0.25]),
    ]
    for utts, values in rounds:
        skipped = by_id.update(utts, values)
        assert by_pos.update_at(np.array([ids.index(u) for u in utts]), np.array(values)) == skipped
    assert by_pos.scores() == by_id.scores() == {"u0": 0.25, "u1": 3.0, "u3": 3.0}
    assert np.isnan(by_pos.values[[2, 4, 5]]).all() and by_pos.nonfinite_total == 2
    with pytest.raises(ValueError):
        by_pos.values[0] = 1.0  # read-only view


def test_scores_are_stored_as_float32():
    t = ScoreTable()
    t.update(["a"], [0.1])
    assert t.get("a") == float(np.float32(0.1)) != 0.1
    assert t.values.dtype == np.float32


def test_binary_round_trip_and_its_id_list(tmp_path):
    ids = ["utt-a", "utt-b", "utt-c", "utt-d"]
    t = ScoreTable(ema=0.25, utt_ids=ids)
    t.update(["utt-c", "utt-a", "utt-d"], [0.5, 1.0 / 3.0, float("nan")])
    path = tmp_path / "scores.npz"
    t.save(path)
    u = ScoreTable.load(path, utt_ids=ids)
    assert u.scores() == t.scores() and u.nonfinite_total == 1 and u.ema == 0.25
    assert [p.name for p in tmp_path.iterdir()] == ["scores.npz"]
    with pytest.raises(ValueError, match="another utterance list"):
        ScoreTable.load(path, utt_ids=ids[:3])
    with pytest.raises(ValueError, match="needs the utterance id list"):
        ScoreTable.load(path)
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(ValueError, match="scores.npz"):
        ScoreTable.load(path, utt_ids=ids)


def test_values_for_reads_any_id_order():
    t = ScoreTable(utt_ids=["a", "b", "c"])
    t.update(["c", "a"], [3.0, 1.0])
    assert t.values_for(["c", "zz", "a", "b"]).tolist()[::2] == [3.0, 1.0]
    assert np.isnan(t.values_for(["c", "zz", "a", "b"])[[1, 3]]).all()
    assert t.stats_at(np.array([0, 1])) == {"min": 1.0, "mean": 1.0, "max": 1.0}
