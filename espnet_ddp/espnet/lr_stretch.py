"""Keeps a step-based learning-rate schedule on its full-data trajectory per epoch."""

from __future__ import annotations

from espnet2.schedulers.abs_scheduler import AbsBatchStepScheduler


class StretchedBatchScheduler(AbsBatchStepScheduler):
    """Advances a per-step scheduler ``full / actual`` times per optimizer step.

    With pruning an epoch has fewer optimizer steps, so a warm-up or decay counted in steps would
    lag behind the full-data run at the same epoch. Wrapping the scheduler for one epoch makes it
    reach, at the end of the epoch, exactly the step count a full-data epoch would have reached
    (integer bookkeeping, no drift). ``lr_trajectory: epoch`` turns this on; ``steps`` (default)
    leaves ESPnet's behaviour unchanged.

    >>> s = StretchedBatchScheduler(inner, full_steps=10, actual_steps=4)   # doctest: +SKIP
    >>> for _ in range(4): s.step()          # inner.step() called 10 times in total
    """

    def __init__(self, inner: AbsBatchStepScheduler, full_steps: int, actual_steps: int) -> None:
        self.inner = inner
        self.full_steps = max(int(full_steps), 0)
        self.actual_steps = max(int(actual_steps), 1)
        self._done = 0
        self._inner_done = 0

    def step(self, epoch: int | None = None) -> None:
        self._done += 1
        target = min(self._done, self.actual_steps) * self.full_steps // self.actual_steps
        while self._inner_done < target:
            self.inner.step()
            self._inner_done += 1

    def state_dict(self):
        return self.inner.state_dict()

    def load_state_dict(self, state):
        self.inner.load_state_dict(state)
