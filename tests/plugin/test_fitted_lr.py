"""The fitted schedule in ESPnet: its options, the scheduler it installs, skipped steps."""

from __future__ import annotations

import pytest
import torch

from espnet_ddp.core.errors import ConfigError
from espnet_ddp.core.lr_fit import FittedSchedule, LRFitConfig
from espnet_ddp.espnet.fitted_lr import FittedLRScheduler
from espnet_ddp.espnet.options import plugin_options_from_args
from espnet_ddp.espnet.task import PrunedASRTask, check_plugin_args


def parse(*argv: str):
    return PrunedASRTask.get_parser().parse_args(["--output_dir", "x", *argv])


@pytest.mark.parametrize(
    "argv, warmup",
    [
        (["--scheduler", "warmuplr", "--scheduler_conf", "warmup_steps=200"], 200),
        (["--scheduler", "warmuplr"], 25000),  # WarmupLR's own default
        (["--scheduler", "none"], 0),
        (["--scheduler", "warmuplr", "--lr_fit_conf", "warmup_steps=7"], 7),  # the key wins
        (["--scheduler", "reducelronplateau", "--lr_fit_conf", "warmup_steps=0"], 0),
    ],
)
def test_warmup_is_the_baselines(argv, warmup):
    options = plugin_options_from_args(parse("--lr_fit", "cosine", *argv))
    assert options.lr_fit == LRFitConfig("cosine", warmup_steps=warmup)


@pytest.mark.parametrize(
    "argv, message",
    [
        (
            ["--scheduler", "reducelronplateau"],
            "--lr_fit replaces --scheduler reducelronplateau, which has no warmup_steps",
        ),
        (
            ["--data_pruning", "easy2hard", "--data_pruning_conf", "lr_trajectory=epoch"],
            "lr_trajectory='epoch' contradicts --lr_fit=linear",
        ),
        (["--num_iters_per_epoch", "10"], "--lr_fit linear needs --iterator_type sequence"),
        (["--use_deepspeed", "true"], "DeepSpeed builds its scheduler from --deepspeed_config"),
        (
            ["--scheduler", "warmuplr", "--scheduler_conf", "warmup_steps=1.5"],
            "--scheduler_conf warmup_steps=1.5",
        ),
    ],
)
def test_bad_combinations_are_refused_before_training(argv, message):
    with pytest.raises(ConfigError) as err:
        check_plugin_args(parse("--lr_fit", "linear", *argv))
    assert message in str(err.value)


def drive(plan: list[int], skipped: set[tuple[int, int]], accum: int = 1) -> list[float]:
    """The LR of every optimizer-step slot, as ESPnet's loop would see it with skipped steps.

    ESPnet calls ``step()`` only after a step it took; the trainer calls ``start_slot`` at the
    first batch of each accumulation group."""
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.5)
    sched = FittedLRScheduler(opt, LRFitConfig("linear", warmup_steps=3), max_epoch=len(plan))
    used = []
    for epoch, steps in enumerate(plan, 1):
        sched.begin_epoch(epoch, steps)
        for i in range(steps * accum):
            if i % accum == 0:
                sched.start_slot(i // accum + 1)
            if (i + 1) % accum == 0:
                used.append(opt.param_groups[0]["lr"])
                if (epoch, (i + 1) // accum) not in skipped:
                    sched.step()
        sched.end_epoch()
    return used


def test_skipped_steps_do_not_shift_the_schedule_or_its_end():
    plan = [6, 4, 4]
    expected = []
    core = FittedSchedule(LRFitConfig("linear", warmup_steps=3), max_epoch=3)
    for epoch, steps in enumerate(plan, 1):
        core.begin_epoch(epoch, steps)
        expected += [0.5 * core.factor(j) for j in range(1, steps + 1)]
        core.end_epoch()
    assert drive(plan, skipped=set()) == expected
    assert drive(plan, skipped={(1, 2), (2, 4), (3, 1)}) == expected
    assert drive(plan, skipped={(2, 1)}, accum=2) == expected
    assert expected[-1] == 0.0


def test_the_peak_is_the_optimizers_lr_even_after_warmuplr_changed_it():
    from espnet2.schedulers.warmup_lr import WarmupLR

    opt = torch.optim.Adam([torch.nn.Parameter(torch.zeros(1))], lr=0.004)
    WarmupLR(opt, warmup_steps=200)  # ESPnet builds it first: lr is now 0.004 / 200
    sched = FittedLRScheduler(opt, LRFitConfig("linear", warmup_steps=0), max_epoch=1)
    sched.begin_epoch(1, planned_steps=4)
    assert opt.param_groups[0]["lr"] == pytest.approx(0.004 * 0.75)


def test_state_round_trips_through_a_checkpoint_dict():
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    a = FittedLRScheduler(opt, LRFitConfig("cosine", warmup_steps=2), max_epoch=3)
    a.begin_epoch(1, 5)
    a.end_epoch()
    b = FittedLRScheduler(opt, LRFitConfig("cosine", warmup_steps=2), max_epoch=3)
    b.load_state_dict(torch.load(_saved(a.state_dict())))
    assert b.state_dict() == a.state_dict()


def _saved(state: dict):
    import io

    buf = io.BytesIO()
    torch.save(state, buf)
    buf.seek(0)
    return buf
