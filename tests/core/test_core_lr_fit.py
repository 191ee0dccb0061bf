"""The fitted schedule's arithmetic: warm-up in steps, decay in progress, exact end, resume."""

from __future__ import annotations

import math

import pytest

from espnet_ddp.core.errors import ConfigError
from espnet_ddp.core.lr_fit import FittedSchedule, LRFitConfig


def factors(decay: str, warmup: int, plan: list[int], state: dict | None = None) -> list[float]:
    """Every step's factor over epochs with ``plan[e - 1]`` planned steps each."""
    s = FittedSchedule(LRFitConfig(decay, warmup_steps=warmup), max_epoch=len(plan))
    if state is not None:
        s.load_state_dict(state)
    out = []
    for epoch, steps in enumerate(plan, 1):
        s.begin_epoch(epoch, steps)
        out += [s.factor(j) for j in range(1, steps + 1)]
        s.end_epoch()
    return out


def test_warmup_is_linear_in_steps_and_peaks_at_the_warmup_step():
    f = factors("linear", 4, [10, 10])
    assert f[:4] == [0.25, 0.5, 0.75, 1.0]
    assert max(f) == 1.0 and f.index(1.0) == 3  # step 4, as warmuplr's peak


def test_linear_decay_ends_at_zero_on_the_last_step_of_a_pruned_run():
    # epoch 1: 10 steps (full data), epochs 2-3: 6 and 5 steps (pruned)
    f = factors("linear", 2, [10, 6, 5])
    assert f[-1] == 0.0 and all(x > 0 for x in f[:-1])
    # progress at the end of step 2 is 2/10/3; step 3 of epoch 3 ends at (2 + 3/5)/3
    end_w, p = (2 / 10) / 3, (2 + 3 / 5) / 3
    assert f[10 + 6 + 2] == pytest.approx(1 - (p - end_w) / (1 - end_w))


def test_cosine_decay_is_half_a_cosine_over_the_decay_span():
    f = factors("cosine", 0, [4, 4])
    assert f == pytest.approx([0.5 * (1 + math.cos(math.pi * j / 8)) for j in range(1, 9)])
    assert f[-1] == pytest.approx(0.0, abs=1e-12)


def test_decay_follows_progress_not_steps():
    """Two runs with different step counts are at the same factor at the same progress."""
    full, pruned = factors("linear", 0, [8, 8]), factors("linear", 0, [8, 4])
    assert full[8 + 3] == pruned[8 + 1]  # both end at progress (1 + 1/2) / 2
    assert full[-1] == pruned[-1] == 0.0


def test_resume_continues_with_the_identical_sequence():
    plan = [10, 6, 5, 7]
    whole = factors("linear", 12, plan)  # warm-up ends in epoch 2
    s = FittedSchedule(LRFitConfig("linear", warmup_steps=12), max_epoch=4)
    first = []
    for epoch, steps in enumerate(plan[:2], 1):
        s.begin_epoch(epoch, steps)
        first += [s.factor(j) for j in range(1, steps + 1)]
        s.end_epoch()
    state = s.state_dict()
    resumed = FittedSchedule(LRFitConfig("linear", warmup_steps=12), max_epoch=4)
    resumed.load_state_dict(state)
    rest = []
    for epoch, steps in enumerate(plan[2:], 3):
        resumed.begin_epoch(epoch, steps)
        rest += [resumed.factor(j) for j in range(1, steps + 1)]
        resumed.end_epoch()
    assert first + rest == whole


def test_a_foreign_or_mismatched_state_is_refused():
    s = FittedSchedule(LRFitConfig("linear", warmup_steps=3), max_epoch=2)
    with pytest.raises(ValueError, match="not a state of the fitted LR schedule"):
        s.load_state_dict({"warmup_steps": 25000, "last_epoch": 7, "_step_count": 8})
    other = FittedSchedule(LRFitConfig("cosine", warmup_steps=3), max_epoch=2).state_dict()
    with pytest.raises(ValueError, match="lr_fit='cosine'"):
        s.load_state_dict(other)


def test_a_run_shorter_than_its_warmup_still_decays_to_zero():
    # 100 warm-up steps, 6 planned: the warm-up becomes a quarter of 6, one step
    s = FittedSchedule(LRFitConfig("linear", warmup_steps=100), max_epoch=2)
    s.begin_epoch(1, 3)
    assert s.shortened == (100, 1) and s.warmup == 1
    f = factors("linear", 100, [3, 3])
    assert f[0] == 1.0 and f[-1] == 0.0 and max(f) == 1.0
    assert all(a > b for a, b in zip(f, f[1:]))  # decays from the first step on


def test_a_warmup_within_a_quarter_of_the_run_is_kept():
    s = FittedSchedule(LRFitConfig("linear", warmup_steps=5), max_epoch=2)
    s.begin_epoch(1, 10)
    assert s.shortened is None and s.warmup == 5
    assert factors("linear", 5, [10, 10])[:5] == [0.2, 0.4, 0.6, 0.8, 1.0]


@pytest.mark.parametrize("share", [0.3, 0.5, 0.7, 0.8, 0.9, 1.0])
@pytest.mark.parametrize("decay", ["linear", "cosine"])
def test_every_budget_of_a_stock_shaped_plan_decays(share, decay):
    """LibriSpeech-100's conformer: 15,000 warm-up steps, ~350 optimizer steps an epoch, 70
    epochs; a budget run of ``share`` of them (a pruned one plans fewer steps after epoch 1)."""
    epochs = max(1, int(share * 70 + 0.5))
    plan = [350] + [245] * (epochs - 1)  # keep 0.7 after the first epoch
    f = factors(decay, 15000, plan)
    peak = max(f)
    assert peak == pytest.approx(1.0)
    assert f[-1] <= 0.02 * peak
    s = FittedSchedule(LRFitConfig(decay, warmup_steps=15000), max_epoch=epochs)
    s.begin_epoch(1, 350)
    planned = 350 * epochs
    if 15000 > planned // 4:
        assert s.shortened == (15000, planned // 4)
    else:
        assert s.shortened is None


def test_the_warmup_used_is_kept_across_resume():
    whole = factors("linear", 100, [4, 4, 4])
    s = FittedSchedule(LRFitConfig("linear", warmup_steps=100), max_epoch=3)
    s.begin_epoch(1, 4)
    first = [s.factor(j) for j in range(1, 5)]
    s.end_epoch()
    state = s.state_dict()
    assert state["warmup_used"] == 3
    rest = factors_from(state, "linear", 100, [4, 4, 4], start=2)
    assert first + rest == whole
    old = {k: v for k, v in state.items() if k != "warmup_used"}  # a checkpoint before the cap
    FittedSchedule(LRFitConfig("linear", warmup_steps=100), max_epoch=3).load_state_dict(old)


def factors_from(state: dict, decay: str, warmup: int, plan: list[int], start: int) -> list:
    s = FittedSchedule(LRFitConfig(decay, warmup_steps=warmup), max_epoch=len(plan))
    s.load_state_dict(state)
    out = []
    for epoch in range(start, len(plan) + 1):
        s.begin_epoch(epoch, plan[epoch - 1])
        out += [s.factor(j) for j in range(1, plan[epoch - 1] + 1)]
        s.end_epoch()
    return out


@pytest.mark.parametrize(
    "decay, conf, message",
    [
        ("step", {}, "--lr_fit='step': must be one of none, linear, cosine"),
        ("linear", {"warmup_steps": -1}, "--lr_fit_conf warmup_steps=-1: must be >= 0"),
        ("linear", {"warmup_steps": 2.5}, "--lr_fit_conf warmup_steps=2.5: must be an integer"),
        ("linear", {"final": 0}, "--lr_fit_conf: unknown key(s) final"),
    ],
)
def test_bad_settings_name_the_option(decay, conf, message):
    with pytest.raises(ConfigError) as err:
        LRFitConfig.from_options(decay, conf)
    assert message in str(err.value)
