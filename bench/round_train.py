"""``espnet_ddp.bin.asr_train`` that stops after a given number of epochs, for interleaved rounds.

Benchmarks alternate two trainings (baseline, pruned) a few epochs at a time so that machine noise
hits both alike. ``--max_epoch`` must stay the same across rounds (the Easy2hard schedule and the
LR schedule depend on it), so a round ends instead when the next epoch is about to train: that
epoch's ``epoch started`` line is logged, its batches are planned (no side effects), then the
process exits 0. The previous epoch's ``checkpoint.pth`` and score table are already written,
so ``--resume true`` continues exactly there.

    python bench/round_train.py --round_epochs 2 --resume true --max_epoch 7 <asr_train args>
"""

from __future__ import annotations

import sys

from espnet_ddp.espnet.pruning_trainer import PruningTrainer
from espnet_ddp.espnet.task import PrunedASRTask


class RoundOver(Exception):
    """Raised at the start of the first epoch beyond this round."""


class RoundTrainer(PruningTrainer):
    """The plugin's trainer, refusing to start more than ``epochs_left`` epochs."""

    epochs_left: int = 0

    @classmethod
    def train_one_epoch(cls, *args, **kwargs):
        if cls.epochs_left <= 0:
            raise RoundOver
        cls.epochs_left -= 1
        return super().train_one_epoch(*args, **kwargs)


class RoundTask(PrunedASRTask):
    """The plugin's task with :class:`RoundTrainer`."""

    trainer = RoundTrainer


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] != ["--round_epochs"] or len(argv) < 2:
        print("usage: round_train.py --round_epochs N <asr_train args>", file=sys.stderr)
        return 2
    RoundTrainer.epochs_left = int(argv[1])
    try:
        RoundTask.main(cmd=argv[2:])
    except RoundOver:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
