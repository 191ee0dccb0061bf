"""Mini-batches for one epoch, built by ESPnet's own batch samplers from the kept utterances."""

from __future__ import annotations

import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from espnet2.fileio.read_text import load_num_sequence_text
from espnet2.samplers.build_batch_sampler import build_batch_sampler


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


@dataclass(frozen=True)
class ShapeTable:
    """The training shape files: per data name, utterance id -> shape (first dim = length)."""

    names: tuple[str, ...]
    shapes: tuple[Mapping[str, list[int]], ...]
    speech_index: int
    text_index: int | None

    @property
    def utt_ids(self) -> list[str]:
        return sorted(self.shapes[0])

    def length(self, index: int, utt_id: str) -> int:
        return int(self.shapes[index][utt_id][0])

    @classmethod
    def load(cls, shape_files: Sequence[str], data_names: Sequence[str]) -> ShapeTable:
        """Read ``--train_shape_file`` (ordered as ``--train_data_path_and_name_and_type``)."""
        if not shape_files:
            raise ValueError("espnet_ddp needs --train_shape_file (run the statistics stage first)")
        shapes = tuple(load_num_sequence_text(f, loader_type="csv_int") for f in shape_files)
        keys = set(shapes[0])
        for f, s in zip(shape_files, shapes, strict=True):
            if set(s) != keys:
                missing = sorted(keys.symmetric_difference(s))[:3]
                raise ValueError(f"{f}: utterance ids differ from {shape_files[0]}, e.g. {missing}")
        names = tuple(data_names[: len(shape_files)])
        if len(names) != len(shape_files):
            names = tuple(Path(f).name.split("_shape")[0] for f in shape_files)
        speech_index = names.index("speech") if "speech" in names else 0
        text_index = names.index("text") if "text" in names else None
        return cls(names, shapes, speech_index, text_index)


def build_epoch_batches(
    spec: BatchSpec,
    table: ShapeTable,
    kept: Sequence[str],
    speech_lengths: Mapping[str, int],
) -> list[tuple[str, ...]]:
    """Batch ``kept`` with ESPnet's sampler, sizing batches by the lengths actually fed.

    The speech lengths are the post-drop lengths, so a batch of shortened audio holds more
    utterances and an epoch has fewer steps. Shape files are written to a temporary directory
    because ESPnet's samplers read files.
    """
    kept_set = set(kept)
    with tempfile.TemporaryDirectory(prefix="espnet_ddp_shapes_") as tmp:
        paths = []
        for i, shapes in enumerate(table.shapes):
            path = Path(tmp) / f"{i}_{table.names[i]}_shape"
            with path.open("w") as f:
                for utt in kept:
                    if utt not in kept_set:
                        continue
                    shape = list(shapes[utt])
                    if i == table.speech_index:
                        shape[0] = int(speech_lengths[utt])
                    elif i == table.text_index and spec.text_bins == "tokens":
                        shape = shape[:1]
                    f.write(f"{utt} {','.join(str(d) for d in shape)}\n")
            paths.append(str(path))
        sampler = build_batch_sampler(
            type=spec.batch_type,
            batch_size=spec.batch_size,
            batch_bins=spec.batch_bins,
            shape_files=paths,
            sort_in_batch=spec.sort_in_batch,
            sort_batch=spec.sort_batch,
            drop_last=spec.drop_last,
            min_batch_size=spec.min_batch_size,
            fold_lengths=spec.fold_lengths,
        )
        return [tuple(batch) for batch in sampler]
