"""ESPnet iterator factory that rebuilds training batches from the kept utterances each epoch."""

from __future__ import annotations

from collections.abc import Iterator

from espnet2.iterators.abs_iter_factory import AbsIterFactory
from espnet2.iterators.sequence_iter_factory import SequenceIterFactory

from espnet_ddp.espnet.pruning_run import DataPruningRun, EpochPlan
from espnet_ddp.espnet.time_drop_preprocessor import TimeDropPreprocessor


class PlannedEpochIterator:
    """One epoch's data loader, carrying the plan it was built from (read by the trainer)."""

    def __init__(self, loader, plan: EpochPlan, run: DataPruningRun) -> None:
        self.loader = loader
        self.plan = plan
        self.run = run

    def __len__(self) -> int:
        return len(self.loader)

    def __iter__(self) -> Iterator:
        return iter(self.loader)


class PrunedIterFactory(AbsIterFactory):
    """Builds each training epoch from :class:`DataPruningRun`'s plan, on ESPnet's own loader.

    Every rank computes the same plan and takes ``batch[rank::world_size]`` of each global batch,
    as ESPnet's sequence factory does, so all ranks run the same number of steps. The dataset is
    built once over all utterances; only the batches change.
    Not responsible for: validation or statistics collection (ESPnet's stock factories serve them).

    >>> factory.build_iter(3)   # doctest: +SKIP
    """

    def __init__(
        self,
        run: DataPruningRun,
        dataset,
        preprocessor: TimeDropPreprocessor | None,
        *,
        seed: int,
        num_workers: int,
        collate_fn,
        pin_memory: bool,
        shuffle_within_batch: bool = False,
    ) -> None:
        self.run = run
        self.dataset = dataset
        self.preprocessor = preprocessor
        self.seed = seed
        self.num_workers = num_workers
        self.collate_fn = collate_fn
        self.pin_memory = pin_memory
        self.shuffle_within_batch = shuffle_within_batch

    def build_iter(self, epoch: int, shuffle: bool | None = None) -> PlannedEpochIterator:
        plan = self.run.plan_epoch(epoch)
        self.run.check_plan(plan)  # all ranks agree before the first batch (collective)
        ranks = self.run.ranks
        batches = plan.batches
        if ranks.distributed:
            short = [b for b in batches if len(b) < ranks.world_size]
            if short:
                raise RuntimeError(
                    f"espnet_ddp: epoch {epoch} has a batch of {len(short[0])} utterance(s) for "
                    f"{ranks.world_size} ranks: raise --batch_bins/--batch_size"
                )
            batches = [b[ranks.rank :: ranks.world_size] for b in batches]
        if self.preprocessor is not None:
            self.preprocessor.set_epoch(epoch, plan.removals)  # before the workers fork
        loader = SequenceIterFactory(
            dataset=self.dataset,
            batches=batches,
            seed=self.seed,
            shuffle=True if shuffle is None else shuffle,
            shuffle_within_batch=self.shuffle_within_batch,
            num_workers=self.num_workers,
            collate_fn=self.collate_fn,
            pin_memory=self.pin_memory,
        ).build_iter(epoch)
        return PlannedEpochIterator(loader, plan, self.run)
