"""The in-memory batches equal ESPnet's own samplers' for the same lengths, for every batch type."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from espnet2.samplers.build_batch_sampler import build_batch_sampler

from espnet_ddp.espnet.epoch_batches import (
    BatchSpec,
    EpochBatches,
    ShapeTable,
    batch_positions,
    build_epoch_batches,
)

VOCAB = 30


def corpus(n: int, seed: int) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Ids in shuffled order, speech lengths with many ties, token counts."""
    rng = np.random.default_rng(seed)
    ids = [f"spk{rng.integers(0, 5)}-utt{i:04d}" for i in range(n)]
    rng.shuffle(ids)
    speech = rng.integers(1, 40, size=n) * 400  # ties on purpose: ESPnet breaks them by file order
    text = rng.integers(1, 25, size=n)
    return ids, speech, text


def espnet_batches(tmp_path, spec: BatchSpec, ids, speech, text) -> list[tuple[str, ...]]:
    """ESPnet's sampler over shape files written in utterance-id order (the plugin's order)."""
    order = sorted(range(len(ids)), key=ids.__getitem__)
    sp, tx = tmp_path / "speech_shape", tmp_path / "text_shape"
    sp.write_text("".join(f"{ids[i]} {speech[i]}\n" for i in order))
    text_dim = "" if spec.text_bins == "tokens" else f",{VOCAB}"
    tx.write_text("".join(f"{ids[i]} {text[i]}{text_dim}\n" for i in order))
    return espnet_sampler_batches(spec, spec.batch_type, [sp, tx])


def espnet_sampler_batches(spec, batch_type, shape_files, **extra):
    """The batches of ESPnet's own ``build_batch_sampler`` for ``spec`` over ``shape_files``."""
    sampler = build_batch_sampler(
        type=batch_type,
        batch_size=spec.batch_size,
        batch_bins=spec.batch_bins,
        shape_files=[str(f) for f in shape_files],
        sort_in_batch=spec.sort_in_batch,
        sort_batch=spec.sort_batch,
        drop_last=spec.drop_last,
        min_batch_size=spec.min_batch_size,
        fold_lengths=spec.fold_lengths,
        **extra,
    )
    return [tuple(b) for b in sampler]


SPECS = [
    BatchSpec(kind, size, bins, folds, s_in, s_b, drop, min_bs, text_bins)
    for kind, size, bins, folds in [
        ("numel", 1, 60_000, ()),
        ("length", 1, 30_000, ()),
        ("folded", 12, 1, (6000, 10)),
        ("sorted", 7, 1, ()),
        ("unsorted", 7, 1, ()),
    ]
    for s_in, s_b in itertools.product(("descending", "ascending"), repeat=2)
    for drop, min_bs in [(False, 1), (True, 1), (False, 3)]
    for text_bins in ["shape", "tokens"]
    if kind in ("numel",) or text_bins == "shape"
]


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: "-".join(map(str, s.__dict__.values())))
def test_batches_equal_espnet_samplers(tmp_path, spec):
    ids, speech, text = corpus(157, seed=len(str(spec)))
    table = ShapeTable.from_arrays(
        ids, {"speech": speech, "text": np.stack([text, np.full_like(text, VOCAB)], axis=1)}
    )
    # a subset at shortened ("fed") lengths, as a pruned, time-dropped epoch has
    rng = np.random.default_rng(1)
    keep = sorted(rng.choice(len(ids), size=101, replace=False).tolist())
    fed = {ids[i]: int(speech[i] * 0.7) for i in keep}
    kept_ids = [ids[i] for i in keep]
    expected = espnet_batches(
        tmp_path, spec, kept_ids, np.array([fed[u] for u in kept_ids]), text[keep]
    )
    assert build_epoch_batches(spec, table, kept_ids, fed) == expected
    assert len(expected) > 2


def test_positions_and_ids_agree():
    ids, speech, text = corpus(40, seed=3)
    table = ShapeTable.from_arrays(ids, {"speech": speech, "text": text})
    spec = BatchSpec("numel", 1, 20_000, (), "descending", "descending", False, 1)
    kept = np.arange(0, 40, 2)
    batches = batch_positions(spec, table, kept, table.lengths[0][kept])
    assert isinstance(batches, EpochBatches)
    assert sorted(batches.flat.tolist()) == kept.tolist()
    assert int(batches.sizes().sum()) == kept.size
    names = batches.as_ids(table.utt_ids)
    assert [table.index_of(b).tolist() for b in names] == [
        batches.flat[a:b].tolist() for a, b in zip(batches.offsets[:-1], batches.offsets[1:])
    ]


def test_load_reads_shape_files_in_any_order(tmp_path):
    (tmp_path / "speech_shape").write_text("b 300\na 100\nc 200\n")
    (tmp_path / "text_shape").write_text("c 4,9\na 2,9\nb 3,9\n")
    table = ShapeTable.load(
        [str(tmp_path / "speech_shape"), str(tmp_path / "text_shape")], ["speech", "text"]
    )
    assert table.utt_ids == ["a", "b", "c"]
    assert table.lengths[0].tolist() == [100, 300, 200]
    assert table.lengths[1].tolist() == [2, 3, 4]
    assert table.feat_dims[1].tolist() == [9, 9, 9]
    assert table.length(table.text_index, "c") == 4


@pytest.mark.parametrize(
    "speech, text, match",
    [
        ("a 1\nb 2\n", "a 1\nc 2\n", "utterance ids differ"),
        ("a 1\na 2\n", "a 1\na 2\n", "appears twice"),
        ("a 1\nb x\n", "a 1\nb 2\n", "speech_shape:2: expected"),
        ("", "", "no utterances"),
    ],
)
def test_load_names_the_bad_file(tmp_path, speech, text, match):
    (tmp_path / "speech_shape").write_text(speech)
    (tmp_path / "text_shape").write_text(text)
    with pytest.raises(ValueError, match=match):
        ShapeTable.load(
            [str(tmp_path / "speech_shape"), str(tmp_path / "text_shape")], ["speech", "text"]
        )


def test_unsupported_batch_type_is_named():
    table = ShapeTable.from_arrays(["a"], {"speech": [5]})
    spec = BatchSpec("catbel", 1, 1, (), "descending", "descending", False, 1)
    with pytest.raises(ValueError, match="--batch_type catbel"):
        batch_positions(spec, table, np.array([0]), np.array([5]))


@pytest.mark.parametrize("descending", [False, True])
def test_stable_argsort_equals_numpys(descending):
    from espnet_ddp.espnet.epoch_batches import stable_argsort

    keys = np.random.default_rng(2).integers(-5, 40, size=3000)
    expected = np.argsort(-keys if descending else keys, kind="stable")
    assert stable_argsort(keys, descending).tolist() == expected.tolist()
    huge = np.array([2**61, 0, -(2**61), 0])  # too wide for the packed key: numpy's stable sort
    assert (
        stable_argsort(huge, descending).tolist()
        == np.argsort(-huge if descending else huge, kind="stable").tolist()
    )


def test_index_of_finds_fresh_strings_and_names_an_unknown_id():
    ids, speech, _ = corpus(500, seed=4)
    table = ShapeTable.from_arrays(ids, {"speech": speech})
    fresh = ["".join(u) for u in reversed(table.utt_ids)]  # equal strings, other objects
    assert table.index_of(fresh).tolist() == list(range(499, -1, -1))
    with pytest.raises(KeyError, match="'nope' is not in the training shape files"):
        table.index_of([fresh[0], "nope"])


@pytest.mark.parametrize(
    "release, drop_last, min_bs, n, sizes",
    [
        (202511, False, 3, 9, [5, 4]),  # a short last batch goes to the one before the last
        (202611, False, 3, 9, [4, 5]),  # ... to the last one (ESPnet 202611)
        (202511, True, 1, 9, [4, 4, 1]),  # drop_last keeps the short last batch
        (202611, True, 1, 9, [4, 4]),  # ... and drops it (ESPnet 202611)
        (202611, False, 2, 5, [5]),  # 202511 cannot spread this one (next test)
    ],
)
def test_folded_follows_the_rule_of_the_espnet_release(release, drop_last, min_bs, n, sizes):
    """Budget: 1 s. The installed release's rule is checked against ESPnet above."""
    ids = [f"u{i}" for i in range(n)]
    table = ShapeTable.from_arrays(ids, {"speech": np.arange(1, n + 1) * 100, "text": [3] * n})
    spec = BatchSpec(
        "folded", 4, 1, (100_000, 1000), "ascending", "ascending", drop_last, min_bs,
        espnet_release=release,
    )  # fmt: skip
    assert batch_positions(spec, table, np.arange(n), table.lengths[0]).sizes().tolist() == sizes


def test_folded_before_202611_names_a_last_batch_it_cannot_spread():
    table = ShapeTable.from_arrays(["a", "b", "c", "d", "e"], {"speech": [1, 2, 3, 4, 5]})
    spec = BatchSpec(
        "folded", 4, 1, (100,), "ascending", "ascending", False, 2, espnet_release=202511
    )
    with pytest.raises(ValueError, match="cannot spread a last batch of 1 over 1 batches"):
        batch_positions(spec, table, np.arange(5), table.lengths[0])


# -- utt2category (budget: about 1 s for the tests below) --------------------------------------
SORT_ORDERS = ("descending", "ascending")


def espnet_folded_by_category(tmp_path, spec, ids, speech, text, category):
    order = sorted(range(len(ids)), key=ids.__getitem__)
    sp, tx, cat = tmp_path / "speech_shape", tmp_path / "text_shape", tmp_path / "utt2category"
    sp.write_text("".join(f"{ids[i]} {speech[i]}\n" for i in order))
    tx.write_text("".join(f"{ids[i]} {text[i]},{VOCAB}\n" for i in order))
    cat.write_text("".join(f"{ids[i]} {category[i]}\n" for i in order))
    return espnet_sampler_batches(spec, "folded", [sp, tx], utt2category_file=str(cat))


@pytest.mark.parametrize("drop, min_bs", [(False, 1), (True, 1), (False, 3)])
@pytest.mark.parametrize("s_in, s_b", list(itertools.product(SORT_ORDERS, repeat=2)))
def test_folded_batches_keep_to_one_category_as_espnets(tmp_path, s_in, s_b, drop, min_bs):
    """ESPnet's folded sampler with ``utt2category``, on a pruned subset at fed lengths."""
    ids, speech, text = corpus(157, seed=7)
    rng = np.random.default_rng(2)
    category = {u: f"lang{c}" for u, c in zip(ids, rng.integers(0, 3, size=len(ids)))}
    table = ShapeTable.from_arrays(
        ids, {"speech": speech, "text": np.stack([text, np.full_like(text, VOCAB)], axis=1)}
    ).with_categories(category, "utt2category")
    keep = sorted(rng.choice(len(ids), size=101, replace=False).tolist())
    kept_ids = [ids[i] for i in keep]
    fed = {ids[i]: int(speech[i] * 0.7) for i in keep}
    spec = BatchSpec("folded", 12, 1, (6000, 10), s_in, s_b, drop, min_bs)
    got = build_epoch_batches(spec, table, kept_ids, fed)
    expected = espnet_folded_by_category(
        tmp_path, spec, kept_ids, np.array([fed[u] for u in kept_ids]), text[keep],
        [category[u] for u in kept_ids],
    )  # fmt: skip
    assert got == expected
    assert all(len({category[u] for u in b}) == 1 for b in got)
    assert len({category[b[0]] for b in got}) == 3


def test_folded_categories_exact_batches():
    """Categories in order of first appearance by length; each batched on its own."""
    ids, lengths = ["a", "b", "c", "d", "e", "f", "g"], [70, 10, 60, 20, 50, 30, 40]
    table = ShapeTable.from_arrays(ids, {"speech": lengths})
    table = table.with_categories(dict(zip(ids, "xyyxyxx", strict=True)), "utt2category")
    spec = BatchSpec("folded", 2, 1, (1000,), "descending", "ascending", False, 1)
    got = build_epoch_batches(spec, table, ids, dict(zip(ids, lengths, strict=True)))
    # by length: b(y) d(x) f(x) g(x) e(y) c(y) a(x): y first, then x
    assert got == [("e", "b"), ("c",), ("f", "d"), ("a", "g")]


def test_utt2category_with_other_ids_is_named():
    table = ShapeTable.from_arrays(["a", "b"], {"speech": [1, 2]})
    with pytest.raises(ValueError, match=r"^dump/utt2category: utterance ids differ .*'c'"):
        table.with_categories({"a": "x", "c": "y"}, "dump/utt2category")
