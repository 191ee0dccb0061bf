"""Per-utterance training scores: the run's only state besides ESPnet's checkpoint."""

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from espnet_ddp.core.atomic_io import write_text_atomic

STATE_VERSION = 1
_STATE_KEYS = frozenset({"version", "ema", "scores", "nonfinite_total"})


class ScoreTable:
    """Per-utterance training scores (last value seen, optional EMA).

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
      EMA step is applied).

    >>> table = ScoreTable(ema=0.5)
    >>> table.update(["a", "b"], [2.0, float("nan")])
    1
    >>> table.update(["a"], [4.0])
    0
    >>> table.get("a"), "b" in table, table.nonfinite_total
    (3.0, False, 1)
    """

    def __init__(self, ema: float = 0.0) -> None:
        if isinstance(ema, bool) or not (0.0 <= float(ema) < 1.0):
            raise ValueError(f"ema must be in [0, 1), got {ema!r}")
        self.ema = float(ema)
        self._scores: dict[str, float] = {}
        self._nonfinite_total = 0

    def update(self, utt_ids: Sequence[str], scores: Sequence[float]) -> int:
        """Record one score per utterance; return how many non-finite scores were skipped."""
        if len(utt_ids) != len(scores):
            raise ValueError(f"got {len(utt_ids)} utterance ids but {len(scores)} scores")
        latest: dict[str, float] = {}
        skipped = 0
        for utt_id, score in zip(utt_ids, scores, strict=True):
            if not isinstance(utt_id, str):
                raise TypeError(f"utterance ids must be str, got {type(utt_id).__name__}")
            value = float(score)
            if math.isfinite(value):
                latest[utt_id] = value
            else:
                skipped += 1
        b = self.ema
        for utt_id, value in latest.items():
            old = self._scores.get(utt_id)
            self._scores[utt_id] = value if old is None or b == 0.0 else b * old + (1.0 - b) * value
        self._nonfinite_total += skipped
        return skipped

    def get(self, utt_id: str) -> float | None:
        """The score of ``utt_id``, or ``None`` when it has none yet."""
        return self._scores.get(utt_id)

    def __contains__(self, utt_id: object) -> bool:
        return utt_id in self._scores

    def __len__(self) -> int:
        return len(self._scores)

    def scores(self) -> dict[str, float]:
        """A copy of all scores."""
        return dict(self._scores)

    @property
    def nonfinite_total(self) -> int:
        """How many non-finite scores were skipped since the table was created (kept on save)."""
        return self._nonfinite_total

    def stats(self, utt_ids: Iterable[str] | None = None) -> dict[str, float | None]:
        """``{"min", "mean", "max"}`` over the scored utterances among ``utt_ids`` (default: all).

        All three are ``None`` when none of them has a score.
        """
        if utt_ids is None:
            values = list(self._scores.values())
        else:
            values = [self._scores[u] for u in utt_ids if u in self._scores]
        if not values:
            return {"min": None, "mean": None, "max": None}
        return {"min": min(values), "mean": math.fsum(values) / len(values), "max": max(values)}

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to restore the table (JSON-serialisable)."""
        return {
            "version": STATE_VERSION,
            "ema": self.ema,
            "scores": dict(sorted(self._scores.items())),
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
        total = state["nonfinite_total"]
        if isinstance(total, bool) or not isinstance(total, int) or total < 0:
            raise ValueError(f"score table state: bad nonfinite_total {total!r}")
        raw = state["scores"]
        if not isinstance(raw, Mapping):
            raise ValueError("score table state: 'scores' must be a mapping")
        scores: dict[str, float] = {}
        for utt_id, value in raw.items():
            ok_type = isinstance(value, int | float) and not isinstance(value, bool)
            if not isinstance(utt_id, str) or not ok_type or not math.isfinite(value):
                raise ValueError(f"score table state: bad entry {utt_id!r}: {value!r}")
            scores[utt_id] = float(value)
        self._scores = scores
        self._nonfinite_total = total

    def save(self, path: str | Path) -> None:
        """Write the table as JSON, atomically: a reader sees the old file or the new one, whole.

        Writes a temporary file in the same directory, fsyncs it and renames it over ``path``.
        """
        write_text_atomic(path, json.dumps(self.state_dict(), allow_nan=False) + "\n")

    @classmethod
    def load(cls, path: str | Path, ema: float | None = None) -> "ScoreTable":
        """Read a table written by :meth:`save`.

        ``ema`` defaults to the saved factor. A missing file raises ``FileNotFoundError``; an
        unreadable or corrupt one raises ``ValueError`` naming the file.
        """
        path = Path(path)
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
            table = cls(ema=ema)
            table.load_state_dict(state)
        except (KeyError, TypeError, ValueError) as e:
            raise ValueError(f"corrupt score table {path}: {e}") from e
        return table

