"""ESPnet iterator factory that rebuilds training batches from the kept utterances each epoch."""

from __future__ import annotations

from collections.abc import Iterator

import torch
from espnet2.iterators.abs_iter_factory import AbsIterFactory
from espnet2.iterators.sequence_iter_factory import SequenceIterFactory

from espnet_ddp.espnet.pruning_run import DataPruningRun, EpochPlan
from espnet_ddp.espnet.time_drop_preprocessor import TimeDropPreprocessor


class PlannedEpochIterator:
    """One epoch's data loader, carrying the plan it was built from (read by the trainer).

    :meth:`start` creates the loader's iterator ahead of the training loop, so its worker
    processes fork and prefetch while ESPnet still validates the previous epoch; the loop's
    ``iter()`` then gets that iterator. Random state stays as without it: the loader draws its
    workers' base seed from torch's CPU generator seeded as ESPnet seeds the epoch
    (``set_all_random_seed(seed + epoch)``, inside a saved and restored RNG state), and the
    loop's ``iter()`` makes the one draw a fresh iterator would have made.
    """

    def __init__(
        self, loader, plan: EpochPlan, run: DataPruningRun, factory: PrunedIterFactory | None = None
    ) -> None:
        self.loader = loader
        self.plan = plan
        self.run = run
        self.factory = factory
        self._started: Iterator | None = None

    def __len__(self) -> int:
        return len(self.loader)

    def start(self, epoch_seed: int) -> None:
        """Start the workers now; ``epoch_seed`` is ESPnet's ``--seed`` plus the epoch."""
        with torch.random.fork_rng(devices=[]):
            torch.default_generator.manual_seed(epoch_seed)
            self._started = iter(self.loader)

    def start_next_epoch(self, seed: int) -> None:
        """Plan the next epoch and start its workers (no-op after the last epoch)."""
        if self.factory is not None and self.plan.epoch < self.run.max_epoch:
            self.factory.start_ahead(self.plan.epoch + 1, seed + self.plan.epoch + 1)

    def __iter__(self) -> Iterator:
        if self._started is None:
            return iter(self.loader)
        started, self._started = self._started, None
        torch.empty((), dtype=torch.int64).random_()  # the seed draw of a fresh iterator
        return started


class PrunedIterFactory(AbsIterFactory):
    """Builds each training epoch from :class:`DataPruningRun`'s plan, on ESPnet's own loader.

    Every rank computes the same plan and takes ``batch[rank::world_size]`` of each global batch,
    as ESPnet's sequence factory does, so all ranks run the same number of steps. The dataset is
    built once over all utterances; only the batches change. ESPnet's loader forks fresh worker
    processes every epoch, and a fresh worker is slow to its first items (process start, then
    copy-on-write faults on every code path it runs: more of them with time dropping), so the
    trainer has the next epoch built and its workers started as soon as an epoch's training
    loop ends (:meth:`start_ahead`), overlapping that start with ESPnet's validation.
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
        self._ahead: PlannedEpochIterator | None = None

    def build_iter(self, epoch: int, shuffle: bool | None = None) -> PlannedEpochIterator:
        ahead, self._ahead = self._ahead, None
        if ahead is not None and ahead.plan.epoch == epoch and shuffle is None:
            return ahead  # planned, checked and started while the last epoch validated
        return self._build(epoch, shuffle)

    def start_ahead(self, epoch: int, epoch_seed: int) -> None:
        """Build ``epoch`` now and start its loader's workers (see :class:`PlannedEpochIterator`).

        Called by the trainer at the end of the previous epoch's training loop, on every rank
        (planning is collective); :meth:`build_iter` then returns it.
        """
        self._ahead = None
        ahead = self._build(epoch, None)
        ahead.start(epoch_seed)
        self._ahead = ahead

    def _build(self, epoch: int, shuffle: bool | None) -> PlannedEpochIterator:
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
        return PlannedEpochIterator(loader, plan, self.run, self)
