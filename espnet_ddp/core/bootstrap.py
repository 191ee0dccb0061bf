"""Paired bootstrap intervals of a WER difference, over test utterances and training seeds.

Two systems decoded on the same utterances are compared by the difference of their WERs,
absolute and relative to the reference. Its 95% interval comes from a paired bootstrap over
utterances (Bisani and Ney, ICASSP 2004): every resample draws the utterances with replacement,
the SAME draw for both systems. A configuration trained with several seeds is several systems;
the seeds are resampled too, so that the interval carries training noise and not only test-set
noise. Where both sides have the same seeds, the seeds are paired (one draw for both; the same
``--seed`` gives the same initial model); otherwise each side's seeds are drawn on their own.
The WER of a resample is its drawn seeds' errors summed over its drawn utterances, over as many
copies of their reference words.

Responsible for the arithmetic only: numpy, seeded, exact for the same inputs. Not responsible
for reading scores (:mod:`espnet_ddp.core.utterance_errors`) nor for deciding anything
(:mod:`espnet_ddp.core.decision`).

>>> ref = {0: {"a": (1, 10), "b": (2, 10), "c": (0, 10), "d": (1, 10)}}
>>> same = paired_bootstrap(ref, ref)
>>> same.abs_low, same.abs_high, same.rel_point
(0.0, 0.0, 0.0)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

# seed -> utterance id -> (errors, reference tokens)
SeedErrors = Mapping[int, Mapping[str, tuple[int, int]]]
DEFAULT_RESAMPLES = 2000
DEFAULT_RNG_SEED = 20041  # fixed: the same inputs give the same interval


@dataclass(frozen=True)
class Interval:
    """A WER difference (candidate minus reference) and its interval, absolute (WER points)
    and relative (a fraction of the reference's WER), with what it rests on."""

    ref_wer: float  # %
    cand_wer: float  # %
    abs_point: float  # WER points
    abs_low: float
    abs_high: float
    rel_point: float  # fraction: 0.03 is +3%
    rel_low: float
    rel_high: float
    utterances: int
    ref_seeds: int
    cand_seeds: int
    paired_seeds: bool
    level: float = 0.95

    def describe(self) -> str:
        """``+1.20 points [-0.40, +2.90], +8.1% [-2.7%, +19.6%] (3 seed(s) paired, 1000 utts)``."""
        seeds = (f"{self.ref_seeds} seed(s) paired" if self.paired_seeds
                 else f"{self.ref_seeds} x {self.cand_seeds} seeds")  # fmt: skip
        return (
            f"{self.abs_point:+.2f} points [{self.abs_low:+.2f}, {self.abs_high:+.2f}], "
            f"{100 * self.rel_point:+.1f}% [{100 * self.rel_low:+.1f}%, "
            f"{100 * self.rel_high:+.1f}%] ({seeds}, {self.utterances} utts)"
        )


def _matrices(systems: SeedErrors, utts: list[str]) -> tuple[list[int], np.ndarray, np.ndarray]:
    seeds = sorted(systems)
    errors = np.array([[systems[s][u][0] for u in utts] for s in seeds], dtype=np.float64)
    refs = np.array([[systems[s][u][1] for u in utts] for s in seeds], dtype=np.float64)
    return seeds, errors, refs


def common_utterances(*sides: SeedErrors) -> list[str]:
    """The utterances every seed of every side was scored on, sorted."""
    sets = [set(per_utt) for side in sides for per_utt in side.values()]
    return sorted(set.intersection(*sets)) if sets else []


def paired_bootstrap(
    reference: SeedErrors,
    candidate: SeedErrors,
    resamples: int = DEFAULT_RESAMPLES,
    level: float = 0.95,
    rng_seed: int = DEFAULT_RNG_SEED,
) -> Interval:
    """The interval of ``candidate``'s WER minus ``reference``'s (see the module).

    Only utterances scored by every seed of both sides count. Raises ``ValueError`` when there
    is none, or when the reference makes no error at all (no relative difference).
    """
    utts = common_utterances(reference, candidate)
    if not utts or not reference or not candidate:
        raise ValueError("no utterance scored by every seed of both systems")
    ref_seeds, ref_err, ref_tok = _matrices(reference, utts)
    cand_seeds, cand_err, cand_tok = _matrices(candidate, utts)
    tokens = ref_tok[0]
    if ref_err.sum() == 0:
        raise ValueError("the reference makes no error: a relative difference is undefined")
    paired = ref_seeds == cand_seeds and len(ref_seeds) > 1
    rng = np.random.default_rng(rng_seed)
    n = len(utts)
    draws = rng.multinomial(n, np.full(n, 1.0 / n), size=resamples).astype(np.float64)  # B x n

    def seed_draws(k: int) -> np.ndarray:
        if k == 1:
            return np.ones((resamples, 1))
        return rng.multinomial(k, np.full(k, 1.0 / k), size=resamples).astype(np.float64)

    ref_pick = seed_draws(len(ref_seeds))
    cand_pick = ref_pick if paired else seed_draws(len(cand_seeds))

    def wer(errors: np.ndarray, pick: np.ndarray) -> np.ndarray:
        per_seed = errors @ draws.T  # k x B: errors of each seed on each resample
        total = (pick * per_seed.T).sum(axis=1)  # B
        return 100.0 * total / (pick.sum(axis=1) * (draws @ tokens))

    r, c = wer(ref_err, ref_pick), wer(cand_err, cand_pick)
    ok = r > 0
    diff, rel = c - r, (c[ok] - r[ok]) / r[ok]
    ref_point = 100.0 * ref_err.sum() / (len(ref_seeds) * tokens.sum())
    cand_point = 100.0 * cand_err.sum() / (len(cand_seeds) * tokens.sum())
    tail = 100 * (1 - level) / 2
    lo, hi = np.percentile(diff, [tail, 100 - tail])
    rlo, rhi = np.percentile(rel, [tail, 100 - tail])
    return Interval(
        ref_wer=float(ref_point), cand_wer=float(cand_point),
        abs_point=float(cand_point - ref_point), abs_low=float(lo), abs_high=float(hi),
        rel_point=float((cand_point - ref_point) / ref_point), rel_low=float(rlo),
        rel_high=float(rhi), utterances=n, ref_seeds=len(ref_seeds),
        cand_seeds=len(cand_seeds), paired_seeds=paired, level=level,
    )  # fmt: skip
