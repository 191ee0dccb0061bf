"""Per-run state shared by the iterator factory (plans each epoch) and the trainer (scores it)."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from espnet_ddp.core.atomic_io import write_json_atomic
from espnet_ddp.core.score_table import ScoreTable
from espnet_ddp.core.scoring import utterance_scores
from espnet_ddp.core.selection import EpochSelection, select_epoch
from espnet_ddp.core.time_drop import TimeDropper
from espnet_ddp.espnet.distributed import RankInfo, gather_objects
from espnet_ddp.espnet.epoch_batches import BatchSpec, ShapeTable, build_epoch_batches
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
    ) -> None:
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
        fed = {}
        kept_samples = 0
        for utt in selection.kept:
            n = self._speech_len(utt)
            kept_samples += n
            floor = self.min_keep.samples_for_length(self._tokens(utt))
            fed[utt] = self.dropper.fed_length(utt, n, epoch, floor)
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
            "time_drop": {"mode": self.options.time_drop.mode, "drop_ratio": plan.drop_ratio},
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
