import math

import pytest

from espnet_ddp.core.config import PruningConfig
from espnet_ddp.core.schedule import pruning_phase, shaped_progress


def test_phases_and_progress():
    cfg = PruningConfig(strategy="easy2hard", warmup_epochs=2, anneal_epochs=1)
    phases = [pruning_phase(e, 8, cfg) for e in range(1, 9)]
    assert [p.kind for p in phases] == ["warmup"] * 2 + ["pruned"] * 5 + ["anneal"]
    assert [p.progress for p in phases] == [0.0, 0.0, 0.0, 0.25, 0.5, 0.75, 1.0, 0.0]


def test_single_pruned_epoch_has_progress_zero():
    cfg = PruningConfig(strategy="easy", warmup_epochs=1, anneal_epochs=1)
    assert pruning_phase(2, 3, cfg).kind == "pruned"
    assert pruning_phase(2, 3, cfg).progress == 0.0


def test_strategy_none_is_full():
    assert pruning_phase(1, 3, PruningConfig()).kind == "full"


def test_epoch_past_max_epoch():
    cfg = PruningConfig(strategy="easy2hard", warmup_epochs=1)
    assert pruning_phase(9, 5, cfg).progress == 1.0
    cfg = PruningConfig(strategy="easy2hard", warmup_epochs=1, anneal_epochs=1)
    assert pruning_phase(9, 5, cfg).kind == "anneal"


def test_epochs_are_one_based():
    with pytest.raises(ValueError):
        pruning_phase(0, 5, PruningConfig(strategy="easy"))


def test_shaped_progress():
    lin = PruningConfig(strategy="easy2hard")
    cos = PruningConfig(strategy="easy2hard", schedule="cosine")
    assert [shaped_progress(p, lin) for p in (0.0, 0.3, 1.0)] == [0.0, 0.3, 1.0]
    assert shaped_progress(0.0, cos) == 0.0 and shaped_progress(1.0, cos) == 1.0
    assert shaped_progress(0.5, cos) == pytest.approx(0.5)
    assert shaped_progress(0.25, cos) == pytest.approx((1 - math.cos(math.pi / 4)) / 2)


def test_step_schedule():
    step4 = PruningConfig(strategy="easy2hard", schedule="step", schedule_steps=4)
    got = [shaped_progress(p, step4) for p in (0.0, 0.24, 0.25, 0.5, 0.74, 0.75, 1.0)]
    assert got == [0.0, 0.0, 1 / 3, 2 / 3, 2 / 3, 1.0, 1.0]
    step2 = PruningConfig(strategy="easy2hard", schedule="step", schedule_steps=2)
    assert [shaped_progress(p, step2) for p in (0.0, 0.49, 0.5, 1.0)] == [0.0, 0.0, 1.0, 1.0]
    # Every epoch lands on the right plateau: S = 5 over 11 pruned epochs (progress i / 10).
    step5 = PruningConfig(strategy="easy2hard", schedule="step", schedule_steps=5)
    got = [shaped_progress(i / 10, step5) for i in range(11)]
    assert got == [0.0, 0.0, 0.25, 0.25, 0.5, 0.5, 0.75, 0.75, 1.0, 1.0, 1.0]
