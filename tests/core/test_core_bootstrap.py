"""Paired bootstrap intervals (over utterances and seeds) and the decision rule, on hand-built
systems whose answers are known."""

from __future__ import annotations

import numpy as np
import pytest

from espnet_ddp.core.bootstrap import Interval, common_utterances, paired_bootstrap
from espnet_ddp.core.decision import Candidate, decide, verdict


def system(errors: list[int], words: int = 10, prefix: str = "u") -> dict[str, tuple[int, int]]:
    return {f"{prefix}{i:04d}": (e, words) for i, e in enumerate(errors)}


@pytest.fixture(scope="module")
def pair() -> tuple[dict, dict]:
    """A reference and a candidate with exactly one more error on every 4th of 400 utterances:
    WER 10.0% against 12.5%."""
    rng = np.random.default_rng(5)
    base = [int(x) for x in rng.integers(0, 3, size=400)]  # mean 1 error in 10 words
    base = [1 + (b - 1) * (i % 2) for i, b in enumerate(base)]  # keep the mean exact
    cand = [b + (1 if i % 4 == 0 else 0) for i, b in enumerate(base)]
    return {0: system(base)}, {0: system(cand)}


def test_identical_systems_give_zero_wide_intervals(pair) -> None:
    ref, _ = pair
    iv = paired_bootstrap(ref, ref)
    assert (iv.abs_low, iv.abs_point, iv.abs_high) == (0.0, 0.0, 0.0)
    assert (iv.rel_low, iv.rel_high) == (0.0, 0.0)


def test_a_known_difference_is_covered_and_exact_for_the_same_inputs(pair) -> None:
    ref, cand = pair
    iv = paired_bootstrap(ref, cand)
    assert iv.ref_wer == pytest.approx(100 * sum(e for e, _ in ref[0].values()) / 4000)
    assert iv.abs_point == pytest.approx(2.5)  # 100 more errors in 4000 words
    assert iv.abs_low < 2.5 < iv.abs_high and iv.abs_low > 0
    assert iv.rel_low < iv.rel_point < iv.rel_high
    assert paired_bootstrap(ref, cand) == iv  # seeded: the same interval again
    assert paired_bootstrap(ref, cand, rng_seed=1) != iv


def test_the_same_test_set_twice_narrows_the_interval_by_about_sqrt_2(pair) -> None:
    ref, cand = pair
    twice_ref = {0: {**ref[0], **{k + "b": v for k, v in ref[0].items()}}}
    twice_cand = {0: {**cand[0], **{k + "b": v for k, v in cand[0].items()}}}
    one, two = paired_bootstrap(ref, cand), paired_bootstrap(twice_ref, twice_cand)
    assert two.utterances == 2 * one.utterances
    ratio = (one.abs_high - one.abs_low) / (two.abs_high - two.abs_low)
    assert ratio == pytest.approx(2**0.5, rel=0.12)


def test_seeds_widen_the_interval_and_pair_when_shared(pair) -> None:
    ref, cand = pair
    rng = np.random.default_rng(0)

    def noisy(side: dict, shift: int) -> dict:
        return {s: {u: (max(0, e + int(rng.integers(-1, 2)) + shift * (s == 2)), w)
                    for u, (e, w) in side[0].items()} for s in range(3)}  # fmt: skip

    seeds_ref, seeds_cand = noisy(ref, 1), noisy(cand, 1)  # seed 2 is worse on both sides
    paired = paired_bootstrap(seeds_ref, seeds_cand)
    assert paired.paired_seeds and (paired.ref_seeds, paired.cand_seeds) == (3, 3)
    shifted = {s + 10: v for s, v in seeds_cand.items()}  # other seeds: drawn independently
    unpaired = paired_bootstrap(seeds_ref, shifted)
    assert not unpaired.paired_seeds
    assert unpaired.abs_point == pytest.approx(paired.abs_point)
    assert unpaired.abs_high - unpaired.abs_low > paired.abs_high - paired.abs_low
    one_seed = paired_bootstrap({0: seeds_ref[0]}, {0: seeds_cand[0]})
    assert "1 x 1 seeds, 400 utts" in one_seed.describe()


def test_only_utterances_every_seed_scored_count() -> None:
    a = {0: system([1, 2, 3]), 1: {k: v for k, v in list(system([1, 2, 3]).items())[:2]}}
    assert common_utterances(a, {0: system([0, 0, 0, 0])}) == ["u0000", "u0001"]
    with pytest.raises(ValueError, match="no utterance"):
        paired_bootstrap({0: system([1], prefix="a")}, {0: system([1], prefix="b")})
    with pytest.raises(ValueError, match="no error"):
        paired_bootstrap({0: system([0, 0])}, {0: system([1, 0])})


def iv(rel_low: float, rel_high: float) -> Interval:
    return Interval(10.0, 10.0, 0.0, 10 * rel_low, 10 * rel_high, (rel_low + rel_high) / 2,
                    rel_low, rel_high, 1000, 3, 3, True)  # fmt: skip


def test_the_rule_a_tie_at_the_bound_fails_a_clear_pass_passes() -> None:
    assert verdict({"dev": iv(-0.05, 0.0299)}) == "qualifies"
    assert verdict({"dev": iv(-0.05, 0.03)}) == "undecided"  # at the margin: not below it
    assert verdict({"dev": iv(-0.05, 0.02), "dev2": iv(-0.01, 0.06)}) == "undecided"
    assert verdict({"dev": iv(0.001, 0.2)}) == "worse"
    assert verdict({"dev": None}) == "no interval"


def test_the_cheapest_qualifying_is_recommended_and_confirmed_once_on_test() -> None:
    d = decide([
        Candidate("big", 9.0, {"dev": iv(-0.06, 0.01)}, {"test": iv(-0.05, 0.02)}),
        Candidate("small", 6.0, {"dev": iv(-0.04, 0.02)}, {"test": iv(-0.01, 0.05)}),
        Candidate("cheap", 4.0, {"dev": iv(-0.02, 0.08)}),
    ])  # fmt: skip
    assert d.verdicts == {"big": "qualifies", "small": "qualifies", "cheap": "undecided"}
    assert d.recommended == "small" and d.confirmation == "undecided"
    assert "2 of 3 qualify" in d.reason


def test_nothing_qualifies_is_said_with_why() -> None:
    d = decide([Candidate("a", 6.0, {"dev": iv(0.02, 0.09)}),
                Candidate("b", 5.0, {"dev": iv(-0.02, 0.09)})])  # fmt: skip
    assert d.recommended is None and d.confirmation is None
    assert d.reason == ("nothing qualifies; shown worse than the reference: a; undecided "
                        "(the interval reaches past +3%): b")  # fmt: skip
