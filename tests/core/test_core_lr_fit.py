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


def test_warmup_longer_than_the_run_never_decays_and_never_divides_by_zero():
    f = factors("linear", 100, [3, 3])
    assert f == [j / 100 for j in range(1, 7)]


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
