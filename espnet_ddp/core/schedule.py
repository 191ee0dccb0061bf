"""Where an epoch stands in a pruning run: warm-up, pruned, anneal, or full data.

Epochs are 1-based as in ESPnet. With ``W = warmup_epochs`` and ``A = anneal_epochs``, epochs
``1..W`` are warm-up (full data, so every utterance gets a score), ``W+1..max_epoch-A`` are pruned
and the last ``A`` epochs are anneal (full data again). Warm-up wins when the two overlap, and
epochs past ``max_epoch`` (a run extended on resume) count as anneal when ``A > 0``, otherwise as
the last pruned epoch. :func:`shaped_progress` bends the position inside the pruned epochs for
Easy2hard's window.

>>> cfg = PruningConfig(strategy="easy2hard", warmup_epochs=1)
>>> [pruning_phase(e, 5, cfg).progress for e in range(1, 6)]
[0.0, 0.0, 0.3333333333333333, 0.6666666666666666, 1.0]
"""

import math
from dataclasses import dataclass

from espnet_ddp.core.config import PruningConfig

PHASES = ("warmup", "pruned", "anneal", "full")


@dataclass(frozen=True)
class EpochPhase:
    """The phase of one epoch and, for pruned epochs, the position inside the pruned span."""

    kind: str
    progress: float

    @property
    def is_pruned(self) -> bool:
        return self.kind == "pruned"


def _check_epochs(epoch: int, max_epoch: int) -> None:
    if epoch < 1 or max_epoch < 1:
        raise ValueError(f"epochs are 1-based: got epoch={epoch}, max_epoch={max_epoch}")


def pruning_phase(epoch: int, max_epoch: int, cfg: PruningConfig) -> EpochPhase:
    """The phase of ``epoch``; ``progress`` is 0 at the first pruned epoch and 1 at the last.

    ``progress`` is 0 when there is a single pruned epoch, and 0 outside pruned epochs.
    """
    _check_epochs(epoch, max_epoch)
    if cfg.strategy == "none":
        return EpochPhase("full", 0.0)
    if epoch <= cfg.warmup_epochs:
        return EpochPhase("warmup", 0.0)
    first = cfg.warmup_epochs + 1
    last = max_epoch - cfg.anneal_epochs
    if epoch > last and cfg.anneal_epochs > 0:
        return EpochPhase("anneal", 0.0)
    if last <= first:
        return EpochPhase("pruned", 0.0)
    return EpochPhase("pruned", min(1.0, (epoch - first) / (last - first)))


def shaped_progress(progress: float, cfg: PruningConfig) -> float:
    """Map linear progress in [0, 1] through ``cfg.schedule``.

    linear: ``p``; cosine: ``(1 - cos(pi p)) / 2`` (slow at both ends); step:
    ``min(floor(p S), S - 1) / (S - 1)`` with ``S = schedule_steps`` (S plateaus from 0 to 1).
    """
    p = min(1.0, max(0.0, float(progress)))
    if cfg.schedule == "linear":
        return p
    if cfg.schedule == "cosine":
        return (1.0 - math.cos(math.pi * p)) / 2.0
    steps = cfg.schedule_steps
    return min(math.floor(p * steps), steps - 1) / (steps - 1)
