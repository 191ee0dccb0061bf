"""Turn per-utterance training losses into pruning scores."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def utterance_scores(
    ctc: Sequence[float],
    att: Sequence[float],
    tokens: Sequence[int],
    *,
    score: str = "hybrid",
    ctc_weight: float = 0.5,
    normalize: str = "tokens",
    has_ctc: bool = True,
    has_att: bool = True,
) -> list[float]:
    """Score each utterance from its summed CTC and attention losses.

    ``hybrid`` is ``ctc_weight * ctc + (1 - ctc_weight) * att``; a model without one of the two
    branches is scored by the other. ``normalize="tokens"`` divides by the number of target tokens,
    so that long utterances are not "hard" merely for being long. NaN or inf losses give a
    non-finite score, which the score table counts and never stores.

    >>> utterance_scores([4.0], [2.0], [2], ctc_weight=0.5)
    [1.5]
    """
    return utterance_scores_array(
        ctc, att, tokens, score=score, ctc_weight=ctc_weight, normalize=normalize,
        has_ctc=has_ctc, has_att=has_att,
    ).tolist()  # fmt: skip


def utterance_scores_array(
    ctc: Sequence[float] | np.ndarray,
    att: Sequence[float] | np.ndarray,
    tokens: Sequence[int] | np.ndarray,
    *,
    score: str = "hybrid",
    ctc_weight: float = 0.5,
    normalize: str = "tokens",
    has_ctc: bool = True,
    has_att: bool = True,
) -> np.ndarray:
    """:func:`utterance_scores` as a float64 array (vectorized; NaN for non-finite scores)."""
    ctc = np.asarray(ctc, dtype=np.float64).reshape(-1)
    att = np.asarray(att, dtype=np.float64).reshape(-1)
    tokens = np.asarray(tokens, dtype=np.int64).reshape(-1)
    if not (ctc.size == att.size == tokens.size):
        raise ValueError("ctc, att and tokens must have the same length")
    use_ctc = has_ctc and score in ("hybrid", "ctc")
    use_att = has_att and score in ("hybrid", "att")
    if score == "ctc" and not has_ctc:
        raise ValueError("--data_pruning_conf score=ctc: the model has no CTC branch")
    if score == "att" and not has_att:
        raise ValueError("--data_pruning_conf score=att: the model has no attention decoder")
    if use_ctc and use_att:
        w_ctc, w_att = ctc_weight, 1.0 - ctc_weight
    else:
        w_ctc, w_att = float(use_ctc), float(use_att)
    value = np.zeros(ctc.size, dtype=np.float64)
    with np.errstate(invalid="ignore", over="ignore"):
        if w_ctc:
            value = value + w_ctc * ctc
        if w_att:
            value = value + w_att * att
        if normalize == "tokens":
            value = value / np.maximum(tokens, 1)
    value[~np.isfinite(value)] = np.nan
    return value
