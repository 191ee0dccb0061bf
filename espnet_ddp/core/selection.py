"""Which utterances train in an epoch: the pruning strategies.

Rules of :func:`select_epoch`:

* Warm-up, anneal and ``--data_pruning none`` epochs keep every utterance.
* In pruned epochs, utterances with no score yet (not in the table, e.g. new or never trained)
  are always kept, in addition to what the strategy picks; the strategy chooses among the
  ``n`` scored ones and, except for infobatch, keeps ``K = max(1, floor(keep_ratio * n + 0.5))``
  of them (round half up: 2.5 -> 3).
* Scored utterances are ordered by ``(score, utt_id)`` ascending, so ties break by id and the
  result does not depend on the order of ``utt_ids`` (duplicates are an error).
* easy: the ``K`` lowest scores. hard: the ``K`` highest.
* random: ``K`` drawn without replacement by ``epoch_rng(seed, epoch)`` from the scored ids sorted
  by id (scores play no part): reproducible, different each epoch.
* easy2hard: the contiguous window ``sorted[start:start + K]`` of the score-sorted list, with
  ``start = floor(shaped_progress * (n - K) + 0.5)``, moving from the easy end at the first
  pruned epoch to the hard end at the last (see :mod:`schedule`).
* infobatch: every scored utterance whose score is below the mean of the scored ones is dropped
  when ``utt_rng(seed, epoch, utt, stream=1).random() < prune_prob``; the kept below-mean ones
  train with loss weight ``1 / (1 - prune_prob)``, all others with weight 1 (only weights != 1
  are listed). InfoBatch's final full-data epochs are ``anneal_epochs``.

The result depends only on (ids, scores, epoch, config), so every rank computes the same one;
:meth:`EpochSelection.digest` lets the ranks check that.
"""

import hashlib
import math
import operator
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from espnet_ddp.core.config import PruningConfig
from espnet_ddp.core.rounding import round_half_up
from espnet_ddp.core.schedule import EpochPhase, pruning_phase, shaped_progress
from espnet_ddp.core.score_table import ScoreTable
from espnet_ddp.core.seeding import STREAM_INFOBATCH, epoch_rng, utt_rng


@dataclass(frozen=True)
class EpochSelection:
    """The utterances kept for one epoch, with loss weights; the same on every rank.

    Responsible for describing the choice; not for batching or sharding it (the glue's
    iterator factory does that). ``kept_index`` holds the kept utterances' positions in the
    sorted id list the selection was made from (:func:`select_scored`).

    >>> table = ScoreTable(); table.update(["a", "b", "c", "d"], [0.4, 0.1, 0.3, 0.2])
    0
    >>> cfg = PruningConfig(strategy="easy", keep_ratio=0.5)
    >>> sel = select_epoch(["a", "b", "c", "d"], table, epoch=2, max_epoch=5, cfg=cfg)
    >>> sel.kept, sel.kept_index.tolist()
    (('b', 'd'), [1, 3])
    """

    epoch: int
    strategy: str
    phase: EpochPhase
    kept: tuple[str, ...]
    weights: Mapping[str, float] = field(default_factory=dict)
    total: int = 0
    unscored_kept: int = 0
    kept_index: np.ndarray | None = field(default=None, compare=False, repr=False)

    @property
    def kept_ratio(self) -> float:
        """Fraction of the utterances kept (1.0 when there are none)."""
        return len(self.kept) / self.total if self.total else 1.0

    def digest(self) -> str:
        """SHA-256 of the kept ids (and weights): equal on all ranks iff they chose the same."""
        h = hashlib.sha256("\n".join(self.kept).encode("utf-8"))
        if self.weights:
            h.update(b"\n#weights\n")
            h.update("\n".join(f"{k}\t{self.weights[k]!r}" for k in sorted(self.weights)).encode())
        return h.hexdigest()

    def report(self) -> dict[str, Any]:
        """A small summary for logs."""
        return {
            "epoch": self.epoch,
            "strategy": self.strategy,
            "phase": self.phase.kind,
            "progress": self.phase.progress,
            "kept": len(self.kept),
            "total": self.total,
            "kept_ratio": self.kept_ratio,
            "unscored_kept": self.unscored_kept,
            "weighted": len(self.weights),
        }


def keep_count(n_scored: int, keep_ratio: float) -> int:
    """``K = max(1, floor(keep_ratio * n + 0.5))``, at most ``n`` (0 when ``n`` is 0)."""
    if n_scored == 0:
        return 0
    return min(n_scored, max(1, round_half_up(keep_ratio * n_scored)))


def select_epoch(
    utt_ids: Sequence[str], table: ScoreTable, epoch: int, max_epoch: int, cfg: PruningConfig
) -> EpochSelection:
    """Choose the utterances of ``epoch`` (1-based) following the module's rules."""
    ids = sorted(utt_ids)
    for a, b in zip(ids, ids[1:], strict=False):
        if a == b:
            raise ValueError(f"duplicate utterance id {a!r} in the training set")
    return select_scored(ids, table.values_for(ids), epoch, max_epoch, cfg)


def select_scored(
    ids: Sequence[str], scores: np.ndarray, epoch: int, max_epoch: int, cfg: PruningConfig
) -> EpochSelection:
    """:func:`select_epoch` on arrays: ``ids`` sorted and distinct, ``scores`` aligned with
    them (NaN = unscored). Vectorized except infobatch's per-utterance draws."""
    n_all = len(ids)
    scores = np.asarray(scores)
    if scores.shape != (n_all,):
        raise ValueError(f"got {n_all} utterance ids but {scores.shape} scores")
    phase = pruning_phase(epoch, max_epoch, cfg)
    if not phase.is_pruned:
        every = np.arange(n_all, dtype=np.int64)
        return EpochSelection(epoch, cfg.strategy, phase, tuple(ids), {}, n_all, 0, every)
    is_scored = ~np.isnan(scores)
    scored = np.flatnonzero(is_scored)
    unscored = np.flatnonzero(~is_scored)
    chosen, weights = _choose(ids, scores, scored, epoch, phase, cfg)
    kept_mask = ~is_scored
    kept_mask[chosen] = True
    kept_index = np.flatnonzero(kept_mask)
    return EpochSelection(
        epoch, cfg.strategy, phase, _pick(ids, kept_index), weights, n_all, int(unscored.size),
        kept_index,
    )  # fmt: skip


def argsort_by_score(scores: np.ndarray) -> np.ndarray:
    """Ascending order of finite ``scores``, ties in input order (as a stable argsort).

    Sorts unique 64-bit keys (the float32 score's order-preserving bits, then the position)
    with numpy's faster unstable sort.

    >>> argsort_by_score(np.array([0.5, -1.0, 0.5, 0.0, -0.0], dtype=np.float32)).tolist()
    [1, 3, 4, 0, 2]
    """
    bits = (np.asarray(scores, dtype=np.float32) + np.float32(0.0)).view(np.uint32)  # -0 -> +0
    flip = np.where(bits >> np.uint32(31), np.uint32(0xFFFFFFFF), np.uint32(0x80000000))
    keys = (bits ^ flip).astype(np.uint64) << np.uint64(32)
    keys |= np.arange(bits.size, dtype=np.uint64)
    return (np.sort(keys) & np.uint64(0xFFFFFFFF)).astype(np.int64)


def _pick(ids: Sequence[str], index: np.ndarray) -> tuple[str, ...]:
    if index.size == 0:
        return ()
    if index.size == 1:
        return (ids[int(index[0])],)
    return operator.itemgetter(*index.tolist())(ids)


def _choose(
    ids: Sequence[str],
    scores: np.ndarray,
    scored: np.ndarray,
    epoch: int,
    phase: EpochPhase,
    cfg: PruningConfig,
) -> tuple[np.ndarray, dict[str, float]]:
    """Apply the strategy to the ``scored`` positions (ascending, i.e. by id)."""
    n = scored.size
    if n == 0:
        return scored, {}
    if cfg.strategy == "infobatch":
        return _infobatch(ids, scores, scored, epoch, cfg)
    k = keep_count(n, cfg.keep_ratio)
    if cfg.strategy == "random":
        picks = epoch_rng(cfg.seed, epoch).choice(n, size=k, replace=False)
        return scored[picks], {}
    by_score = scored[argsort_by_score(scores[scored])]
    if cfg.strategy == "easy":
        return by_score[:k], {}
    if cfg.strategy == "hard":
        return by_score[n - k :], {}
    if cfg.strategy == "easy2hard":
        start = round_half_up(shaped_progress(phase.progress, cfg) * (n - k))
        start = min(max(start, 0), n - k)
        return by_score[start : start + k], {}
    raise AssertionError(f"unhandled strategy {cfg.strategy!r}")


def _infobatch(
    ids: Sequence[str], scores: np.ndarray, scored: np.ndarray, epoch: int, cfg: PruningConfig
) -> tuple[np.ndarray, dict[str, float]]:
    values = scores[scored].astype(np.float64)
    mean = math.fsum(values.tolist()) / values.size
    weight = 1.0 / (1.0 - cfg.prune_prob)
    keep = np.ones(scored.size, dtype=bool)
    weights: dict[str, float] = {}
    for j in np.flatnonzero(values < mean).tolist():
        u = ids[int(scored[j])]
        if utt_rng(cfg.seed, epoch, u, stream=STREAM_INFOBATCH).random() < cfg.prune_prob:
            keep[j] = False
        else:
            weights[u] = weight
    return scored[keep], weights
