"""Time-wise waveform dropping: which samples of an utterance are removed in an epoch.

Rules of :class:`TimeDropper` (``n`` samples, the "short utterance rule" is step 3):

1. ``ratio = cfg.drop_ratio_at(epoch, max_epoch)`` (0 in warm-up/anneal epochs and for mode none).
   With ``prob < 1`` the utterance is dropped at all only when
   ``utt_rng(seed, epoch, utt, stream=0).random() < prob``.
2. ``D = floor(ratio * n)`` samples are removed, exactly.
3. ``floor_keep = max(min_keep_samples, round(min_keep_ms * fs / 1000))`` and
   ``D = min(D, max(0, n - floor_keep))``: an utterance that dropping would leave shorter than
   ``floor_keep`` is dropped less, and one of at most ``floor_keep`` samples is kept whole.
4. chunk mode, fixed length: ``L = max(1, round(chunk_ms * fs / 1000))``; ``D // L`` chunks of
   ``L`` plus one chunk of ``D % L`` when non-zero. With ``num_chunks = k``: ``min(k, D)`` chunks
   whose sizes differ by at most 1. The chunk lengths are shuffled, then ``m`` chunks go into
   ``m`` distinct gaps among the ``K = n - D`` kept samples (gaps ``0..K``, uniform without
   replacement), so chunks never touch or overlap: at least one kept sample separates two chunks.
   Should ``m > K + 1`` (tiny chunks with a high ratio), gaps may repeat and touching chunks are
   merged into one run.
5. point mode: ``D`` distinct sample positions, uniform; each a run of length 1.
6. Splicing (:meth:`TimeDropper.apply`): with ``crossfade_ms > 0``, the first ``k`` kept samples
   after each removed run that has kept audio on both sides fade in (raised cosine) over the
   samples the run would have continued with, ``k = min(round(crossfade_ms * fs / 1000), run
   length, kept samples up to the next run)``. The length is unchanged (exactly ``n - D``); only
   the click at the splice goes: without it, every splice puts a broadband step into the
   spectrogram frames around it.

7. energy selection (``select: energy``, chunk mode; :meth:`TimeDropper.place` needs the
   waveform): the waveform is cut into a grid of whole chunks; a grid chunk whose mean power is
   more than ``silence_db`` below the loudest grid chunk's is silent. Full-length chunks go first
   into the silent grid chunks, quietest first (ties: earlier first), as many as there are; the
   remaining chunks are placed by rule 4 among the samples left. ``DropPlan.below_threshold``
   counts the removed samples that lie in silent grid chunks.
8. frames mode counts frames instead of samples (``hop_length`` samples each); its chunks are
   ``block_frames`` long and ``min_keep_ms`` becomes ``ceil(min_keep_ms * fs / 1000 / hop)``
   frames. Tempo mode removes no sample: :meth:`TimeDropper.shorten` time-compresses the whole
   waveform to ``n - D`` samples (:mod:`wsola`).
9. ``ratio_by_score`` (:func:`ratios_by_score`): the planner gives each utterance its own ratio,
   which replaces the epoch's ratio in step 2 (the schedule's zero epochs stay zero).

Rounding is half up everywhere (:mod:`rounding`). Steps 4-5 draw from
``utt_rng(seed, epoch, utt, stream=2)``, a stream of its own (infobatch uses stream 1).
Everything depends only on (seed, epoch, utt id, n), so data-loader workers, ranks and resumed
runs agree, and :meth:`TimeDropper.fed_length` (cheap: no placement) always equals the length
:meth:`TimeDropper.apply` produces.
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from espnet_ddp.core.config import TimeDropConfig
from espnet_ddp.core.rounding import floor_tolerant, round_half_up
from espnet_ddp.core.seeding import STREAM_DROP_GATE, STREAM_DROP_PLACE, utt_rng
from espnet_ddp.core.wsola import time_compress

_EMPTY = np.zeros(0, dtype=np.int64)


@dataclass(frozen=True, eq=False)
class DropPlan:
    """The sample runs removed from one utterance: sorted, within bounds, non-overlapping.

    >>> plan = DropPlan(10, np.array([2, 6]), np.array([2, 1]))
    >>> plan.num_removed, plan.kept_length, plan.keep_mask().nonzero()[0].tolist()
    (3, 7, [0, 1, 4, 5, 7, 8, 9])
    """

    num_samples: int
    starts: np.ndarray
    lengths: np.ndarray
    below_threshold: int = 0

    def __post_init__(self) -> None:
        starts = np.asarray(self.starts, dtype=np.int64).reshape(-1)
        lengths = np.asarray(self.lengths, dtype=np.int64).reshape(-1)
        object.__setattr__(self, "num_samples", int(self.num_samples))
        object.__setattr__(self, "starts", starts)
        object.__setattr__(self, "lengths", lengths)
        if self.num_samples < 0:
            raise ValueError(f"num_samples must be >= 0, got {self.num_samples}")
        if starts.shape != lengths.shape:
            raise ValueError("starts and lengths must have the same length")
        if starts.size == 0:
            return
        ends = starts + lengths
        if (
            lengths.min() < 1
            or starts[0] < 0
            or ends[-1] > self.num_samples
            or np.any(starts[1:] < ends[:-1])
        ):
            raise ValueError("drop runs must be sorted, non-empty, in bounds and non-overlapping")

    @classmethod
    def empty(cls, num_samples: int) -> "DropPlan":
        """A plan that removes nothing."""
        return cls(num_samples, _EMPTY, _EMPTY)

    @classmethod
    def from_indices(
        cls, num_samples: int, removed: np.ndarray, below_threshold: int = 0
    ) -> "DropPlan":
        """The plan removing exactly these (sorted, distinct) indices, as maximal runs.

        >>> p = DropPlan.from_indices(10, np.array([1, 2, 3, 7]))
        >>> p.starts.tolist(), p.lengths.tolist()
        ([1, 7], [3, 1])
        """
        removed = np.asarray(removed, dtype=np.int64)
        if removed.size == 0:
            return cls(num_samples, _EMPTY, _EMPTY, below_threshold)
        new_run = np.concatenate(([True], np.diff(removed) != 1))
        first = np.flatnonzero(new_run)
        last = np.concatenate((first[1:], [removed.size])) - 1
        return cls(
            num_samples, removed[first], removed[last] - removed[first] + 1, below_threshold
        )

    @property
    def num_removed(self) -> int:
        return int(self.lengths.sum())

    @property
    def kept_length(self) -> int:
        return self.num_samples - self.num_removed

    def keep_mask(self) -> np.ndarray:
        """Boolean mask of length ``num_samples``, False on removed samples."""
        mask = np.ones(self.num_samples, dtype=bool)
        if self.starts.size == 0:
            return mask
        if np.all(self.lengths == 1):
            mask[self.starts] = False
            return mask
        mask[self.removed_indices()] = False
        return mask

    def removed_before(self) -> np.ndarray:
        """Samples removed before each run: run i starts at ``starts[i] - removed_before()[i]``
        in the shortened waveform."""
        return np.cumsum(self.lengths) - self.lengths

    def removed_indices(self) -> np.ndarray:
        """Sorted indices of the removed samples (int64)."""
        # Sample j of run i sits at starts[i] + j; with offsets = the run's first position in the
        # concatenation of all runs, that is arange(D) + repeat(starts - offsets, lengths).
        return np.arange(self.num_removed, dtype=np.int64) + np.repeat(
            self.starts - self.removed_before(), self.lengths
        )


class TimeDropper:
    """Plans and applies per-utterance waveform drops for one epoch.

    Deterministic in (seed, epoch, utt id).

    Responsible for how many samples go and where (see the module's rules); not for reading
    audio, nor for deciding which data split is dropped (training only: the glue's business).

    >>> cfg = TimeDropConfig(mode="chunk", drop_ratio=0.3, min_keep_ms=0)
    >>> dropper = TimeDropper(cfg, max_epoch=10)
    >>> plan = dropper.plan("utt1", 16000, epoch=1)
    >>> plan.num_removed, len(plan.starts), dropper.fed_length("utt1", 16000, epoch=1)
    (4800, 15, 11200)
    >>> dropper.apply(np.zeros(16000, dtype=np.float32), plan).shape
    (11200,)
    """

    def __init__(self, cfg: TimeDropConfig, max_epoch: int) -> None:
        if isinstance(max_epoch, bool) or not isinstance(max_epoch, int) or max_epoch < 1:
            raise ValueError(f"max_epoch must be an integer >= 1, got {max_epoch!r}")
        self.cfg = cfg
        self.max_epoch = max_epoch
        keep = cfg.min_keep_ms * cfg.fs / 1000.0
        if cfg.mode == "frames":
            self._min_keep_samples = math.ceil(keep / cfg.hop_length - 1e-9)
            self._chunk_len: int | None = int(cfg.block_frames or 1)
        else:
            self._min_keep_samples = round_half_up(keep)
            chunk_ms = cfg.effective_chunk_ms
            self._chunk_len = (
                None if chunk_ms is None else max(1, round_half_up(chunk_ms * cfg.fs / 1000.0))
            )
        self._crossfade = round_half_up(cfg.crossfade_ms * cfg.fs / 1000.0)

    @property
    def unit(self) -> str:
        """What :meth:`num_to_remove` counts: ``frames`` in frames mode, ``samples`` otherwise."""
        return "frames" if self.cfg.mode == "frames" else "samples"

    def ratio_at(self, epoch: int) -> float:
        """The epoch's drop ratio (0 in warm-up and anneal epochs and for mode none)."""
        return self.cfg.drop_ratio_at(epoch, self.max_epoch)

    def num_to_remove(
        self,
        utt_id: str,
        num_samples: int,
        epoch: int,
        min_keep_samples: int = 0,
        ratio: float | None = None,
    ) -> int:
        """How many samples (frames in frames mode) of this utterance go in ``epoch`` (rules 1-3).

        ``ratio`` replaces the epoch's ratio (rule 9) except where the epoch's ratio is 0.
        """
        if num_samples < 0 or min_keep_samples < 0:
            raise ValueError(
                f"num_samples and min_keep_samples must be >= 0, got {num_samples}, "
                f"{min_keep_samples}"
            )
        cfg = self.cfg
        epoch_ratio = cfg.drop_ratio_at(epoch, self.max_epoch)
        if epoch_ratio <= 0.0:
            return 0
        if ratio is None:
            ratio = epoch_ratio
        if ratio <= 0.0 or num_samples == 0:
            return 0
        if cfg.prob < 1.0:
            if utt_rng(cfg.seed, epoch, utt_id, stream=STREAM_DROP_GATE).random() >= cfg.prob:
                return 0
        drop = floor_tolerant(ratio * num_samples)
        floor_keep = max(int(min_keep_samples), self._min_keep_samples)
        return min(drop, max(0, num_samples - floor_keep))

    def fed_length(
        self, utt_id: str, num_samples: int, epoch: int, min_keep_samples: int = 0
    ) -> int:
        """The length after dropping, without placing the drops (for batching by length)."""
        return num_samples - self.num_to_remove(utt_id, num_samples, epoch, min_keep_samples)

    def removals(
        self,
        utt_ids: Sequence[str],
        lengths: np.ndarray,
        floors: np.ndarray,
        epoch: int,
        ratios: np.ndarray | None = None,
    ) -> np.ndarray:
        """:meth:`num_to_remove` for many utterances at once (vectorized; int64).

        >>> d = TimeDropper(TimeDropConfig("chunk", drop_ratio=0.3, min_keep_ms=0), 10)
        >>> d.removals(["a", "b"], np.array([1000, 100]), np.array([0, 90]), epoch=2).tolist()
        [300, 10]
        """
        lengths = np.asarray(lengths, dtype=np.int64)
        floors = np.maximum(np.asarray(floors, dtype=np.int64), self._min_keep_samples)
        if lengths.shape != floors.shape or len(utt_ids) != lengths.size:
            raise ValueError("utt_ids, lengths and floors must have the same length")
        epoch_ratio = self.cfg.drop_ratio_at(epoch, self.max_epoch)
        if epoch_ratio <= 0.0 or lengths.size == 0:
            return np.zeros(lengths.size, dtype=np.int64)
        ratio = np.full(lengths.size, epoch_ratio) if ratios is None else np.asarray(ratios)
        drop = np.floor(ratio * lengths + 1e-9).astype(np.int64)
        drop = np.minimum(drop, np.maximum(0, lengths - floors))
        drop[ratio <= 0.0] = 0
        if self.cfg.prob < 1.0:
            seed, prob = self.cfg.seed, self.cfg.prob
            for i in np.flatnonzero(drop):
                if utt_rng(seed, epoch, utt_ids[i], stream=STREAM_DROP_GATE).random() >= prob:
                    drop[i] = 0
        return drop

    def plan(
        self, utt_id: str, num_samples: int, epoch: int, min_keep_samples: int = 0
    ) -> DropPlan:
        """Where the samples of this utterance are removed in ``epoch`` (rules 4-5)."""
        drop = self.num_to_remove(utt_id, num_samples, epoch, min_keep_samples)
        return self.place(utt_id, num_samples, drop, epoch)

    def place(
        self,
        utt_id: str,
        num_samples: int,
        drop: int,
        epoch: int,
        wav: np.ndarray | None = None,
    ) -> DropPlan:
        """Where ``drop`` samples (frames) of this utterance go in ``epoch`` (rules 4-5, 7-8).

        ``wav`` is needed by ``select: energy`` only.
        """
        if not 0 <= drop <= num_samples:
            raise ValueError(f"drop must be in [0, {num_samples}], got {drop}")
        if drop == 0:
            return DropPlan.empty(num_samples)
        if self.cfg.mode == "tempo":
            raise ValueError("tempo mode removes no samples: use TimeDropper.shorten")
        rng = utt_rng(self.cfg.seed, epoch, utt_id, stream=STREAM_DROP_PLACE)
        if self.cfg.mode == "point":
            points = np.sort(rng.choice(num_samples, size=drop, replace=False, shuffle=False))
            return DropPlan(num_samples, points.astype(np.int64), np.ones(drop, dtype=np.int64))
        lengths = self._chunk_lengths(drop)
        rng.shuffle(lengths)
        if self.cfg.select == "energy":
            if wav is None or wav.shape[0] != num_samples:
                raise ValueError("select=energy needs the utterance's waveform")
            return _place_energy_first(
                wav, lengths, int(self._chunk_len or lengths.max()), self.cfg.silence_db, rng
            )
        return _place_chunks(num_samples, lengths, rng)

    def shorten(
        self, utt_id: str, wav: np.ndarray, drop: int, epoch: int
    ) -> tuple[np.ndarray, DropPlan | None]:
        """Remove ``drop`` samples' worth of ``wav`` along axis 0; returns (audio, plan).

        Chunk and point modes place and remove runs (the plan says where); tempo mode
        time-compresses the whole waveform to ``len(wav) - drop`` samples (plan ``None``).
        """
        n = int(wav.shape[0])
        if self.cfg.mode == "tempo":
            if not 0 <= drop <= n:
                raise ValueError(f"drop must be in [0, {n}], got {drop}")
            return (time_compress(wav, n - drop, self.cfg.fs) if drop else wav), None
        plan = self.place(utt_id, n, drop, epoch, wav)
        return self.apply(wav, plan), plan

    def apply(self, wav: np.ndarray, plan: DropPlan) -> np.ndarray:
        """Remove the planned samples along axis 0 (``(T,)`` or ``(T, C)``).

        Returns ``wav`` itself when nothing is removed, a new array otherwise.
        """
        if wav.shape[0] != plan.num_samples:
            raise ValueError(
                f"waveform has {wav.shape[0]} samples but the plan is for {plan.num_samples}"
            )
        if plan.starts.size == 0:
            return wav
        out = wav[plan.keep_mask()]
        if self._crossfade > 0:
            _crossfade_splices(wav, out, plan, self._crossfade)
        return out

    def _chunk_lengths(self, drop: int) -> np.ndarray:
        if self._chunk_len is not None:
            count, rest = divmod(drop, self._chunk_len)
            lengths = np.full(count + (1 if rest else 0), self._chunk_len, dtype=np.int64)
            if rest:
                lengths[-1] = rest
            return lengths
        m = min(int(self.cfg.num_chunks), drop)
        base, extra = divmod(drop, m)
        lengths = np.full(m, base, dtype=np.int64)
        lengths[:extra] += 1
        return lengths


def _crossfade_splices(wav: np.ndarray, out: np.ndarray, plan: DropPlan, k_max: int) -> None:
    """Fades ``out`` (``wav`` with the runs removed) across each splice, in place (rule 6)."""
    starts, lengths = plan.starts, plan.lengths
    ends = starts + lengths
    next_starts = np.concatenate((starts[1:], [plan.num_samples]))
    k = np.minimum(np.minimum(lengths, next_starts - ends), k_max)
    k[starts == 0] = 0  # nothing kept before the run: no splice
    used = k > 0
    if not used.any():
        return
    k, starts, ends = k[used], starts[used], ends[used]
    splice_at = starts - plan.removed_before()[used]  # position of the run in ``out``
    j = np.arange(int(k.sum()), dtype=np.int64) - np.repeat(np.cumsum(k) - k, k)
    width = np.repeat(k, k)
    w = 0.5 - 0.5 * np.cos(np.pi * (j + 0.5) / width)  # 0 -> 1: from the left side to the right
    left = wav[np.repeat(starts, k) + j].astype(np.float64)
    right = wav[np.repeat(ends, k) + j].astype(np.float64)
    if wav.ndim > 1:
        w = w.reshape(-1, *([1] * (wav.ndim - 1)))
    mixed = (1.0 - w) * left + w * right
    if np.issubdtype(out.dtype, np.integer):
        mixed = np.rint(mixed)
    out[np.repeat(splice_at, k) + j] = mixed.astype(out.dtype)


def _place_chunks(num_samples: int, lengths: np.ndarray, rng: np.random.Generator) -> DropPlan:
    """Put the chunks (in the given order) into distinct gaps between the kept samples."""
    m = lengths.size
    kept = num_samples - int(lengths.sum())
    if m <= kept + 1:
        gaps = np.sort(rng.choice(kept + 1, size=m, replace=False, shuffle=False))
    else:
        gaps = np.sort(rng.integers(0, kept + 1, size=m))
    offsets = np.concatenate(([0], np.cumsum(lengths)[:-1]))
    starts = gaps.astype(np.int64) + offsets
    if m > kept + 1:
        starts, lengths = _merge_touching(starts, lengths)
    return DropPlan(num_samples, starts, lengths)


def _place_energy_first(
    wav: np.ndarray,
    lengths: np.ndarray,
    chunk_len: int,
    silence_db: float,
    rng: np.random.Generator,
) -> DropPlan:
    """Rule 7: full-length chunks into the quietest silent grid chunks, the rest by rule 4."""
    n = int(wav.shape[0])
    x = wav.astype(np.float64, copy=False)
    power = x.reshape(n, -1).mean(axis=1) ** 2 if x.ndim > 1 else x * x
    cells = n // chunk_len
    if cells == 0:
        return _place_chunks(n, lengths, rng)
    cell_power = power[: cells * chunk_len].reshape(cells, chunk_len).mean(axis=1)
    db = 10.0 * np.log10(cell_power + 1e-20)
    silent = db < db.max() - silence_db
    full = np.flatnonzero(lengths == chunk_len)
    order = np.lexsort((np.arange(cells), db))  # quietest first, earlier on ties
    chosen = np.sort(order[silent[order]][: full.size])
    rest = np.delete(lengths, full[: chosen.size])
    removed = (chosen[:, None] * chunk_len + np.arange(chunk_len)).reshape(-1)
    if rest.size:
        left = np.ones(n, dtype=bool)
        left[removed] = False
        positions = np.flatnonzero(left)
        inner = _place_chunks(positions.size, rest, rng)
        left[positions[inner.removed_indices()]] = False
        removed = np.flatnonzero(~left)  # sorted, without sorting
    in_silence = silent[np.minimum(removed // chunk_len, cells - 1)] & (removed < cells * chunk_len)
    return DropPlan.from_indices(n, removed, int(np.count_nonzero(in_silence)))


def ratios_by_score(scores: np.ndarray, ratio: float, spread: float) -> np.ndarray:
    """Per-utterance drop ratios that fall linearly with the score rank, with mean ``ratio``.

    ``scores`` are in tie-broken rank order's terms: NaN marks an unscored utterance, which gets
    ``ratio``. Among the ``m`` scored ones, the one of rank ``r`` (0 = lowest score = easiest)
    gets ``ratio * (1 + s * (1 - 2 * (r + 0.5) / m))`` with ``s = min(spread, 0.95 / ratio - 1)``,
    so no ratio exceeds 0.95 and the mean over the scored utterances is exactly ``ratio``.
    Equal scores keep their input order (stable sort): pass them sorted by utterance id.

    >>> ratios_by_score(np.array([3.0, 1.0, np.nan, 2.0]), 0.3, 1.0).round(2).tolist()
    [0.1, 0.5, 0.3, 0.3]
    """
    scores = np.asarray(scores, dtype=np.float64)
    out = np.full(scores.size, float(ratio))
    scored = np.flatnonzero(~np.isnan(scores))
    m = scored.size
    if m == 0 or ratio <= 0.0:
        return out
    s = min(float(spread), 0.95 / ratio - 1.0)
    ranks = np.empty(m, dtype=np.float64)
    ranks[np.argsort(scores[scored], kind="stable")] = np.arange(m)
    out[scored] = ratio * (1.0 + s * (1.0 - 2.0 * (ranks + 0.5) / m))
    return out


def _merge_touching(starts: np.ndarray, lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Merge runs where one ends exactly where the next starts (inputs sorted, non-overlapping)."""
    ends = starts + lengths
    new_run = np.concatenate(([True], starts[1:] != ends[:-1]))
    first = np.flatnonzero(new_run)
    last = np.concatenate((first[1:], [starts.size])) - 1
    return starts[first], ends[last] - starts[first]
