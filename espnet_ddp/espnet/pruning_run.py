"""Per-run state shared by the iterator factory (plans each epoch) and the trainer (scores it)."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from espnet_ddp.core.atomic_io import write_json_atomic
from espnet_ddp.core.score_table import ScoreTable
from espnet_ddp.core.scoring import utterance_scores
from espnet_ddp.core.selection import EpochSelection, select_epoch
from espnet_ddp.core.time_drop import TimeDropper, ratios_by_score
from espnet_ddp.espnet.distributed import RankInfo, gather_objects
from espnet_ddp.espnet.epoch_batches import BatchSpec, ShapeTable, build_epoch_batches
from espnet_ddp.espnet.frame_drop import frontend_frames
from espnet_ddp.espnet.loss_capture import CapturedLosses
from espnet_ddp.espnet.min_length import MinKeepRule
from espnet_ddp.espnet.options import PluginOptions

RECORD_DIR = "data_pruning"


@dataclass
class EpochPlan:
    """What one epoch trains on: the kept utterances, their fed lengths and the global batches."""

    epoch: int
    selection: EpochSelection
    fed_lengths: dict[str, int]
    batches: list[tuple[str, ...]]
    full_data_batches: int
    drop_ratio: float
    plan_seconds: float
    kept_samples: int = 0
    total_samples: int = 0
    extra: dict = field(default_factory=dict)
    # What time dropping removes from each kept utterance (only those that lose something):
    # samples, or in frames mode (frames made by the frontend, frames removed).
    removals: dict[str, int] = field(default_factory=dict)
    frame_removals: dict[str, tuple[int, int]] = field(default_factory=dict)


@dataclass(frozen=True)
class FrontendFrames:
    """How ESPnet's STFT frontend frames a waveform (frames mode plans in its frames)."""

    hop_length: int
    n_fft: int
    center: bool = True

    def count(self, num_samples: np.ndarray) -> np.ndarray:
        return frontend_frames(num_samples, self.hop_length, self.n_fft, self.center)


@dataclass
class PlannedDrops:
    fed: dict[str, int]
    kept_samples: int
    removals: dict[str, int]
    frame_removals: dict[str, tuple[int, int]]


def _score_or_nan(score: float | None) -> float:
    return float("nan") if score is None else float(score)


class DataPruningRun:
    """Plans every epoch's data and turns the epoch's captured losses into the next scores.

    Responsible for: the score table and its persistence (``scores_epoch<N>.json``, atomic, the last
    two kept, reloaded on ``--resume``), the per-epoch record ``epoch<N>.json``, and the check that
    all ranks selected the same utterances. Not responsible for: capturing losses (the trainer's
    hooks), loading audio (ESPnet's dataset) or the selection rules themselves (the core).
    """

    def __init__(
        self,
        options: PluginOptions,
        shapes: ShapeTable,
        batch_spec: BatchSpec,
        output_dir: str | Path,
        max_epoch: int,
        min_keep: MinKeepRule,
        ranks: RankInfo,
        floors: np.ndarray | None = None,
        frames: FrontendFrames | None = None,
    ) -> None:
        """``floors``: each utterance's CTC floor in samples, in the order of ``shapes.utt_ids``
        (:func:`espnet_ddp.espnet.ctc_floor.ctc_floors`); by default from the shape files'
        token counts (repeats unknown). ``frames``: the frontend's framing, for frames mode."""
        self.options = options
        self.shapes = shapes
        self.batch_spec = batch_spec
        self.record_dir = Path(output_dir) / RECORD_DIR
        self.max_epoch = max_epoch
        self.min_keep = min_keep
        self.ranks = ranks
        self.utt_ids = shapes.utt_ids
        self.dropper = TimeDropper(options.time_drop, max_epoch)
        self.table = ScoreTable(ema=options.pruning.ema)
        self._table_epoch = 0
        self._full_batches: int | None = None
        self.fs = options.time_drop.fs
        if floors is None:
            counts = [self._tokens(u) for u in self.utt_ids]
            floors = min_keep.samples_for_counts(np.asarray(counts, dtype=np.int64))
        self.floors = dict(zip(self.utt_ids, np.asarray(floors, dtype=np.int64).tolist()))
        self.frames = frames
        if options.time_drop.mode == "frames" and frames is None:
            raise ValueError("--time_drop frames needs the frontend's framing")

    # -- planning ---------------------------------------------------------------------------
    def _speech_len(self, utt: str) -> int:
        return self.shapes.length(self.shapes.speech_index, utt)

    def _tokens(self, utt: str) -> int:
        if self.shapes.text_index is None:
            return 0
        return self.shapes.length(self.shapes.text_index, utt)

    def full_data_batches(self) -> int:
        """Batches per epoch on all data at full length: the reference for step counts."""
        if self._full_batches is None:
            lengths = {u: self._speech_len(u) for u in self.utt_ids}
            self._full_batches = len(
                build_epoch_batches(self.batch_spec, self.shapes, self.utt_ids, lengths)
            )
        return self._full_batches

    def _ensure_table_for(self, epoch: int) -> None:
        """Make the table hold the scores after ``epoch - 1`` (reloading them on resume)."""
        if self._table_epoch == epoch - 1:
            return
        path = self.record_dir / f"scores_epoch{epoch - 1}.json"
        if path.exists():
            self.table = ScoreTable.load(path, ema=self.options.pruning.ema)
            logging.info(f"espnet_ddp: resumed the score table from {path}")
        else:
            logging.warning(
                f"espnet_ddp: no score table {path}: epoch {epoch} starts from empty scores "
                "(every utterance counts as unscored and is kept)"
            )
            self.table = ScoreTable(ema=self.options.pruning.ema)
        self._table_epoch = epoch - 1

    def plan_epoch(self, epoch: int) -> EpochPlan:
        """Select, drop and batch the training data of ``epoch`` (identical on every rank)."""
        t0 = time.perf_counter()
        self._ensure_table_for(epoch)
        selection = select_epoch(
            self.utt_ids, self.table, epoch, self.max_epoch, self.options.pruning
        )
        drops = self._plan_drops(selection.kept, epoch)
        fed = drops.fed
        kept_samples = drops.kept_samples
        batches = build_epoch_batches(self.batch_spec, self.shapes, selection.kept, fed)
        full = self.full_data_batches()
        total_samples = sum(self._speech_len(u) for u in self.utt_ids)
        return EpochPlan(
            epoch=epoch,
            selection=selection,
            fed_lengths=fed,
            batches=batches,
            full_data_batches=full,
            drop_ratio=self.options.time_drop.drop_ratio_at(epoch, self.max_epoch),
            plan_seconds=time.perf_counter() - t0,
            kept_samples=kept_samples,
            total_samples=total_samples,
            removals=drops.removals,
            frame_removals=drops.frame_removals,
        )

    def _plan_drops(self, kept: Sequence[str], epoch: int) -> PlannedDrops:
        """How much time dropping removes from each kept utterance, and the lengths fed.

        The one place that decides it: the batches are sized with these lengths, and the loader
        workers (or the frame hook) remove exactly these counts.
        """
        cfg = self.options.time_drop
        n = np.fromiter((self._speech_len(u) for u in kept), dtype=np.int64, count=len(kept))
        floors = np.fromiter((self.floors[u] for u in kept), dtype=np.int64, count=len(kept))
        ratios = None
        epoch_ratio = self.dropper.ratio_at(epoch)
        if cfg.ratio_by_score and epoch_ratio > 0:
            scores = np.array([_score_or_nan(self.table.get(u)) for u in kept])
            ratios = ratios_by_score(scores, epoch_ratio, cfg.score_spread)
        if cfg.mode == "frames":
            hop = self.frames.hop_length
            units = self.frames.count(n)
            floor_units = -(-floors // hop)
        else:
            units, floor_units = n, floors
        removed = self.dropper.removals(kept, units, floor_units, epoch, ratios)
        if cfg.mode == "frames":
            fed_len = (units - removed) * self.frames.hop_length
            frame_removals = {
                u: (int(t), int(r)) for u, t, r in zip(kept, units, removed, strict=True)
            }
            removals: dict[str, int] = {}
        else:
            fed_len = n - removed
            frame_removals = {}
            removals = {u: int(r) for u, r in zip(kept, removed.tolist(), strict=True) if r}
        return PlannedDrops(
            fed=dict(zip(kept, fed_len.tolist(), strict=True)),
            kept_samples=int(n.sum()),
            removals=removals,
            frame_removals=frame_removals,
        )

    # -- scoring ----------------------------------------------------------------------------
    def finish_epoch(
        self,
        plan: EpochPlan,
        captured: CapturedLosses,
        *,
        train_seconds: float,
        optimizer_steps: int,
        plugin_seconds: float,
        has_ctc: bool,
        has_att: bool,
    ) -> dict:
        """Merge all ranks' losses into the table, persist it, and write the epoch record."""
        t0 = time.perf_counter()
        parts: Sequence[CapturedLosses] = gather_objects(captured, self.ranks)
        ids = [u for p in parts for u in p.utt_ids]
        cfg = self.options.pruning
        scores = utterance_scores(
            [v for p in parts for v in p.ctc],
            [v for p in parts for v in p.att],
            [v for p in parts for v in p.tokens],
            score=cfg.score,
            ctc_weight=cfg.ctc_weight if cfg.ctc_weight is not None else 0.5,
            normalize=cfg.normalize,
            has_ctc=has_ctc,
            has_att=has_att,
        )
        nonfinite = self.table.update(ids, scores)
        if nonfinite:
            logging.warning(
                f"espnet_ddp: epoch {plan.epoch}: {nonfinite} utterance(s) had a non-finite loss; "
                "their previous scores were kept"
            )
        self._table_epoch = plan.epoch
        digest = plan.selection.digest()
        digests = gather_objects(digest, self.ranks)
        self._append_digest(plan.epoch, digest)
        if len(set(digests)) != 1:
            raise RuntimeError(
                f"espnet_ddp: ranks disagree on the utterances kept in epoch {plan.epoch}: "
                f"{digests}"
            )
        record = self._record(plan, dict(zip(ids, scores, strict=True)), nonfinite, parts)
        # Ranks step together under DDP, so the local count is the job's count.
        record.update(
            train_seconds=train_seconds,
            optimizer_steps=int(optimizer_steps),
            selection_digest=digest,
        )
        if self.ranks.is_main:
            self.table.save(self.record_dir / f"scores_epoch{plan.epoch}.json")
            old = self.record_dir / f"scores_epoch{plan.epoch - 2}.json"
            old.unlink(missing_ok=True)
        record["plugin_seconds"] = plugin_seconds + plan.plan_seconds + time.perf_counter() - t0
        if self.ranks.is_main:
            write_json_atomic(self.record_dir / f"epoch{plan.epoch}.json", record)
        return record

    def _append_digest(self, epoch: int, digest: str) -> None:
        self.record_dir.mkdir(parents=True, exist_ok=True)
        with (self.record_dir / f"rank{self.ranks.rank}.digests").open("a") as f:
            f.write(f"{epoch} {digest}\n")

    def _drop_record(self, plan: EpochPlan, parts: Sequence[CapturedLosses]) -> dict:
        cfg = self.options.time_drop
        out = {"mode": cfg.mode, "drop_ratio": plan.drop_ratio}
        if cfg.select == "energy":
            silent = sum(p.silent_removed_samples for p in parts)
            removed = sum(p.info_removed_samples for p in parts)
            out["removed_below_threshold"] = silent / removed if removed else 0.0
        return out

    def _record(
        self, plan: EpochPlan, scores: dict, nonfinite: int, parts: Sequence[CapturedLosses]
    ) -> dict:
        sel = plan.selection
        stats = self.table.stats(sel.kept)
        fed_samples = sum(p.fed_samples for p in parts)
        return {
            "epoch": plan.epoch,
            "strategy": sel.strategy,
            "phase": sel.phase.kind,
            "progress": sel.phase.progress,
            "kept_utterances": len(sel.kept),
            "total_utterances": sel.total,
            "kept_ratio": sel.kept_ratio,
            "unscored_kept": sel.unscored_kept,
            "kept_seconds": plan.kept_samples / self.fs,
            "total_seconds": plan.total_samples / self.fs,
            "fed_seconds": fed_samples / self.fs,
            "planned_fed_seconds": sum(plan.fed_lengths.values()) / self.fs,
            "time_drop": self._drop_record(plan, parts),
            "num_batches": len(plan.batches),
            "full_data_batches": plan.full_data_batches,
            "score_min": stats["min"],
            "score_mean": stats["mean"],
            "score_max": stats["max"],
            "scored_utterances": len(self.table),
            "nonfinite_losses": nonfinite,
            "skipped_batches": sum(p.skipped_batches for p in parts),
            "kept": list(sel.kept),
            "weights": dict(sel.weights),
            "scores": scores,
        }
