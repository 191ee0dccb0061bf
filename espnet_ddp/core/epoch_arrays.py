"""The per-utterance part of an epoch record, as a compact binary file.

An experiment's ``data_pruning/`` folder holds its sorted training utterance ids once, in
``utt_ids.<sha>.txt`` (one id per line; ``<sha>``: the first 16 hex digits of their SHA-256, so
a changed training set never overwrites the list older files index into). Each epoch's
``epoch<N>.npz`` refers to that list by name and digest and stores, as positions in it:

* ``kept``: which utterances the epoch trained on (a bit mask, ``numpy.packbits``);
* ``seen`` / ``scores``: the utterances scored in the epoch (bit mask) and their scores in id
  order (float32; NaN for a non-finite loss; the later value when one was seen twice);
* ``weight_index`` / ``weights``: loss weights other than 1 (infobatch).

At 843k utterances that is about 2.6 MB an epoch, against about 34 MB as JSON lists.
Responsible for the format only; not for what is selected or scored.

>>> ids = ["a", "b", "c"]
>>> arr = EpochArrays.build(ids, kept=[0, 2], seen=[2, 0, 2], scores=[1.0, 2.0, 3.0])
>>> back = EpochArrays.from_bytes(arr.to_bytes())
>>> back.kept.tolist(), back.seen.tolist(), back.scores.tolist()
([0, 2], [0, 2], [2.0, 3.0])
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from espnet_ddp.core.atomic_io import write_text_atomic
from espnet_ddp.core.score_table import arrays_from_npz, ids_digest, last_occurrences

FORMAT_VERSION = 1
_KEYS = frozenset(
    {"version", "ids_file", "ids_sha256", "num_utts", "kept", "seen", "scores", "weight_index",
     "weights"}
)  # fmt: skip


def ids_file_name(digest: str) -> str:
    """``utt_ids.<first 16 hex digits>.txt``."""
    return f"utt_ids.{digest[:16]}.txt"


def write_ids_file(folder: str | Path, utt_ids: Sequence[str], digest: str | None = None) -> str:
    """Write the id list into ``folder`` unless it is there already; returns its file name."""
    digest = digest or ids_digest(utt_ids)
    name = ids_file_name(digest)
    path = Path(folder) / name
    if not path.exists():
        write_text_atomic(path, "".join(f"{u}\n" for u in utt_ids))
    return name


def read_ids_file(path: str | Path, digest: str | None = None) -> list[str]:
    """The id list of ``path``; ``ValueError`` names it when it does not match ``digest``."""
    ids = Path(path).read_text(encoding="utf-8").splitlines()
    if digest is not None and ids_digest(ids) != digest:
        raise ValueError(f"{path}: utterance list does not match the digest {digest[:16]}...")
    return ids


@dataclass(frozen=True, eq=False)
class EpochArrays:
    """One epoch's per-utterance data as positions in a sorted id list (see the module)."""

    ids_file: str
    ids_sha256: str
    num_utts: int
    kept: np.ndarray
    seen: np.ndarray
    scores: np.ndarray
    weight_index: np.ndarray
    weights: np.ndarray

    @classmethod
    def build(
        cls,
        utt_ids: Sequence[str],
        kept: Sequence[int] | np.ndarray,
        seen: Sequence[int] | np.ndarray,
        scores: Sequence[float] | np.ndarray,
        weights: Mapping[int, float] | None = None,
        digest: str | None = None,
    ) -> EpochArrays:
        """From positions in ``utt_ids``: ``seen``/``scores`` in any order (later value wins)."""
        digest = digest or ids_digest(utt_ids)
        seen = np.asarray(seen, dtype=np.int64).reshape(-1)
        scores = np.asarray(scores, dtype=np.float64).reshape(-1)
        if seen.size != scores.size:
            raise ValueError(f"got {seen.size} scored positions but {scores.size} scores")
        n = len(utt_ids)
        last = last_occurrences(seen, n)
        dense = np.zeros(n, dtype=np.float32)
        dense[seen[last]] = scores[last]
        is_seen = np.zeros(n, dtype=bool)
        is_seen[seen] = True
        seen_sorted = np.flatnonzero(is_seen)
        w = dict(weights or {})
        return cls(
            ids_file=ids_file_name(digest),
            ids_sha256=digest,
            num_utts=n,
            kept=np.sort(np.asarray(kept, dtype=np.int64).reshape(-1)),
            seen=seen_sorted,
            scores=dense[seen_sorted],
            weight_index=np.fromiter(w.keys(), dtype=np.int64, count=len(w)),
            weights=np.fromiter(w.values(), dtype=np.float64, count=len(w)),
        )

    def to_bytes(self) -> bytes:
        n = self.num_utts
        buf = io.BytesIO()
        np.savez(
            buf,
            version=np.int64(FORMAT_VERSION),
            ids_file=np.str_(self.ids_file),
            ids_sha256=np.str_(self.ids_sha256),
            num_utts=np.int64(n),
            kept=np.packbits(_mask(self.kept, n)),
            seen=np.packbits(_mask(self.seen, n)),
            scores=self.scores.astype(np.float32),
            weight_index=self.weight_index.astype(np.uint32),
            weights=self.weights.astype(np.float64),
        )
        return buf.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes, source: str = "bytes") -> EpochArrays:
        raw = arrays_from_npz(data, "epoch arrays", source)
        if set(raw) != _KEYS or int(raw["version"]) != FORMAT_VERSION:
            raise ValueError(f"{source}: not an epoch arrays file (keys {sorted(raw)})")
        n = int(raw["num_utts"])
        seen = np.flatnonzero(np.unpackbits(raw["seen"], count=n))
        if seen.size != raw["scores"].size:
            raise ValueError(f"{source}: {seen.size} scored utterances but {raw['scores'].size}")
        return cls(
            ids_file=str(raw["ids_file"]),
            ids_sha256=str(raw["ids_sha256"]),
            num_utts=n,
            kept=np.flatnonzero(np.unpackbits(raw["kept"], count=n)),
            seen=seen,
            scores=raw["scores"],
            weight_index=raw["weight_index"].astype(np.int64),
            weights=raw["weights"],
        )

    @classmethod
    def load(cls, path: str | Path) -> EpochArrays:
        return cls.from_bytes(Path(path).read_bytes(), source=str(path))


def _mask(positions: np.ndarray, n: int) -> np.ndarray:
    out = np.zeros(n, dtype=bool)
    out[positions] = True
    return out
