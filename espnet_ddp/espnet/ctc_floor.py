"""Per-utterance CTC floors, computed once per run from the training transcripts.

The planner (batching by fed lengths) and the data-loader workers (which shorten the audio) must
agree on how much each utterance may lose. Both read the floor computed here, once, from the
exact token sequence (repeated tokens included: CTC needs a blank between two equal labels).
Not responsible for: the rule itself (:class:`MinKeepRule`), nor for choosing how much to drop.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from espnet_ddp.espnet.min_length import MinKeepRule, token_frames_needed


def read_text_file(path: str | Path) -> dict[str, str]:
    """Kaldi-style ``text``: ``utt_id transcript`` per line (the transcript may be empty)."""
    out: dict[str, str] = {}
    with Path(path).open(encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if not line.strip():
                continue
            parts = line.split(maxsplit=1)
            out[parts[0]] = parts[1] if len(parts) > 1 else ""
    return out


def ctc_floors(
    utt_ids: Sequence[str],
    rule: MinKeepRule,
    *,
    text_path: str | Path | None,
    tokenize: Callable[[str, str], np.ndarray] | None,
    token_counts: Sequence[int] | None = None,
) -> np.ndarray:
    """The CTC floor in samples of every utterance, in the order of ``utt_ids`` (int64).

    With a transcript file and a tokenizer (the training preprocessor's), the floor counts the
    exact labels and repeats. Without them (no text data, no tokenizer), it falls back to
    ``token_counts`` (the shape file's lengths; repeats unknown) and logs that it did.
    Raises ``ValueError`` naming the file and the first utterance without a transcript.

    >>> rule = MinKeepRule(hop_length=128, subsampling=4, n_fft=512, margin_frames=2)
    >>> ctc_floors(["a"], rule, text_path=None, tokenize=None, token_counts=[3]).tolist()
    [3072]
    """
    t0 = time.perf_counter()
    if text_path is None or tokenize is None:
        counts = np.zeros(len(utt_ids), dtype=np.int64)
        if token_counts is not None:
            counts = np.asarray(token_counts, dtype=np.int64)
        logging.info("espnet_ddp: CTC floors from token counts (no tokenizer: repeats unknown)")
        return rule.samples_for_counts(counts)
    texts = read_text_file(text_path)
    needed = np.zeros(len(utt_ids), dtype=np.int64)
    for i, utt in enumerate(utt_ids):
        if utt not in texts:
            raise ValueError(f"{text_path}: no transcript for training utterance {utt}")
        needed[i] = token_frames_needed(tokenize(utt, texts[utt]))
    floors = rule.samples_for_counts(needed)
    logging.info(
        f"espnet_ddp: CTC floors of {len(utt_ids)} utterances from {text_path} in "
        f"{time.perf_counter() - t0:.1f}s"
    )
    return floors


def preprocessor_tokenizer(
    preprocess_fn, text_name: str = "text"
) -> Callable[[str, str], np.ndarray] | None:
    """A ``(utt_id, transcript) -> token ids`` function from ESPnet's training preprocessor.

    It runs the preprocessor on the transcript alone, so text cleaning and the token list are
    exactly those of training. ``None`` when there is no preprocessor or it has no tokenizer.
    """
    if preprocess_fn is None or getattr(preprocess_fn, "tokenizer", None) is None:
        return None

    def tokenize(utt_id: str, text: str) -> np.ndarray:
        out = preprocess_fn(utt_id, {text_name: text})
        return np.asarray(out[text_name])

    return tokenize
