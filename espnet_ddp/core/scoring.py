"""Turn per-utterance training losses into pruning scores."""

from __future__ import annotations

import math
from collections.abc import Sequence


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
    if not (len(ctc) == len(att) == len(tokens)):
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
    out = []
    for c, a, n in zip(ctc, att, tokens, strict=True):
        value = 0.0
        if w_ctc:
            value += w_ctc * c
        if w_att:
            value += w_att * a
        if normalize == "tokens":
            value /= max(int(n), 1)
        out.append(value if math.isfinite(value) else float("nan"))
    return out
