"""Per-run state shared by the iterator factory (plans each epoch) and the trainer (scores it)."""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import hashlib
import json
import logging
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from espnet_ddp.core.atomic_io import (
    remove_stale_temporaries,
    write_bytes_atomic,
    write_json_atomic,
)
from espnet_ddp.core.epoch_arrays import EpochArrays, write_ids_file
from espnet_ddp.core.epoch_digests import record_digest
from espnet_ddp.core.score_table import ScoreTable
from espnet_ddp.core.scoring import utterance_scores_array
from espnet_ddp.core.selection import EpochSelection, select_scored
from espnet_ddp.core.time_drop import TimeDropper, ratios_by_score
from espnet_ddp.espnet.distributed import RankInfo, broadcast_object, gather_objects
from espnet_ddp.espnet.epoch_batches import BatchSpec, EpochBatches, ShapeTable, batch_positions
from espnet_ddp.espnet.frame_drop import frontend_frames
from espnet_ddp.espnet.min_length import MinKeepRule
from espnet_ddp.espnet.options import PluginOptions

if TYPE_CHECKING:  # importing it would import ESPnet's preprocessors (seconds)
    from espnet_ddp.espnet.loss_capture import CapturedLosses

RECORD_DIR = "data_pruning"


@contextlib.contextmanager
def _gc_paused():
    """No cyclic garbage collection inside: building hundreds of thousands of tuples would
    otherwise trigger collections that walk every object of the training process."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


class UtteranceValues(Mapping):
    """A read-only ``utt_id -> value`` view of arrays over the run's sorted utterances.

    What the loader workers and the frame hook read per utterance, without a per-epoch dict:
    ``positions`` (built once per run) maps an id to its index; ``present`` says which ids the
    mapping holds. Cheap to hand to forked workers (they share the parent's arrays).

    >>> m = UtteranceValues({"a": 0, "b": 1}, np.array([0, 7]), present=np.array([False, True]))
    >>> m.get("b", 0), m.get("a", 0), m.get("zz", 0), dict(m), len(m)
    (7, 0, 0, {'b': 7}, 1)
    """

    def __init__(self, positions: Mapping[str, int], *columns: np.ndarray, present=None):
        self._positions = positions
        self._columns = columns
        self._present = present if present is not None else np.ones(columns[0].size, bool)

    def __getitem__(self, utt_id: str):
        i = self._positions.get(utt_id)
        if i is None or not self._present[i]:
            raise KeyError(utt_id)
        if len(self._columns) == 1:
            return int(self._columns[0][i])
        return tuple(int(c[i]) for c in self._columns)

    def __iter__(self) -> Iterator[str]:
        ids = list(self._positions)
        return (ids[i] for i in np.flatnonzero(self._present).tolist())

    def __len__(self) -> int:
        return int(np.count_nonzero(self._present))


@dataclass
class EpochPlan:
    """What one epoch trains on: the kept utterances, their fed lengths and the global batches.

    ``fed`` is aligned with ``selection.kept_index`` (positions in the run's sorted ids).
    ``digest`` covers all of it; the ranks compare it before the first batch.
    """

    epoch: int
    selection: EpochSelection
    fed: np.ndarray
    batches: list[tuple[str, ...]]
    full_data_batches: int
    drop_ratio: float
    plan_seconds: float
    kept_samples: int = 0
    total_samples: int = 0
    extra: dict = field(default_factory=dict)
    # What time dropping removes from each kept utterance: samples (absent: nothing), or in
    # frames mode (frames made by the frontend, frames removed) of every kept utterance.
    removals: Mapping[str, int] = field(default_factory=dict)
    frame_removals: Mapping[str, tuple[int, int]] = field(default_factory=dict)
    digest: str = ""
    selection_digest: str = ""

    @property
    def fed_samples(self) -> int:
        """Samples fed in the whole epoch, as planned."""
        return int(self.fed.sum())

    @property
    def fed_lengths(self) -> dict[str, int]:
        """Utterance id -> fed length (built on use; :attr:`fed` is the array form)."""
        return dict(zip(self.selection.kept, self.fed.tolist(), strict=True))


@dataclass(frozen=True)
class FrontendFrames:
    """How ESPnet's STFT frontend frames a waveform (frames mode plans in its frames)."""

    hop_length: int
    n_fft: int
    center: bool = True

    def count(self, num_samples: np.ndarray) -> np.ndarray:
        return frontend_frames(num_samples, self.hop_length, self.n_fft, self.center)


class DataPruningRun:
    """Plans every epoch's data and turns the epoch's captured losses into the next scores.

    Responsible for: the score table and its persistence (``scores_epoch<N>.npz``, atomic, the
    last two kept, reloaded on ``--resume``, sent by rank 0 to every rank), the per-epoch record
    (``epoch<N>.json`` statistics + ``epoch<N>.npz`` per-utterance arrays, see
    :mod:`espnet_ddp.core.epoch_arrays`), and the check, before an epoch's first batch, that
    all ranks planned the same data (``rank<R>.digests``, one line per epoch, see
    :mod:`espnet_ddp.core.epoch_digests`). Every file is written atomically; the temporaries
    that a killed run left in ``data_pruning/`` are removed when the next run starts there
    (rank 0 removes those of every file but the other ranks' digest files; rank R those of its
    own). Everything per utterance is a numpy array over the sorted ids of the shape files.
    Not responsible for: capturing losses (the trainer's hooks),
    loading audio (ESPnet's dataset) or the selection rules themselves (the core).
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
        self.positions = shapes.positions
        self.dropper = TimeDropper(options.time_drop, max_epoch)
        self.table = self._empty_table()
        self._table_epoch = 0
        self._full_batches: int | None = None
        self._ids_file: str | None = None
        self.fs = options.time_drop.fs
        self.speech = shapes.lengths[shapes.speech_index]
        self.total_samples = int(self.speech.sum())
        if floors is None:
            counts = (
                np.zeros(len(self.utt_ids), dtype=np.int64)
                if shapes.text_index is None
                else shapes.lengths[shapes.text_index]
            )
            floors = min_keep.samples_for_counts(counts)
        self.floors = np.asarray(floors, dtype=np.int64).reshape(-1)
        if self.floors.size != len(self.utt_ids):
            raise ValueError(
                f"got {self.floors.size} CTC floors for {len(self.utt_ids)} utterances"
            )
        self.frames = frames
        if options.time_drop.mode == "frames" and frames is None:
            raise ValueError("--time_drop frames needs the frontend's framing")
        self._remove_stale_temporaries()

    def _digest_file(self) -> Path:
        """This rank's ``rank<R>.digests``."""
        return self.record_dir / f"rank{self.ranks.rank}.digests"

    def _remove_stale_temporaries(self) -> None:
        """Remove what a killed run's atomic writes left in ``data_pruning/``: rank 0 writes
        every file there but the other ranks' digest files, rank R only its own."""
        own = self._digest_file().name

        def mine(name: str) -> bool:
            other_rank = name.startswith("rank") and name.endswith(".digests") and name != own
            return name == own or (self.ranks.is_main and not other_rank)

        stale = remove_stale_temporaries(self.record_dir, mine)
        if stale:
            logging.warning(
                f"espnet_ddp: removed {len(stale)} unfinished write(s) of a killed run in "
                f"{self.record_dir}: {', '.join(p.name for p in stale)}"
            )

    def _empty_table(self) -> ScoreTable:
        return ScoreTable(ema=self.options.pruning.ema, utt_ids=self.utt_ids)

    def _tokens(self, utt: str) -> int:
        if self.shapes.text_index is None:
            return 0
        return self.shapes.length(self.shapes.text_index, utt)

    # -- planning ---------------------------------------------------------------------------
    def full_data_batches(self) -> int:
        """Batches per epoch on all data at full length: the reference for step counts."""
        if self._full_batches is None:
            every = np.arange(len(self.utt_ids), dtype=np.int64)
            self._full_batches = len(
                batch_positions(self.batch_spec, self.shapes, every, self.speech)
            )
        return self._full_batches

    def plan_epoch(self, epoch: int) -> EpochPlan:
        """Select, drop and batch the training data of ``epoch`` (identical on every rank).

        On a resumed run this reloads the score table, which is collective under DDP: every
        rank must call it for the same epoch (:meth:`PrunedIterFactory.build_iter` does).
        """
        t0 = time.perf_counter()
        with _gc_paused():
            plan = self._plan(epoch)
        plan.plan_seconds = time.perf_counter() - t0
        return plan

    def _plan(self, epoch: int) -> EpochPlan:
        self._ensure_table_for(epoch)
        selection = select_scored(
            self.utt_ids, self.table.values, epoch, self.max_epoch, self.options.pruning
        )
        kept = selection.kept_index
        lengths = self.speech[kept]
        fed, removals, frame_removals = self._plan_drops(selection, lengths, epoch)
        batches = batch_positions(self.batch_spec, self.shapes, kept, fed)
        selection_digest = self._selection_digest(selection)
        return EpochPlan(
            epoch=epoch,
            selection=selection,
            fed=fed,
            batches=batches.as_ids(self.utt_ids),
            full_data_batches=self.full_data_batches(),
            drop_ratio=self.options.time_drop.drop_ratio_at(epoch, self.max_epoch),
            plan_seconds=0.0,
            kept_samples=int(lengths.sum()),
            total_samples=self.total_samples,
            removals=removals,
            frame_removals=frame_removals,
            digest=self._plan_digest(selection_digest, kept, fed, batches),
            selection_digest=selection_digest,
        )

    def check_plan(self, plan: EpochPlan) -> None:
        """All ranks compare their plan digests before the epoch's first batch (collective).

        Records the selection digest in ``rank<R>.digests``; raises ``RuntimeError`` naming the
        epoch and the ranks that differ from rank 0.
        """
        t0 = time.perf_counter()
        digests = gather_objects(plan.digest, self.ranks)
        self._record_digest(plan.epoch, plan.selection_digest)
        differ = [r for r, d in enumerate(digests) if d != digests[0]]
        if differ:
            raise RuntimeError(
                f"espnet_ddp: epoch {plan.epoch}: rank(s) {differ} planned other data than rank 0 "
                f"(plan digests {[d[:12] for d in digests]}): every rank must read the same shape "
                "files, options and score table"
            )
        plan.plan_seconds += time.perf_counter() - t0

    def _selection_digest(self, selection: EpochSelection) -> str:
        """SHA-256 of the id list's digest, the kept positions and the loss weights: equal on
        two ranks (or runs) exactly when they kept the same utterances with the same weights."""
        h = hashlib.sha256(self.table.ids_digest().encode())
        h.update(np.ascontiguousarray(selection.kept_index, dtype=np.int64).tobytes())
        if selection.weights:
            weighted = sorted((self.positions[u], w) for u, w in selection.weights.items())
            h.update(np.array([p for p, _ in weighted], dtype=np.int64).tobytes())
            h.update(np.array([w for _, w in weighted], dtype=np.float64).tobytes())
        return h.hexdigest()

    def _plan_digest(
        self, selection_digest: str, kept: np.ndarray, fed: np.ndarray, batches: EpochBatches
    ) -> str:
        h = hashlib.sha256(selection_digest.encode())
        h.update(self.table.ids_digest().encode())
        for arr in (kept, fed, batches.flat, batches.offsets):
            h.update(np.ascontiguousarray(arr, dtype=np.int64).tobytes())
        return h.hexdigest()

    def _plan_drops(
        self, selection: EpochSelection, lengths: np.ndarray, epoch: int
    ) -> tuple[np.ndarray, Mapping[str, int], Mapping[str, tuple[int, int]]]:
        """How much time dropping removes from each kept utterance, and the lengths fed.

        The one place that decides it: the batches are sized with these lengths, and the loader
        workers (or the frame hook) remove exactly these counts.
        """
        cfg = self.options.time_drop
        kept = selection.kept_index
        floors = self.floors[kept]
        ratios = None
        epoch_ratio = self.dropper.ratio_at(epoch)
        if cfg.ratio_by_score and epoch_ratio > 0:
            scores = self.table.values[kept].astype(np.float64)
            ratios = ratios_by_score(scores, epoch_ratio, cfg.score_spread)
        if cfg.mode == "frames":
            hop = self.frames.hop_length
            units = self.frames.count(lengths)
            floor_units = -(-floors // hop)
        else:
            units, floor_units = lengths, floors
        removed = self.dropper.removals(selection.kept, units, floor_units, epoch, ratios)
        n = len(self.utt_ids)
        if cfg.mode == "frames":
            frames_all = np.zeros(n, dtype=np.int64)
            removed_all = np.zeros(n, dtype=np.int64)
            frames_all[kept], removed_all[kept] = units, removed
            present = np.zeros(n, dtype=bool)
            present[kept] = True
            frame_removals = UtteranceValues(
                self.positions, frames_all, removed_all, present=present
            )
            return (units - removed) * hop, {}, frame_removals
        removed_all = np.zeros(n, dtype=np.int64)
        removed_all[kept] = removed
        removals = UtteranceValues(self.positions, removed_all, present=removed_all > 0)
        return lengths - removed, removals, {}

    # -- the score table on resume ------------------------------------------------------------
    def _table_needed(self) -> bool:
        return self.options.pruning.strategy != "none" or self.options.time_drop.ratio_by_score

    def _ensure_table_for(self, epoch: int) -> None:
        """Make the table hold the scores after ``epoch - 1`` (reloading them on resume).

        Under DDP every rank takes rank 0's table (broadcast), so a rank that cannot see the
        file (no shared filesystem) still plans like the others; when rank 0 has none either,
        all ranks stop with an error naming the file.
        """
        if self._table_epoch == epoch - 1:
            return
        after = epoch - 1
        path = self.record_dir / f"scores_epoch{after}.npz"
        payload = self._table_payload(after) if self.ranks.is_main else None
        if self.ranks.distributed:
            payload = broadcast_object(payload, self.ranks)
        kind, name, data = payload
        if kind == "missing":
            if self._table_needed():
                raise RuntimeError(
                    f"espnet_ddp: epoch {epoch} is planned from the score table after epoch "
                    f"{after}, {path}, which rank 0 does not have (it is written before ESPnet's "
                    "checkpoint of that epoch): restore it, or train this experiment afresh"
                )
            logging.warning(f"espnet_ddp: no score table {path}: epoch {epoch} starts empty")
            self.table = self._empty_table()
        elif kind == "error":
            raise RuntimeError(f"espnet_ddp: cannot read the score table {name}: {data}")
        else:
            self.table = self._table_from(name, data)
            local = self.record_dir / Path(name).name
            if not self.ranks.is_main and not local.exists():
                logging.warning(
                    f"espnet_ddp: rank {self.ranks.rank} has no {local}: took rank 0's score table"
                )
            logging.info(f"espnet_ddp: resumed the score table from {name}")
        self._table_epoch = after

    def _table_payload(self, after: int) -> tuple[str, str, bytes | str | None]:
        """(``ok``, path, bytes) of the newest format present, or (``missing``/``error``, ...)."""
        for suffix in (".npz", ".json"):  # .json: written by versions before the binary table
            path = self.record_dir / f"scores_epoch{after}{suffix}"
            try:
                return "ok", str(path), path.read_bytes()
            except FileNotFoundError:
                continue
            except OSError as e:
                return "error", str(path), str(e)
        return "missing", str(self.record_dir / f"scores_epoch{after}.npz"), None

    def _table_from(self, name: str, data: bytes) -> ScoreTable:
        ema = self.options.pruning.ema
        if name.endswith(".npz"):
            return ScoreTable.from_bytes(data, self.utt_ids, ema, source=name)
        try:
            state = json.loads(data.decode("utf-8"))
            scores = state["scores"]
            state["scores"] = {u: v for u, v in scores.items() if u in self.positions}
        except (ValueError, KeyError, TypeError, AttributeError) as e:
            raise ValueError(f"corrupt score table {name}: {e}") from e
        table = self._empty_table()
        try:
            table.load_state_dict(state)
        except (TypeError, ValueError) as e:
            raise ValueError(f"corrupt score table {name}: {e}") from e
        return table

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
        with _gc_paused():
            record = self._finish(plan, captured, has_ctc, has_att)
        # Ranks step together under DDP, so the local count is the job's count.
        record.update(
            train_seconds=train_seconds,
            optimizer_steps=int(optimizer_steps),
            selection_digest=plan.selection_digest,
        )
        record["plugin_seconds"] = plugin_seconds + plan.plan_seconds + time.perf_counter() - t0
        if self.ranks.is_main:
            write_json_atomic(self.record_dir / f"epoch{plan.epoch}.json", record)
        return record

    def _finish(
        self, plan: EpochPlan, captured: CapturedLosses, has_ctc: bool, has_att: bool
    ) -> dict:
        # Each rank turns its ids into positions; only numbers travel between ranks.
        local = _RankLosses(
            positions=self.shapes.index_of(captured.utt_ids).astype(np.int32),
            ctc=np.asarray(captured.ctc, dtype=np.float64),
            att=np.asarray(captured.att, dtype=np.float64),
            tokens=np.asarray(captured.tokens, dtype=np.int64),
            counts=dataclasses.replace(captured, utt_ids=[], ctc=[], att=[], tokens=[]),
        )
        gathered: Sequence[_RankLosses] = gather_objects(local, self.ranks)
        parts = [g.counts for g in gathered]
        seen = np.concatenate([g.positions for g in gathered]).astype(np.int64)
        cfg = self.options.pruning
        scores = utterance_scores_array(
            np.concatenate([g.ctc for g in gathered]),
            np.concatenate([g.att for g in gathered]),
            np.concatenate([g.tokens for g in gathered]),
            score=cfg.score,
            ctc_weight=cfg.ctc_weight if cfg.ctc_weight is not None else 0.5,
            normalize=cfg.normalize,
            has_ctc=has_ctc,
            has_att=has_att,
        )
        nonfinite = self.table.update_at(seen, scores)
        if nonfinite:
            logging.warning(
                f"espnet_ddp: epoch {plan.epoch}: {nonfinite} utterance(s) had a non-finite loss; "
                "their previous scores were kept"
            )
        self._table_epoch = plan.epoch
        record = self._record(plan, nonfinite, parts)
        if self.ranks.is_main:
            self._write_arrays(plan, seen, scores, record)
            self.table.save(self.record_dir / f"scores_epoch{plan.epoch}.npz")
            for suffix in (".npz", ".json"):
                (self.record_dir / f"scores_epoch{plan.epoch - 2}{suffix}").unlink(missing_ok=True)
        return record

    def _write_arrays(self, plan: EpochPlan, seen: np.ndarray, scores: np.ndarray, record: dict):
        """``epoch<N>.npz`` (and, once, the id list it indexes); names them in the record."""
        digest = self.table.ids_digest()
        if self._ids_file is None:
            self._ids_file = write_ids_file(self.record_dir, self.utt_ids, digest)
        sel = plan.selection
        weights = {self.positions[u]: w for u, w in sel.weights.items()}
        arrays = EpochArrays.build(
            self.utt_ids, sel.kept_index, seen, scores, weights, digest=digest
        )
        name = f"epoch{plan.epoch}.npz"
        write_bytes_atomic(self.record_dir / name, arrays.to_bytes())
        record.update(utterances=name, utterance_ids=self._ids_file)

    def _record_digest(self, epoch: int, digest: str) -> None:
        """This epoch's line of ``rank<R>.digests`` (one per epoch, the latest plan wins)."""
        path = self._digest_file()
        change = record_digest(path, epoch, digest)
        if change.replaced is not None:
            logging.warning(
                f"espnet_ddp: {path}: epoch {epoch} was recorded with selection digest "
                f"{change.replaced[:12]} and is now planned as {digest[:12]}: it selects other "
                "data than when it was planned before (the run was started again, or its shape "
                "files or score table changed); the new digest replaces the old one"
            )
        if change.dropped_epochs:
            logging.info(
                f"espnet_ddp: {path}: dropped the lines of epoch(s) {change.dropped_epochs}, "
                f"planned by an earlier run after epoch {epoch}"
            )
        if change.malformed:
            logging.warning(f"espnet_ddp: {path}: dropped malformed line(s) {change.malformed}")

    def _drop_record(self, plan: EpochPlan, parts: Sequence[CapturedLosses]) -> dict:
        cfg = self.options.time_drop
        out = {"mode": cfg.mode, "drop_ratio": plan.drop_ratio}
        if cfg.select == "energy":
            silent = sum(p.silent_removed_samples for p in parts)
            removed = sum(p.info_removed_samples for p in parts)
            out["removed_below_threshold"] = silent / removed if removed else 0.0
        return out

    def _record(self, plan: EpochPlan, nonfinite: int, parts: Sequence[CapturedLosses]) -> dict:
        sel = plan.selection
        stats = self.table.stats_at(sel.kept_index)
        fed_samples = sum(p.fed_samples for p in parts)
        return {
            "epoch": plan.epoch,
            "strategy": sel.strategy,
            "seed": self.options.pruning.seed,
            "time_drop_seed": self.options.time_drop.seed,
            "phase": sel.phase.kind,
            "progress": sel.phase.progress,
            "kept_utterances": len(sel.kept),
            "total_utterances": sel.total,
            "kept_ratio": sel.kept_ratio,
            "unscored_kept": sel.unscored_kept,
            "weighted_utterances": len(sel.weights),
            "kept_seconds": plan.kept_samples / self.fs,
            "total_seconds": plan.total_samples / self.fs,
            "fed_seconds": fed_samples / self.fs,
            "planned_fed_seconds": plan.fed_samples / self.fs,
            "time_drop": self._drop_record(plan, parts),
            "num_batches": len(plan.batches),
            "full_data_batches": plan.full_data_batches,
            "score_min": stats["min"],
            "score_mean": stats["mean"],
            "score_max": stats["max"],
            "scored_utterances": len(self.table),
            "nonfinite_losses": nonfinite,
            "skipped_batches": sum(p.skipped_batches for p in parts),
        }


@dataclass
class _RankLosses:
    """One rank's epoch losses as arrays over positions, plus its counters (what is gathered)."""

    positions: np.ndarray
    ctc: np.ndarray
    att: np.ndarray
    tokens: np.ndarray
    counts: CapturedLosses  # the counters only: its per-utterance lists are emptied
