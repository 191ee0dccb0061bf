"""Mini-batches for one epoch, as ESPnet's batch samplers would make them, built in memory.

ESPnet's samplers (``espnet2/samplers``) read shape files and walk every utterance in Python.
The plugin rebuilds its batches every epoch from the kept utterances at their fed lengths, so it
does the same arithmetic here on numpy arrays, without files: for the same lengths the batches
are exactly those of ``build_batch_sampler`` (ESPnet 202412 to 202511; 202611's new folded rule
when that release is installed) for the batch types ``unsorted``, ``sorted``, ``folded``,
``length`` and ``numel`` (``tests/plugin/test_epoch_batches.py`` checks it against ESPnet's own
samplers). "File order", which ESPnet uses to break ties, is the order
of the utterance ids.

With an ``utt2category`` file beside the first training data file, ESPnet 202511's folded
sampler batches each category on its own (categories in order of first appearance by length),
so no batch mixes categories; :func:`batch_positions` does the same for the kept utterances at
their fed lengths (:attr:`ShapeTable.categories`). ESPnet's other batch types ignore the file,
and so does the plugin.

Not responsible for: which utterances are kept or how long they are fed (:mod:`pruning_run`),
category samplers (``catbel``, ``catpow``: not supported by the plugin's iterator), sharding.
"""

from __future__ import annotations

import operator
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from espnet_ddp.espnet.compat import espnet_release

BATCH_TYPES = ("unsorted", "sorted", "folded", "length", "numel")
SORT_ORDERS = ("descending", "ascending")


@dataclass(frozen=True)
class BatchSpec:
    """ESPnet's batching options (``--batch_type`` and friends), as given for training."""

    batch_type: str
    batch_size: int
    batch_bins: int
    fold_lengths: tuple[int, ...]
    sort_in_batch: str
    sort_batch: str
    drop_last: bool
    min_batch_size: int
    text_bins: str = "shape"  # "shape": count text as ESPnet's shape file says; "tokens": L only
    espnet_release: int = 0  # whose sampler rules to follow; 0: the installed ESPnet's


@dataclass(frozen=True, eq=False)
class ShapeTable:
    """The training shape files as arrays over the sorted utterance ids.

    ``lengths[d][i]`` is the first dimension of utterance ``utt_ids[i]`` in shape file ``d`` and
    ``feat_dims[d][i]`` the product of its other dimensions (1 when there are none), which is
    all ESPnet's samplers read. Not responsible for other shape-file uses (ESPnet reads them).

    >>> t = ShapeTable.from_arrays(["b", "a"], {"speech": [10, 20], "text": [[2, 30], [3, 30]]})
    >>> t.utt_ids, t.length(t.speech_index, "a"), t.feat_dims[t.text_index].tolist()
    (['a', 'b'], 20, [30, 30])
    """

    names: tuple[str, ...]
    utt_ids: list[str]
    lengths: tuple[np.ndarray, ...]
    feat_dims: tuple[np.ndarray, ...]
    speech_index: int
    text_index: int | None
    categories: np.ndarray | None = None  # category code per utterance (``utt2category``)
    _positions: dict[str, int] = field(default_factory=dict, repr=False)
    _by_hash: list = field(default_factory=list, repr=False)

    def __len__(self) -> int:
        return len(self.utt_ids)

    @property
    def positions(self) -> dict[str, int]:
        """Utterance id -> its index in :attr:`utt_ids` (built on first use)."""
        if not self._positions and self.utt_ids:
            self._positions.update((u, i) for i, u in enumerate(self.utt_ids))
        return self._positions

    def length(self, index: int, utt_id: str) -> int:
        """First dimension of ``utt_id`` in shape file ``index``."""
        return int(self.lengths[index][self.positions[utt_id]])

    def index_of(self, utt_ids: Sequence[str]) -> np.ndarray:
        """Positions of ``utt_ids`` in :attr:`utt_ids`; ``KeyError`` names an unknown id."""
        if not self._by_hash:
            hashes = np.fromiter(map(hash, self.utt_ids), dtype=np.int64, count=len(self.utt_ids))
            order = np.argsort(hashes)
            unique = bool((np.diff(hashes[order]) != 0).all())
            self._by_hash.extend([hashes[order], order] if unique else [None, None])
        sorted_hashes, order = self._by_hash
        if sorted_hashes is None:  # two ids share a hash: look each up by value
            pos = self.positions
            try:
                return np.array([pos[u] for u in utt_ids], dtype=np.int64)
            except KeyError as e:
                raise KeyError(f"utterance {e.args[0]!r} is not in the training shape files") from e
        # Python's string hash (cached in each string) is unique over the table's ids, so a
        # binary search over the sorted hashes finds each id without touching the table's strings.
        wanted = np.fromiter(map(hash, utt_ids), dtype=np.int64, count=len(utt_ids))
        query = np.argsort(wanted)  # sorted queries walk the table in order: fewer cache misses
        at = np.empty_like(query)
        at[query] = np.searchsorted(sorted_hashes, wanted[query])
        np.minimum(at, sorted_hashes.size - 1, out=at)
        missing = np.flatnonzero(sorted_hashes[at] != wanted)
        if missing.size:
            bad = utt_ids[int(missing[0])]
            raise KeyError(f"utterance {bad!r} is not in the training shape files")
        return order[at].astype(np.int64)

    def with_categories(self, utt2category: Mapping[str, str], source: str) -> ShapeTable:
        """This table with each utterance's category (``utt2category``, read from ``source``).

        Raises ``ValueError`` naming ``source`` when its ids are not the table's, as ESPnet does.

        >>> t = ShapeTable.from_arrays(["a", "b", "c"], {"speech": [1, 2, 3]})
        >>> t.with_categories({"a": "x", "b": "y", "c": "x"}, "utt2category").categories.tolist()
        [0, 1, 0]
        """
        if len(utt2category) != len(self.utt_ids) or any(
            u not in utt2category for u in self.utt_ids
        ):
            diff = sorted(set(self.utt_ids).symmetric_difference(utt2category))[:3]
            raise ValueError(
                f"{source}: utterance ids differ from the training shape files, e.g. {diff}"
            )
        names: dict[str, int] = {}
        codes = np.fromiter(
            (names.setdefault(utt2category[u], len(names)) for u in self.utt_ids),
            dtype=np.int64,
            count=len(self.utt_ids),
        )
        table = replace(self, categories=codes, _positions=self._positions, _by_hash=self._by_hash)
        return table

    @classmethod
    def from_arrays(cls, utt_ids: Sequence[str], shapes: Mapping[str, Sequence]) -> ShapeTable:
        """Build from per-name shapes (one length, or one shape row, per utterance)."""
        ids = list(utt_ids)
        order = sorted(range(len(ids)), key=ids.__getitem__)
        names = tuple(shapes)
        lengths, dims = [], []
        for name in names:
            arr = np.asarray(shapes[name], dtype=np.int64)
            arr = arr.reshape(len(ids), -1) if arr.size else arr.reshape(len(ids), 1)
            arr = arr[order]
            lengths.append(arr[:, 0].copy())
            dims.append(np.prod(arr[:, 1:], axis=1, dtype=np.int64))
        return cls._build(names, [ids[i] for i in order], lengths, dims, "arrays")

    @classmethod
    def load(cls, shape_files: Sequence[str], data_names: Sequence[str]) -> ShapeTable:
        """Read ``--train_shape_file`` (ordered as ``--train_data_path_and_name_and_type``)."""
        if not shape_files:
            raise ValueError("espnet_ddp needs --train_shape_file (run the statistics stage first)")
        names = tuple(data_names[: len(shape_files)])
        if len(names) != len(shape_files):
            names = tuple(Path(f).name.split("_shape")[0] for f in shape_files)
        ids, first_len, first_dim = _read_shape_file(shape_files[0])
        order = sorted(range(len(ids)), key=ids.__getitem__)
        sorted_ids = [ids[i] for i in order]
        for a, b in zip(sorted_ids, sorted_ids[1:], strict=False):
            if a == b:
                raise ValueError(f"{shape_files[0]}: utterance id {a!r} appears twice")
        positions = {u: i for i, u in enumerate(sorted_ids)}
        lengths = [first_len[order]]
        dims = [first_dim[order]]
        for f in shape_files[1:]:
            f_ids, f_len, f_dim = _read_shape_file(f)
            where = np.fromiter(
                (positions.get(u, -1) for u in f_ids), dtype=np.int64, count=len(f_ids)
            )
            covered = np.zeros(len(sorted_ids), dtype=bool)
            covered[where[where >= 0]] = True
            if len(f_ids) != len(sorted_ids) or (where < 0).any() or not covered.all():
                missing = sorted(set(sorted_ids).symmetric_difference(f_ids))[:3]
                raise ValueError(f"{f}: utterance ids differ from {shape_files[0]}, e.g. {missing}")
            row_len = np.empty_like(f_len)
            row_dim = np.empty_like(f_dim)
            row_len[where] = f_len
            row_dim[where] = f_dim
            lengths.append(row_len)
            dims.append(row_dim)
        table = cls._build(names, sorted_ids, lengths, dims, shape_files[0])
        table._positions.update(positions)
        return table

    @classmethod
    def _build(cls, names, ids, lengths, dims, source) -> ShapeTable:
        if not ids:
            raise ValueError(f"{source}: no utterances")
        speech_index = names.index("speech") if "speech" in names else 0
        text_index = names.index("text") if "text" in names else None
        return cls(names, ids, tuple(lengths), tuple(dims), speech_index, text_index)


def _read_shape_file(path: str) -> tuple[list[str], np.ndarray, np.ndarray]:
    """``utt_id length[,dim...]`` per line -> (ids, lengths, products of the other dims)."""
    ids: list[str] = []
    lengths: list[int] = []
    dims: list[int] = []
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            parts = line.split(maxsplit=1)
            if not parts:
                continue
            try:
                if len(parts) != 2:
                    raise ValueError("no shape")
                shape = parts[1].rstrip()
                if "," in shape:
                    values = [int(v) for v in shape.split(",")]
                    dim = 1
                    for v in values[1:]:
                        dim *= v
                    lengths.append(values[0])
                    dims.append(dim)
                else:
                    lengths.append(int(shape))
                    dims.append(1)
            except ValueError as e:
                raise ValueError(f"{path}:{lineno}: expected 'utt_id length[,dim...]': {e}") from e
            ids.append(parts[0])
    return ids, np.asarray(lengths, dtype=np.int64), np.asarray(dims, dtype=np.int64)


def read_utt2category(path: str | Path) -> dict[str, str]:
    """``utt_id category`` per line (ESPnet's ``utt2category``); raises naming the line."""
    out: dict[str, str] = {}
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            parts = line.split()
            if not parts:
                continue
            if len(parts) != 2:
                raise ValueError(f"{path}:{lineno}: expected 'utt_id category', got {line!r}")
            out[parts[0]] = parts[1]
    return out


@dataclass(frozen=True, eq=False)
class EpochBatches:
    """Batches as positions into the shape table: ``flat[offsets[b]:offsets[b + 1]]`` is batch b.

    >>> b = EpochBatches(np.array([2, 0, 1]), np.array([0, 2, 3]))
    >>> len(b), b.as_ids(["x", "y", "z"])
    (2, [('z', 'x'), ('y',)])
    """

    flat: np.ndarray
    offsets: np.ndarray

    def __len__(self) -> int:
        return int(self.offsets.size - 1)

    def sizes(self) -> np.ndarray:
        return np.diff(self.offsets)

    def as_ids(self, utt_ids: Sequence[str]) -> list[tuple[str, ...]]:
        """The batches as tuples of utterance ids (what ESPnet's loader takes)."""
        if self.flat.size == 0:
            return []
        if self.flat.size == 1:
            names: tuple[str, ...] = (utt_ids[int(self.flat[0])],)
        else:
            names = operator.itemgetter(*self.flat.tolist())(utt_ids)
        bounds = self.offsets.tolist()
        return [names[a:b] for a, b in zip(bounds[:-1], bounds[1:], strict=True)]


def batch_positions(
    spec: BatchSpec, table: ShapeTable, kept: np.ndarray, speech_lengths: np.ndarray
) -> EpochBatches:
    """Batch the utterances at positions ``kept`` (ascending) with ``spec``, as ESPnet would.

    ``speech_lengths`` (aligned with ``kept``) replace the speech shape's first dimension: the
    post-drop lengths, so a batch of shortened audio holds more utterances and an epoch has
    fewer steps. With ``text_bins: tokens`` the text counts as its length alone.
    """
    kept = np.asarray(kept, dtype=np.int64)
    if kept.size == 0:
        raise ValueError("espnet_ddp: no utterances to batch")
    if spec.batch_type not in BATCH_TYPES:
        raise ValueError(
            f"espnet_ddp: --batch_type {spec.batch_type} is not supported with the plugin's "
            f"iterator (supported: {', '.join(BATCH_TYPES)})"
        )
    lengths, dims = [], []
    for d in range(len(table.names)):
        if d == table.speech_index:
            lengths.append(np.asarray(speech_lengths, dtype=np.int64))
        else:
            lengths.append(table.lengths[d][kept])
        if d == table.text_index and spec.text_bins == "tokens":
            dims.append(np.ones(kept.size, dtype=np.int64))
        else:
            dims.append(table.feat_dims[d][kept])
    if table.categories is not None and spec.batch_type == "folded":
        return _by_category(spec, table, kept, lengths, dims)
    rule = _ESPNET_RULES[spec.batch_type]
    flat, sizes = _assemble(kept, *rule(spec, table.names, lengths, dims))
    return EpochBatches(flat, np.concatenate(([0], np.cumsum(sizes, dtype=np.int64))))


def _by_category(spec, table, kept, lengths, dims) -> EpochBatches:
    """The folded rule over each category alone, categories in order of first appearance in
    the utterances sorted by length (ESPnet's ``FoldedBatchSampler`` with ``utt2category``)."""
    cats = table.categories[kept]
    by_length = cats[stable_argsort(lengths[0])]
    values, first = np.unique(by_length, return_index=True)
    flats, all_sizes = [], []
    earlier = 0
    for cat in values[np.argsort(first)].tolist():
        sel = np.flatnonzero(cats == cat)
        sub = _folded(
            spec,
            table.names,
            [x[sel] for x in lengths],
            [x[sel] for x in dims],
            earlier_batches=earlier,
        )
        flat, sizes = _assemble(kept[sel], *sub)
        flats.append(flat)
        all_sizes.append(sizes)
        earlier += sizes.size
    sizes = np.concatenate(all_sizes)
    offsets = np.concatenate(([0], np.cumsum(sizes, dtype=np.int64)))
    return EpochBatches(np.concatenate(flats), offsets)


def _assemble(
    kept: np.ndarray,
    order: np.ndarray,
    sizes: np.ndarray,
    reverse_in: bool,
    reverse_batches: bool,
) -> tuple[np.ndarray, np.ndarray]:
    """Batch ``kept[order]`` into ``sizes``, then reverse within batches and the batch list."""
    flat = kept[order]
    offsets = np.concatenate(([0], np.cumsum(sizes, dtype=np.int64)))
    flat = flat[: offsets[-1]]
    if reverse_in:
        starts = np.repeat(offsets[:-1], sizes)
        ends = np.repeat(offsets[1:], sizes)
        flat = flat[starts + ends - 1 - np.arange(flat.size)]
    if reverse_batches:
        pieces = [flat[a:b] for a, b in zip(offsets[:-1], offsets[1:], strict=True)][::-1]
        flat = np.concatenate(pieces) if pieces else flat
        sizes = sizes[::-1]
    return flat, np.asarray(sizes, dtype=np.int64)


def build_epoch_batches(
    spec: BatchSpec,
    table: ShapeTable,
    kept: Sequence[str],
    speech_lengths: Mapping[str, int],
) -> list[tuple[str, ...]]:
    """:func:`batch_positions` by utterance ids (``kept`` in any order; ties break by id)."""
    positions = np.sort(table.index_of(list(kept)))
    ids = table.utt_ids
    lengths = np.fromiter(
        (speech_lengths[ids[i]] for i in positions.tolist()), dtype=np.int64, count=positions.size
    )
    return batch_positions(spec, table, positions, lengths).as_ids(ids)


# -- ESPnet's samplers, on arrays ------------------------------------------------------------------
# Each returns (order of the kept utterances, batch sizes, reverse within batches, reverse the
# batch list), reproducing espnet2/samplers/*_batch_sampler.py of ESPnet 202511.


def stable_argsort(keys: np.ndarray, descending: bool = False) -> np.ndarray:
    """``np.argsort(keys, kind="stable")`` (of ``-keys`` when descending) for integer keys.

    Sorts ``key * n + position`` instead, which is unique, so numpy's faster unstable sort gives
    the stable order; falls back to the stable sort when that product could overflow.
    """
    keys = np.asarray(keys, dtype=np.int64)
    n = keys.size
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    low, high = int(keys.min()), int(keys.max())
    span = high - low + 1
    if span * n >= 2**62:
        return np.argsort(-keys if descending else keys, kind="stable")
    shifted = (high - keys) if descending else (keys - low)
    return np.sort(shifted * n + np.arange(n, dtype=np.int64)) % n


def _check_sort(spec: BatchSpec) -> None:
    for key in ("sort_in_batch", "sort_batch"):
        if getattr(spec, key) not in SORT_ORDERS:
            raise ValueError(f"--{key} must be ascending or descending: {getattr(spec, key)}")


def _even_split(n: int, batch_size: int, drop_last: bool) -> np.ndarray:
    """Unsorted/sorted samplers: ``max(n // bs, 1)`` batches, split evenly (or of ``bs``)."""
    count = max(n // batch_size, 1)
    if drop_last:
        return np.full(count, min(batch_size, n), dtype=np.int64)
    bounds = np.arange(count + 1, dtype=np.int64) * n // count
    return np.diff(bounds)


def _unsorted(spec, names, lengths, dims):
    n = lengths[0].size
    return np.arange(n), _even_split(n, spec.batch_size, spec.drop_last), False, False


def _sorted(spec, names, lengths, dims):
    if spec.sort_in_batch == "descending":
        order = stable_argsort(lengths[0], descending=True)
    elif spec.sort_in_batch == "ascending":
        order = stable_argsort(lengths[0])
    else:
        raise ValueError(f"--sort_in_batch must be ascending or descending: {spec.sort_in_batch}")
    reverse = spec.sort_in_batch != spec.sort_batch
    if reverse and spec.sort_batch not in SORT_ORDERS:
        raise ValueError(f"--sort_batch must be ascending or descending: {spec.sort_batch}")
    sizes = _even_split(order.size, spec.batch_size, spec.drop_last)
    return order, sizes, False, reverse


def _bins_rule(spec, names, lengths, dims, per_element: bool):
    _check_sort(spec)
    order = stable_argsort(lengths[0])
    cost = np.zeros(order.size, dtype=np.int64)
    for name, length, dim in zip(names, lengths, dims, strict=True):
        dim = dim[order]
        if per_element:
            if (dim != dim[0]).any():
                raise ValueError(
                    f"espnet_ddp: batch_type numel needs one feature dimension per data, "
                    f"but {name} has several"
                )
            cost += length[order] * dim[0]
        else:
            cost += length[order]
    sizes = _greedy_sizes(cost, spec.batch_bins, spec.min_batch_size, spec.drop_last)
    return (
        order,
        sizes,
        spec.sort_in_batch == "descending",
        spec.sort_batch == "descending",
    )


def _numel(spec, names, lengths, dims):
    return _bins_rule(spec, names, lengths, dims, per_element=True)


def _length(spec, names, lengths, dims):
    return _bins_rule(spec, names, lengths, dims, per_element=False)


def _greedy_sizes(cost: np.ndarray, batch_bins: int, min_size: int, drop_last: bool) -> np.ndarray:
    """Close a batch at the first utterance where ``count * cost > batch_bins`` (and the batch
    has ``min_size``); the rest form a last batch; a last batch below ``min_size`` is spread
    over the others from the end. ``cost`` is in the sorted order."""
    n = cost.size
    count = np.arange(1, n + 1, dtype=np.int64)
    skip = max(min_size, 1) - 1  # a batch never closes before it has min_size utterances
    sizes: list[int] = []
    start, window = 0, 64
    while start < n:
        width = window
        while True:
            end = min(n, start + width)
            over = count[: end - start] * cost[start:end] > batch_bins
            first = int(over[skip:].argmax()) + skip if end - start > skip else 0
            if end - start > skip and over[first]:
                sizes.append(first + 1)
                start += first + 1
                window = max(64, 2 * (first + 1))
                break
            if end == n:
                if not drop_last or not sizes:
                    sizes.append(n - start)
                start = n
                break
            width *= 4
    if len(sizes) > 1 and sizes[-1] < min_size:
        for i in range(sizes.pop()):
            sizes[-(i % len(sizes)) - 1] += 1
    return np.asarray(sizes, dtype=np.int64)


# ESPnet 202611 changed the folded sampler: under drop_last it drops a short last batch, and it
# spreads a last batch below min_batch_size over the others from the last one back (not from
# the one before it, which ran out of range when the last batch was as large as the rest).
FOLDED_FIX_RELEASE = 202611


def _folded(spec, names, lengths, dims, earlier_batches: int = 0):
    """``earlier_batches``: batches of the categories before this one (``utt2category``)."""
    _check_sort(spec)
    if len(spec.fold_lengths) != len(names):
        raise ValueError(
            f"--fold_length: {len(spec.fold_lengths)} given for {len(names)} shape files"
        )
    fixed = (spec.espnet_release or espnet_release()) >= FOLDED_FIX_RELEASE
    order = stable_argsort(lengths[0])
    factor = np.zeros(order.size, dtype=np.int64)
    for length, fold in zip(lengths, spec.fold_lengths, strict=True):
        factor = np.maximum(factor, (length[order] / fold).astype(np.int64))
    per_start = np.maximum(
        spec.min_batch_size, (spec.batch_size / (1 + factor)).astype(np.int64)
    ).tolist()
    n = order.size
    sizes: list[int] = []
    start = 0
    while start < n:
        if spec.drop_last and start + per_start[start] > n:
            # ESPnet < 202611 counts the earlier categories' batches here, not this one's.
            if (sizes if fixed else earlier_batches):
                break
        # Before 202611, ESPnet keeps the last batch under drop_last (its check never fires).
        size = min(n - start, per_start[start])
        sizes.append(size)
        start += size
    if not sizes:  # drop_last left a category no batch (ESPnet raises "0 batches")
        return order, np.zeros(0, dtype=np.int64), False, False
    if len(sizes) > 1 and sizes[-1] < spec.min_batch_size:
        last = sizes.pop()
        if not fixed and last >= len(sizes):
            raise ValueError(
                f"espnet_ddp: batch_type folded cannot spread a last batch of {last} over "
                f"{len(sizes)} batches (ESPnet's sampler fails here too): change --batch_size "
                "or --min_batch_size"
            )
        first = 1 if fixed else 2
        for i in range(last):
            sizes[-(i % len(sizes)) - first] += 1
    return (
        order,
        np.asarray(sizes, dtype=np.int64),
        spec.sort_in_batch == "descending",
        spec.sort_batch == "descending",
    )


_ESPNET_RULES = {
    "unsorted": _unsorted,
    "sorted": _sorted,
    "folded": _folded,
    "length": _length,
    "numel": _numel,
}
