"""ESPnet scheduler that applies the fitted schedule (:mod:`espnet_ddp.core.lr_fit`) to optimizers.

``--lr_fit linear|cosine`` replaces the run's ``--scheduler``: :class:`PruningTrainer` swaps each
optimizer's scheduler for a :class:`FittedLRScheduler` before ESPnet's ``Trainer.run`` loads a
checkpoint, so ``checkpoint.pth`` holds this scheduler's state and ``--resume true`` continues
with the identical learning rates. The peak is the optimizer's configured ``lr``.

Per epoch the trainer calls :meth:`begin_epoch` with the planned optimizer steps, and
:meth:`start_slot` before the first batch of every accumulation group, so the LR of each step is
set from its slot in the plan, whether or not ESPnet skipped an earlier step. ESPnet's own
``step()`` call after each optimizer step sets the next slot's LR, so ``train.log``'s
``optim0_lr0`` shows the next step's LR, as it does for ESPnet's schedulers.
Not responsible for: the arithmetic (the core) or when epochs start (the trainer).
"""

from __future__ import annotations

import torch
from espnet2.schedulers.abs_scheduler import AbsBatchStepScheduler

from espnet_ddp.core.lr_fit import FittedSchedule, LRFitConfig


class FittedLRScheduler(AbsBatchStepScheduler):
    """Sets every param group's LR to its peak x the fitted factor of the current step.

    >>> sched = FittedLRScheduler(opt, LRFitConfig("linear", 200), 30)  # doctest: +SKIP
    >>> sched.begin_epoch(1, planned_steps=62)  # doctest: +SKIP
    """

    def __init__(self, optimizer: torch.optim.Optimizer, config: LRFitConfig, max_epoch: int):
        self.optimizer = optimizer
        self.peaks = [float(g.get("initial_lr", g["lr"])) for g in optimizer.param_groups]
        self.schedule = FittedSchedule(config, max_epoch)
        self.slot = 0  # optimizer steps of the current epoch already taken or skipped

    def begin_epoch(self, epoch: int, planned_steps: int) -> None:
        self.schedule.begin_epoch(epoch, planned_steps)
        self.start_slot(1)

    def start_slot(self, slot: int) -> None:
        """Set the LR of the epoch's ``slot``-th optimizer step (1-based; past the plan: no-op)."""
        self.slot = slot - 1
        if 1 <= slot <= self.schedule.planned_steps:
            factor = self.schedule.factor(slot)
            for group, peak in zip(self.optimizer.param_groups, self.peaks, strict=True):
                group["lr"] = peak * factor

    def step(self, epoch: int | None = None) -> None:
        """Called by ESPnet after each optimizer step: set the next step's LR."""
        self.start_slot(self.slot + 2)

    def end_epoch(self) -> None:
        self.schedule.end_epoch()

    def state_dict(self) -> dict:
        return {**self.schedule.state_dict(), "peaks": list(self.peaks)}

    def load_state_dict(self, state: dict) -> None:
        state = dict(state)
        peaks = state.pop("peaks", None)
        self.schedule.load_state_dict(state)
        if peaks is not None:
            self.peaks = [float(p) for p in peaks]
