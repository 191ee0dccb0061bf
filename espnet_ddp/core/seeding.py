"""Reproducible random generators keyed by (seed, epoch[, utterance id], stream).

Every rank of a distributed run, every data-loader worker and every resumed run derives the same
generator from the same key, with no shared state. The utterance id enters through a stable 64-bit
BLAKE2b hash, never Python's ``hash()`` (salted per process for strings).

Streams in use, so that two consumers never share one generator:

* ``STREAM_DROP_GATE`` (0): time dropping, "is this utterance dropped at all" (``prob < 1``);
* ``STREAM_INFOBATCH`` (1): infobatch, "is this below-mean utterance pruned";
* ``STREAM_DROP_PLACE`` (2): time dropping, chunk lengths order and positions.

>>> float(utt_rng(0, 3, "utt1").random()) == float(utt_rng(0, 3, "utt1").random())
True
"""

import hashlib

import numpy as np

STREAM_DROP_GATE = 0
STREAM_INFOBATCH = 1
STREAM_DROP_PLACE = 2

# Domain tags keep epoch-level and utterance-level keys apart.
_TAG_EPOCH = 0x45504F43  # "EPOC"
_TAG_UTT = 0x55545400  # "UTT"


def stable_hash64(text: str) -> int:
    """A 64-bit unsigned hash of ``text`` that is the same in every process and on every machine."""
    digest = hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "little")


def _check_key(seed: int, epoch: int, stream: int) -> None:
    for name, value in (("seed", seed), ("epoch", epoch), ("stream", stream)):
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 0:
            raise ValueError(f"{name} must be a non-negative integer, got {value!r}")


def epoch_rng(seed: int, epoch: int, stream: int = 0) -> np.random.Generator:
    """A generator for decisions that concern a whole epoch (e.g. random pruning)."""
    _check_key(seed, epoch, stream)
    return np.random.default_rng(
        np.random.SeedSequence([_TAG_EPOCH, int(seed), int(epoch), int(stream)])
    )


def utt_rng(seed: int, epoch: int, utt_id: str, stream: int = 0) -> np.random.Generator:
    """A generator for decisions about one utterance in one epoch."""
    _check_key(seed, epoch, stream)
    if not isinstance(utt_id, str):
        raise TypeError(f"utt_id must be a str, got {type(utt_id).__name__}")
    return np.random.default_rng(
        np.random.SeedSequence(
            [_TAG_UTT, int(seed), int(epoch), stable_hash64(utt_id), int(stream)]
        )
    )
