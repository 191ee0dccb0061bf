"""The full-data learning-rate trajectory option for step-based schedulers."""

from __future__ import annotations

import torch
from espnet2.schedulers.warmup_lr import WarmupLR

from espnet_ddp.espnet.lr_stretch import StretchedBatchScheduler


def lr_after(steps_per_epoch: int, epochs: int, full: int | None = None) -> float:
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    sched = WarmupLR(opt, warmup_steps=25)
    for _ in range(epochs):
        s = sched if full is None else StretchedBatchScheduler(sched, full, steps_per_epoch)
        for _ in range(steps_per_epoch):
            opt.step()
            s.step()
    return opt.param_groups[0]["lr"]


def test_stretched_pruned_epochs_end_on_the_full_data_learning_rate():
    full = lr_after(10, 3)
    assert lr_after(7, 3, full=10) == full
    assert lr_after(7, 3) != full  # without stretching the pruned run lags behind


def test_stretch_advances_evenly_within_the_epoch():
    calls = []

    class Counter:
        def step(self):
            calls.append(len(calls))

    s = StretchedBatchScheduler(Counter(), full_steps=10, actual_steps=4)
    counts = []
    for _ in range(4):
        s.step()
        counts.append(len(calls))
    assert counts == [2, 5, 7, 10]
