"""Per-utterance training scores: the run's only state besides ESPnet's checkpoint."""

import hashlib
import io
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from espnet_ddp.core.atomic_io import write_bytes_atomic, write_text_atomic

STATE_VERSION = 1
ARRAY_VERSION = 2
_STATE_KEYS = frozenset({"version", "ema", "scores", "nonfinite_total"})
_ARRAY_KEYS = frozenset({"version", "ema", "nonfinite_total", "ids_sha256", "values"})


def ids_digest(utt_ids: Sequence[str]) -> str:
    """SHA-256 of an utterance id list (in its order): names the list binary files index into.

    >>> ids_digest(["a", "b"])[:12]
    '7e18f737311b'
    """
    return hashlib.sha256("\n".join(utt_ids).encode("utf-8")).hexdigest()


def last_occurrences(index: np.ndarray, size: int) -> np.ndarray:
    """Positions in ``index`` of the last occurrence of each value (values in ``[0, size)``).

    >>> last_occurrences(np.array([4, 1, 4, 2]), 5).tolist()
    [1, 2, 3]
    """
    index = np.asarray(index, dtype=np.int64)
    if index.size == 0 or np.bincount(index, minlength=size).max() <= 1:
        return np.arange(index.size, dtype=np.int64)
    return np.sort(index.size - 1 - np.unique(index[::-1], return_index=True)[1])


class ScoreTable:
    """Per-utterance training scores (last value seen, optional EMA), stored as float32.

    Non-finite values are counted, never stored.

    Responsible for remembering the latest score of every utterance and for saving it safely;
    not for computing scores (the glue hooks the losses, see :mod:`scoring`), nor for gathering
    them across ranks, nor for choosing utterances (:mod:`selection`).

    Rules:

    * an utterance that is not updated keeps its last score (stale scores are kept);
    * with ``ema > 0`` an update stores ``ema * old + (1 - ema) * new``; the first score of an
      utterance is stored as is;
    * a NaN or infinite score is skipped and counted; the old score (if any) stays;
    * when one update carries the same utterance id twice, the later finite value wins (only one
      EMA step is applied);
    * scores are rounded to float32 when stored (training losses are float32), so a saved and
      reloaded table, and every rank, hold exactly the same values.

    The table keeps its utterances in a fixed order (``utt_ids``, extended by ids it has not
    seen), so whole epochs are merged and read as arrays (:meth:`update_at`, :attr:`values`).

    >>> table = ScoreTable(ema=0.5)
    >>> table.update(["a", "b"], [2.0, float("nan")])
    1
    >>> table.update(["a"], [4.0])
    0
    >>> table.get("a"), "b" in table, table.nonfinite_total
    (3.0, False, 1)
    """

    def __init__(self, ema: float = 0.0, utt_ids: Sequence[str] = ()) -> None:
        if isinstance(ema, bool) or not (0.0 <= float(ema) < 1.0):
            raise ValueError(f"ema must be in [0, 1), got {ema!r}")
        self.ema = float(ema)
        self._ids: list[str] = []
        self._pos: dict[str, int] = {}
        self._values = np.empty(0, dtype=np.float32)
        self._nonfinite_total = 0
        self._digest: str | None = None
        self._add_ids(utt_ids)

    # -- ids ----------------------------------------------------------------------------------
    def _add_ids(self, utt_ids: Iterable[str]) -> None:
        new = []
        for utt_id in utt_ids:
            if not isinstance(utt_id, str):
                raise TypeError(f"utterance ids must be str, got {type(utt_id).__name__}")
            if utt_id not in self._pos:
                self._pos[utt_id] = len(self._ids)
                self._ids.append(utt_id)
                new.append(utt_id)
        if new:
            pad = np.full(len(new), np.nan, dtype=np.float32)
            self._values = np.concatenate((self._values, pad))
            self._digest = None

    @property
    def utt_ids(self) -> list[str]:
        """The table's utterances in its order (scored or not); do not modify."""
        return self._ids

    @property
    def values(self) -> np.ndarray:
        """Scores in the order of :attr:`utt_ids` (float32, NaN where none yet), read-only."""
        view = self._values.view()
        view.flags.writeable = False
        return view

    def ids_digest(self) -> str:
        """:func:`ids_digest` of :attr:`utt_ids` (cached)."""
        if self._digest is None:
            self._digest = ids_digest(self._ids)
        return self._digest

    def values_for(self, utt_ids: Sequence[str]) -> np.ndarray:
        """Scores of ``utt_ids`` (float32, NaN for unscored or unknown ids)."""
        if len(utt_ids) == len(self._ids) and list(utt_ids) == self._ids:
            return self._values.copy()
        pos = self._pos
        index = np.fromiter((pos.get(u, -1) for u in utt_ids), dtype=np.int64, count=len(utt_ids))
        out = np.full(index.size, np.nan, dtype=np.float32)
        known = index >= 0
        out[known] = self._values[index[known]]
        return out

    # -- updates ------------------------------------------------------------------------------
    def update(self, utt_ids: Sequence[str], scores: Sequence[float]) -> int:
        """Record one score per utterance; return how many non-finite scores were skipped."""
        if len(utt_ids) != len(scores):
            raise ValueError(f"got {len(utt_ids)} utterance ids but {len(scores)} scores")
        self._add_ids(utt_ids)
        pos = self._pos
        index = np.fromiter((pos[u] for u in utt_ids), dtype=np.int64, count=len(utt_ids))
        return self.update_at(index, np.asarray(scores, dtype=np.float64))

    def update_at(self, index: np.ndarray, scores: np.ndarray) -> int:
        """:meth:`update` by positions in :attr:`utt_ids` (vectorized); returns the skipped."""
        index = np.asarray(index, dtype=np.int64).reshape(-1)
        scores = np.asarray(scores, dtype=np.float64).reshape(-1)
        if index.size != scores.size:
            raise ValueError(f"got {index.size} positions but {scores.size} scores")
        if index.size and (index.min() < 0 or index.max() >= len(self._ids)):
            raise IndexError("score table position out of range")
        finite = np.isfinite(scores)
        skipped = int(index.size - np.count_nonzero(finite))
        index, scores = index[finite], scores[finite]
        last = last_occurrences(index, len(self._ids))  # the later of two values wins
        index, new = index[last], scores[last].astype(np.float32)
        old = self._values[index]
        if self.ema > 0.0:
            b = self.ema
            blended = (b * old.astype(np.float64) + (1.0 - b) * new.astype(np.float64)).astype(
                np.float32
            )
            new = np.where(np.isnan(old), new, blended)
        self._values[index] = new
        self._nonfinite_total += skipped
        return skipped

    # -- reading ------------------------------------------------------------------------------
    def get(self, utt_id: str) -> float | None:
        """The score of ``utt_id``, or ``None`` when it has none yet."""
        i = self._pos.get(utt_id)
        if i is None or math.isnan(self._values[i]):
            return None
        return float(self._values[i])

    def __contains__(self, utt_id: object) -> bool:
        return isinstance(utt_id, str) and self.get(utt_id) is not None

    def __len__(self) -> int:
        return int(np.count_nonzero(~np.isnan(self._values)))

    def scores(self) -> dict[str, float]:
        """A copy of all scores."""
        scored = np.flatnonzero(~np.isnan(self._values))
        return dict(
            zip([self._ids[i] for i in scored.tolist()], self._values[scored].tolist(), strict=True)
        )

    @property
    def nonfinite_total(self) -> int:
        """How many non-finite scores were skipped since the table was created (kept on save)."""
        return self._nonfinite_total

    def stats(self, utt_ids: Iterable[str] | None = None) -> dict[str, float | None]:
        """``{"min", "mean", "max"}`` over the scored utterances among ``utt_ids`` (default: all).

        All three are ``None`` when none of them has a score.
        """
        if utt_ids is None:
            return self.stats_at(None)
        ids = list(utt_ids)
        return _stats(self.values_for(ids))

    def stats_at(self, index: np.ndarray | None) -> dict[str, float | None]:
        """:meth:`stats` over positions in :attr:`utt_ids` (all when ``None``)."""
        return _stats(self._values if index is None else self._values[np.asarray(index)])

    # -- state --------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """Everything needed to restore the table (JSON-serialisable)."""
        return {
            "version": STATE_VERSION,
            "ema": self.ema,
            "scores": dict(sorted(self.scores().items())),
            "nonfinite_total": self._nonfinite_total,
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Replace the scores with ``state``; strict about keys, version and value types.

        The EMA factor stays the one this table was built with (it is configuration; the saved
        ``ema`` is informative).
        """
        if not isinstance(state, Mapping):
            raise ValueError(f"score table state must be a mapping, got {type(state).__name__}")
        missing = sorted(_STATE_KEYS - set(state))
        unexpected = sorted(str(k) for k in set(state) - _STATE_KEYS)
        if missing or unexpected:
            raise ValueError(
                f"score table state: missing keys {missing}, unexpected keys {unexpected}"
            )
        if state["version"] != STATE_VERSION:
            raise ValueError(
                f"score table state: version {state['version']!r} (supported: {STATE_VERSION})"
            )
        total = _check_total(state["nonfinite_total"])
        raw = state["scores"]
        if not isinstance(raw, Mapping):
            raise ValueError("score table state: 'scores' must be a mapping")
        for utt_id, value in raw.items():
            ok_type = isinstance(value, int | float) and not isinstance(value, bool)
            if not isinstance(utt_id, str) or not ok_type or not math.isfinite(value):
                raise ValueError(f"score table state: bad entry {utt_id!r}: {value!r}")
        self._add_ids(raw)
        values = np.full(len(self._ids), np.nan, dtype=np.float32)
        index = np.fromiter((self._pos[u] for u in raw), dtype=np.int64, count=len(raw))
        values[index] = np.fromiter(raw.values(), dtype=np.float64, count=len(raw))
        self._values = values
        self._nonfinite_total = total

    def to_bytes(self) -> bytes:
        """The binary form (``.npz``): float32 scores in the order of :attr:`utt_ids`, which it
        names by :meth:`ids_digest` only; loading needs the same id list."""
        buf = io.BytesIO()
        np.savez(
            buf,
            version=np.int64(ARRAY_VERSION),
            ema=np.float64(self.ema),
            nonfinite_total=np.int64(self._nonfinite_total),
            ids_sha256=np.str_(self.ids_digest()),
            values=self._values,
        )
        return buf.getvalue()

    def save(self, path: str | Path) -> None:
        """Write the table atomically: a reader sees the old file or the new one, whole.

        ``.npz``: the binary form (:meth:`to_bytes`); any other suffix: JSON (:meth:`state_dict`).
        """
        if Path(path).suffix == ".npz":
            write_bytes_atomic(path, self.to_bytes())
        else:
            write_text_atomic(path, json.dumps(self.state_dict(), allow_nan=False) + "\n")

    @classmethod
    def from_bytes(
        cls, data: bytes, utt_ids: Sequence[str], ema: float | None = None, source: str = "bytes"
    ) -> "ScoreTable":
        """Read :meth:`to_bytes` output for the id list ``utt_ids``; ``ValueError`` names
        ``source`` when it is corrupt or was written for another id list."""
        state = arrays_from_npz(data, "score table", source)
        if set(state) != _ARRAY_KEYS or int(state["version"]) != ARRAY_VERSION:
            raise ValueError(f"corrupt score table {source}: keys {sorted(state)}")
        table = cls(ema=float(state["ema"]) if ema is None else ema, utt_ids=utt_ids)
        if str(state["ids_sha256"]) != table.ids_digest():
            raise ValueError(
                f"score table {source} was written for another utterance list than the training "
                "shape files' (the training set changed?)"
            )
        values = state["values"]
        if values.dtype != np.float32 or values.shape != (len(table._ids),):
            raise ValueError(f"corrupt score table {source}: values {values.dtype}{values.shape}")
        if np.isinf(values).any():
            raise ValueError(f"corrupt score table {source}: infinite scores")
        table._values = values.copy()
        table._nonfinite_total = _check_total(int(state["nonfinite_total"]))
        return table

    @classmethod
    def load(
        cls, path: str | Path, ema: float | None = None, utt_ids: Sequence[str] | None = None
    ) -> "ScoreTable":
        """Read a table written by :meth:`save`.

        ``ema`` defaults to the saved factor; ``utt_ids`` (needed for ``.npz``) is the id list
        the table was saved with, and the order of the returned table. A missing file raises
        ``FileNotFoundError``; an unreadable or corrupt one raises ``ValueError`` naming it.
        """
        path = Path(path)
        if path.suffix == ".npz":
            if utt_ids is None:
                raise ValueError(f"reading {path} needs the utterance id list it indexes")
            return cls.from_bytes(path.read_bytes(), utt_ids, ema, source=str(path))
        try:
            with open(path, encoding="utf-8") as f:
                state = json.load(f)
        except FileNotFoundError:
            raise
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
            raise ValueError(f"cannot read score table {path}: {e}") from e
        try:
            if ema is None:
                ema = state.get("ema", 0.0) if isinstance(state, dict) else 0.0
            table = cls(ema=ema, utt_ids=utt_ids or ())
            table.load_state_dict(state)
        except (KeyError, TypeError, ValueError) as e:
            raise ValueError(f"corrupt score table {path}: {e}") from e
        return table


def _check_total(total: Any) -> int:
    if isinstance(total, bool) or not isinstance(total, int) or total < 0:
        raise ValueError(f"score table state: bad nonfinite_total {total!r}")
    return total


def _stats(values: np.ndarray) -> dict[str, float | None]:
    scored = values[~np.isnan(values)].astype(np.float64)
    if scored.size == 0:
        return {"min": None, "mean": None, "max": None}
    return {
        "min": float(scored.min()),
        "mean": float(scored.sum() / scored.size),
        "max": float(scored.max()),
    }


def arrays_from_npz(data: bytes, what: str, source: str) -> dict[str, np.ndarray]:
    """The arrays of an ``.npz`` held in memory; ``ValueError`` naming ``what`` and ``source``."""
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except Exception as e:  # zipfile, numpy and OS errors alike
        raise ValueError(f"cannot read {what} {source}: {e}") from e
