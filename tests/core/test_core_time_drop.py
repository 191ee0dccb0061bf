import pickle

import numpy as np
import pytest

from espnet_ddp.core.config import TimeDropConfig
from espnet_ddp.core.errors import ConfigError
from espnet_ddp.core.seeding import utt_rng
from espnet_ddp.core.time_drop import DropPlan, TimeDropper


def _dropper(mode="chunk", max_epoch=10, **conf) -> TimeDropper:
    return TimeDropper(TimeDropConfig.from_options(mode, conf), max_epoch)


def _check_runs(plan: DropPlan, touching_allowed: bool = False) -> None:
    starts, lengths = plan.starts, plan.lengths
    assert starts.dtype == np.int64 and lengths.dtype == np.int64
    assert np.all(lengths >= 1)
    assert np.all(np.diff(starts) > 0)
    ends = starts + lengths
    if starts.size:
        assert starts[0] >= 0 and ends[-1] <= plan.num_samples
        if touching_allowed:
            assert np.all(starts[1:] >= ends[:-1])
        else:
            assert np.all(starts[1:] > ends[:-1])  # at least one kept sample between chunks


def test_default_chunks_exact():
    d = _dropper(drop_ratio=0.3)
    plan = d.plan("utt1", 16000, epoch=1)
    assert plan.num_removed == 4800 and plan.kept_length == 11200
    assert plan.lengths.tolist() == [320] * 15  # 20 ms at 16 kHz
    _check_runs(plan)


@pytest.mark.parametrize(
    "chunk_ms, expected",
    [(30, [480] * 10), (35, [320] + [560] * 8), (25, [400] * 12), (0.01, None)],
)
def test_fixed_chunk_lengths(chunk_ms, expected):
    plan = _dropper(drop_ratio=0.3, chunk_ms=chunk_ms).plan("u", 16000, 1)
    assert plan.num_removed == 4800
    if expected is None:  # 0.16 samples rounds to 0: chunks of at least one sample
        expected = [1] * 4800
        _check_runs(plan, touching_allowed=True)
    else:
        _check_runs(plan)
        assert sorted(plan.lengths.tolist()) == expected


def test_remainder_chunk_position_is_shuffled():
    d = _dropper(drop_ratio=0.3, chunk_ms=35)
    where = {int(np.flatnonzero(d.plan(f"u{i}", 16000, 1).lengths == 320)[0]) for i in range(40)}
    assert len(where) > 3


@pytest.mark.parametrize("k", [1, 7, 10])
def test_num_chunks_exact_count_near_equal(k):
    plan = _dropper(drop_ratio=0.3, num_chunks=k).plan("u", 16000, 1)
    assert plan.num_removed == 4800 and plan.lengths.size == k
    assert plan.lengths.max() - plan.lengths.min() <= 1
    _check_runs(plan)


def test_num_chunks_more_than_samples_to_drop():
    plan = _dropper(drop_ratio=0.03, num_chunks=10, min_keep_ms=0).plan("u", 100, 1)
    assert plan.lengths.tolist() == [1, 1, 1]


def test_point_mode():
    d = _dropper("point", drop_ratio=0.3)
    plan = d.plan("u", 16000, 1)
    assert plan.num_removed == 4800 and plan.lengths.size == 4800
    assert np.all(plan.lengths == 1)
    assert np.unique(plan.starts).size == 4800
    _check_runs(plan, touching_allowed=True)


def test_too_many_chunks_for_gaps_fall_back_to_merged_runs():
    # L = 1 sample, 90 chunks but only 10 kept samples (11 gaps): chunks must share gaps.
    d = _dropper(drop_ratio=0.9, chunk_ms=0.0625, min_keep_ms=0)
    for i in range(20):
        plan = d.plan(f"u{i}", 100, 1)
        assert plan.num_removed == 90
        _check_runs(plan)  # touching runs were merged
        assert plan.lengths.size <= 11


def test_short_utterance_rule():
    d = _dropper(drop_ratio=0.3, min_keep_ms=200)  # floor_keep = 3200 samples
    assert d.num_to_remove("u", 10000, 1) == 3000  # 7000 left: unaffected
    assert d.num_to_remove("u", 4000, 1) == 800  # would leave 2800: dropped less
    assert d.num_to_remove("u", 3200, 1) == 0  # at the floor: kept whole
    assert d.num_to_remove("u", 3000, 1) == 0
    assert d.num_to_remove("u", 10000, 1, min_keep_samples=9000) == 1000
    assert d.num_to_remove("u", 10000, 1, min_keep_samples=100) == 3000
    assert d.plan("u", 4000, 1).kept_length == 3200
    assert d.num_to_remove("u", 0, 1) == 0


def test_prob_decides_per_utterance():
    d = _dropper(drop_ratio=0.3, prob=0.4, seed=5)
    ids = [f"utt{i}" for i in range(1000)]
    dropped = [d.num_to_remove(u, 16000, 3) > 0 for u in ids]
    expected = [utt_rng(5, 3, u, stream=0).random() < 0.4 for u in ids]
    assert dropped == expected
    assert 330 < sum(dropped) < 470


def test_warmup_and_anneal_epochs_drop_nothing():
    d = _dropper(drop_ratio=0.3, warmup_epochs=1, anneal_epochs=2, max_epoch=6)
    removed = [d.num_to_remove("u", 16000, e) for e in range(1, 7)]
    assert removed == [0, 4800, 4800, 4800, 0, 0]
    assert d.plan("u", 16000, 1).num_removed == 0
    assert d.fed_length("u", 16000, 6) == 16000
    assert _dropper("none").fed_length("u", 16000, 1) == 16000


def test_deterministic_and_varies():
    def starts(seed=0, epoch=2, utt="u1"):
        return _dropper(drop_ratio=0.3, seed=seed).plan(utt, 16000, epoch).starts.tolist()

    assert starts() == starts()
    assert starts() != starts(epoch=3)
    assert starts() != starts(utt="u2")
    assert starts() != starts(seed=1)


def test_positions_cover_the_utterance():
    d = _dropper(drop_ratio=0.3, num_chunks=1, min_keep_ms=0)
    firsts = np.array([d.plan(f"u{i}", 1000, 1).starts[0] for i in range(400)])
    assert firsts.min() < 50 and firsts.max() > 650  # start can be anywhere in 0..700
    assert 250 < firsts.mean() < 450


@pytest.mark.parametrize(
    "mode, conf",
    [
        ("chunk", {}),
        ("chunk", {"chunk_ms": 3, "drop_ratio": 0.6}),
        ("chunk", {"num_chunks": 10, "prob": 0.5}),
        ("chunk", {"chunk_ms": 0.0625, "drop_ratio": 0.8, "min_keep_ms": 0}),
        ("point", {"drop_ratio": 0.5, "min_keep_ms": 1}),
    ],
)
def test_fed_length_matches_plan_and_apply(mode, conf):
    d = _dropper(mode, **conf)
    rng = np.random.default_rng(0)
    lengths = np.concatenate([[0, 1, 2, 3, 16, 3199, 3200, 3201], rng.integers(1, 40000, 150)])
    for i, n in enumerate(lengths.tolist()):
        utt, mk = f"utt{i}", int(rng.integers(0, 2000))
        plan = d.plan(utt, n, 2, min_keep_samples=mk)
        _check_runs(plan, touching_allowed=mode == "point")
        out = d.apply(np.arange(n), plan)
        assert d.fed_length(utt, n, 2, min_keep_samples=mk) == plan.kept_length == len(out)
        assert plan.num_removed == d.num_to_remove(utt, n, 2, min_keep_samples=mk)


def test_apply_keeps_the_right_samples():
    d = _dropper(drop_ratio=0.3, chunk_ms=5)
    n = 8000
    plan = d.plan("u", n, 1)
    removed = set()
    for s, length in zip(plan.starts.tolist(), plan.lengths.tolist(), strict=True):
        removed.update(range(s, s + length))
    expected = [i for i in range(n) if i not in removed]
    assert d.apply(np.arange(n), plan).tolist() == expected
    assert plan.removed_indices().tolist() == sorted(removed)


def test_apply_two_dimensional():
    d = _dropper("point", drop_ratio=0.25)
    n = 8000
    wav = np.stack([np.arange(n), -np.arange(n)], axis=1).astype(np.float32)
    plan = d.plan("u", n, 1)
    out = d.apply(wav, plan)
    assert out.shape == (6000, 2) and out.dtype == np.float32
    assert np.array_equal(out[:, 0], -out[:, 1])
    assert np.array_equal(out[:, 0], d.apply(np.arange(n), plan))


def test_apply_checks_length_and_passes_through_empty_plans():
    d = _dropper()
    with pytest.raises(ValueError, match="16001 samples but the plan is for 16000"):
        d.apply(np.zeros(16001), d.plan("u", 16000, 1))
    wav = np.zeros(100)
    assert d.apply(wav, DropPlan.empty(100)) is wav


def test_drop_plan_validation_and_mask():
    plan = DropPlan(10, np.array([2, 6]), np.array([2, 1]))
    assert plan.keep_mask().tolist() == [1, 1, 0, 0, 1, 1, 0, 1, 1, 1]
    assert DropPlan(3, np.array([0, 1]), np.array([1, 1])).keep_mask().tolist() == [0, 0, 1]
    bad = [([2, 3], [2, 1]), ([8], [3]), ([-1], [1]), ([1], [0]), ([5, 2], [1, 1])]
    for starts, lengths in bad:
        with pytest.raises(ValueError):
            DropPlan(10, np.array(starts), np.array(lengths))


def test_max_epoch_validated():
    with pytest.raises(ValueError):
        TimeDropper(TimeDropConfig(mode="chunk"), 0)


def test_dropper_pickles_for_loader_workers():
    d = _dropper(drop_ratio=0.3, prob=0.5)
    again = pickle.loads(pickle.dumps(d))
    for i in range(20):
        a, b = again.plan(f"u{i}", 16000, 2), d.plan(f"u{i}", 16000, 2)
        assert a.starts.tolist() == b.starts.tolist()


def test_crossfade_blends_each_splice_exactly():
    # 0.25 ms at 16 kHz = 4 samples; k per run = min(4, run length, kept samples up to the next run)
    d = _dropper(drop_ratio=0.3, crossfade_ms=0.25, min_keep_ms=0)
    x = np.arange(20, dtype=np.float64) ** 2
    plan = DropPlan(20, np.array([0, 5, 12]), np.array([2, 4, 3]))
    y = d.apply(x, plan)
    plain = x[plan.keep_mask()]
    assert y.shape == plain.shape == (11,)
    w3 = 0.5 - 0.5 * np.cos(np.pi * (np.arange(3) + 0.5) / 3)
    expected = plain.copy()
    expected[3:6] = (1 - w3) * x[5:8] + w3 * x[9:12]  # run 5..8: k = 3 (3 kept before 12)
    expected[6:9] = (1 - w3) * x[12:15] + w3 * x[15:18]  # run 12..14: k = 3 (its length)
    np.testing.assert_allclose(y, expected)  # the run at 0 has nothing before it: no fade


def test_crossfade_removes_the_click_and_keeps_lengths():
    t = np.arange(16000) / 16000
    wav = np.sin(2 * np.pi * 220 * t).astype(np.float32)
    hard = _dropper(drop_ratio=0.3)
    soft = _dropper(drop_ratio=0.3, crossfade_ms=2.5)
    plan = hard.plan("utt1", wav.size, epoch=1)
    assert soft.plan("utt1", wav.size, epoch=1).starts.tolist() == plan.starts.tolist()
    a, b = hard.apply(wav, plan), soft.apply(wav, plan)
    assert a.shape == b.shape == (11200,) and b.dtype == np.float32
    step = 2 * np.sin(np.pi * 220 / 16000)  # the largest step of the clean sine
    assert np.abs(np.diff(a)).max() > 5 * step  # hard splices jump
    assert np.abs(np.diff(b)).max() < 1.5 * step  # faded splices do not
    ints = soft.apply((wav * 1000).astype(np.int16), plan)
    assert ints.dtype == np.int16 and ints.shape == (11200,)


def test_crossfade_must_not_be_negative():
    with pytest.raises(ConfigError, match="crossfade_ms"):
        _dropper(crossfade_ms=-1)
