"""Reads the plugin's per-epoch records, ``<exp>/data_pruning/epoch<N>.json``.

Responsible for loading them in epoch order and summing what a comparison needs (steps,
seconds fed, train-loop time), and for the per-utterance part: kept ids and scores, from the
record's binary ``epoch<N>.npz`` (:mod:`espnet_ddp.core.epoch_arrays`, read on first use) or,
in records written before it existed, from the JSON's own ``kept``/``scores`` lists. Not
responsible for their content: the writer lives in ``espnet_ddp.espnet``; fields are listed
in ``docs/ARCHITECTURE.md``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from espnet_ddp.core.epoch_arrays import EpochArrays, read_ids_file

_NAME = re.compile(r"^epoch(\d+)\.json$")


@dataclass
class PruningEpoch:
    """One ``epoch<N>.json``; missing numeric fields read as None."""

    epoch: int
    raw: dict[str, Any] = field(repr=False)
    folder: Path | None = field(default=None, repr=False)
    _arrays: tuple[list[str], EpochArrays] | None = field(default=None, repr=False)

    def number(self, key: str) -> float | None:
        """The field ``key`` as a float, or None when absent or not a number."""
        value = self.raw.get(key)
        if isinstance(value, bool) or not isinstance(value, int | float):
            return None
        return float(value)

    def arrays(self) -> tuple[list[str], EpochArrays] | None:
        """(sorted utterance ids, the epoch's binary arrays), or None for a JSON-only record.

        Raises ``ValueError`` naming the file when the arrays or their id list are unreadable.
        """
        name = self.raw.get("utterances")
        if not isinstance(name, str) or self.folder is None:
            return None
        if self._arrays is None:
            try:
                arrays = EpochArrays.load(self.folder / name)
                ids = read_ids_file(self.folder / arrays.ids_file, arrays.ids_sha256)
            except OSError as e:
                raise ValueError(f"{self.folder / name}: {e}") from e
            if len(ids) != arrays.num_utts:
                raise ValueError(
                    f"{self.folder / name}: {arrays.num_utts} utterances, list has {len(ids)}"
                )
            self._arrays = (ids, arrays)
        return self._arrays

    @property
    def kept(self) -> list[str]:
        """Utterance ids trained in this epoch (empty when not recorded)."""
        loaded = self.arrays()
        if loaded is None:
            return list(self.raw.get("kept") or [])
        ids, arrays = loaded
        return [ids[i] for i in arrays.kept.tolist()]

    @property
    def scores(self) -> dict[str, float]:
        """Utterance id -> score seen in this epoch's training (NaN: a non-finite loss)."""
        loaded = self.arrays()
        if loaded is None:
            return {k: float(v) for k, v in (self.raw.get("scores") or {}).items()}
        ids, arrays = loaded
        return dict(
            zip([ids[i] for i in arrays.seen.tolist()], arrays.scores.tolist(), strict=True)
        )

    @property
    def weights(self) -> dict[str, float]:
        """Utterance id -> loss weight, for weights other than 1 (infobatch)."""
        loaded = self.arrays()
        if loaded is None:
            return {k: float(v) for k, v in (self.raw.get("weights") or {}).items()}
        ids, arrays = loaded
        return {ids[i]: float(w) for i, w in zip(arrays.weight_index.tolist(), arrays.weights)}


@dataclass
class PruningLog:
    """All epoch records of one experiment, plus files that could not be read."""

    epochs: list[PruningEpoch]
    unreadable: list[str] = field(default_factory=list)
    ema: float = 0.0

    def total(self, key: str) -> float | None:
        """Sum of ``key`` over epochs; None if any epoch lacks it (a partial sum misleads)."""
        values = [e.number(key) for e in self.epochs]
        if not values or any(v is None for v in values):
            return None
        return float(sum(values))  # type: ignore[arg-type]

    def series(self, key: str) -> tuple[list[int], list[float]]:
        """(epochs, values) for the epochs that have ``key``."""
        pairs = [(e.epoch, e.number(key)) for e in self.epochs]
        kept = [(ep, v) for ep, v in pairs if v is not None]
        return [ep for ep, _ in kept], [v for _, v in kept]


def read_pruning_log(exp_dir: Path) -> PruningLog | None:
    """Loads ``exp_dir/data_pruning/epoch*.json``; None when there is no such file."""
    folder = Path(exp_dir) / "data_pruning"
    files = sorted((int(m[1]), p) for p in folder.glob("epoch*.json") if (m := _NAME.match(p.name)))
    if not files:
        return None
    epochs, unreadable = [], []
    for epoch, path in files:
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as err:
            unreadable.append(f"{path.name}: {err}")
            continue
        if not isinstance(raw, dict):
            unreadable.append(f"{path.name}: not a JSON object")
            continue
        epochs.append(PruningEpoch(epoch=int(raw.get("epoch", epoch)), raw=raw, folder=folder))
    return PruningLog(epochs=epochs, unreadable=unreadable, ema=_table_ema(folder))


def _table_ema(folder: Path) -> float:
    """The score table's EMA factor, from a saved ``scores_epoch<N>.npz`` (or ``.json``, as
    older runs wrote it); 0 when none is readable."""
    paths = [*folder.glob("scores_epoch*.npz"), *folder.glob("scores_epoch*.json")]
    for path in sorted(paths, key=lambda p: p.stat().st_mtime, reverse=True):
        try:
            if path.suffix == ".npz":
                with np.load(path, allow_pickle=False) as z:
                    ema = float(z["ema"])
            else:
                ema = json.loads(path.read_text(encoding="utf-8")).get("ema", 0.0)
        except (OSError, ValueError, KeyError, AttributeError):
            continue
        return float(ema) if isinstance(ema, int | float) else 0.0
    return 0.0
