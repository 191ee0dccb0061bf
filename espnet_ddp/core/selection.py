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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from espnet_ddp.core.config import PruningConfig
from espnet_ddp.core.rounding import round_half_up
from espnet_ddp.core.schedule import EpochPhase, pruning_phase, shaped_progress
from espnet_ddp.core.score_table import ScoreTable
from espnet_ddp.core.seeding import STREAM_INFOBATCH, epoch_rng, utt_rng


@dataclass(frozen=True)
class EpochSelection:
    """The utterances kept for one epoch, with loss weights; the same on every rank.

    Responsible for describing the choice; not for batching or sharding it (the glue's
    iterator factory does that).

    >>> table = ScoreTable(); table.update(["a", "b", "c", "d"], [0.4, 0.1, 0.3, 0.2])
    0
    >>> cfg = PruningConfig(strategy="easy", keep_ratio=0.5)
    >>> select_epoch(["a", "b", "c", "d"], table, epoch=2, max_epoch=5, cfg=cfg).kept
    ('b', 'd')
    """

    epoch: int
    strategy: str
    phase: EpochPhase
    kept: tuple[str, ...]
    weights: Mapping[str, float] = field(default_factory=dict)
    total: int = 0
    unscored_kept: int = 0

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
    phase = pruning_phase(epoch, max_epoch, cfg)
    if not phase.is_pruned:
        return EpochSelection(epoch, cfg.strategy, phase, tuple(ids), {}, len(ids), 0)

    scored: list[tuple[float, str]] = []
    unscored: list[str] = []
    for u in ids:
        s = table.get(u)
        if s is None:
            unscored.append(u)
        else:
            scored.append((s, u))
    chosen, weights = _choose(scored, epoch, phase, cfg)
    kept = tuple(sorted(chosen + unscored))
    return EpochSelection(
        epoch, cfg.strategy, phase, kept, weights, len(ids), len(unscored)
    )


def _choose(
    scored: list[tuple[float, str]], epoch: int, phase: EpochPhase, cfg: PruningConfig
) -> tuple[list[str], dict[str, float]]:
    """Apply the strategy to ``scored`` (``(score, id)`` pairs sorted by id)."""
    n = len(scored)
    if n == 0:
        return [], {}
    if cfg.strategy == "infobatch":
        return _infobatch(scored, epoch, cfg)
    k = keep_count(n, cfg.keep_ratio)
    if cfg.strategy == "random":
        picks = epoch_rng(cfg.seed, epoch).choice(n, size=k, replace=False)
        return [scored[i][1] for i in picks.tolist()], {}
    by_score = [u for _, u in sorted(scored)]
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
    scored: list[tuple[float, str]], epoch: int, cfg: PruningConfig
) -> tuple[list[str], dict[str, float]]:
    mean = math.fsum(s for s, _ in scored) / len(scored)
    weight = 1.0 / (1.0 - cfg.prune_prob)
    kept: list[str] = []
    weights: dict[str, float] = {}
    for s, u in scored:
        if s < mean:
            if utt_rng(cfg.seed, epoch, u, stream=STREAM_INFOBATCH).random() < cfg.prune_prob:
                continue
            weights[u] = weight
        kept.append(u)
    return kept, weights
