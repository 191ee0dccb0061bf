import pickle
import random

import pytest

from espnet_ddp.core.config import PruningConfig
from espnet_ddp.core.score_table import ScoreTable
from espnet_ddp.core.seeding import utt_rng
from espnet_ddp.core.selection import EpochSelection, keep_count, select_epoch

# Ids in score order: "k" has score 0, "c" 1, ..., "d" 9; id order differs from score order.
BY_SCORE = ["k", "c", "h", "a", "f", "j", "b", "e", "i", "d"]
ALL = tuple(sorted(BY_SCORE))


def _table(ids=BY_SCORE) -> ScoreTable:
    t = ScoreTable()
    t.update(ids, [float(BY_SCORE.index(u)) for u in ids])
    return t


def _kept_per_epoch(strategy, conf, max_epoch=6, ids=BY_SCORE, table=None):
    cfg = PruningConfig.from_options(strategy, conf)
    table = table or _table()
    return [select_epoch(ids, table, e, max_epoch, cfg).kept for e in range(1, max_epoch + 1)]


def t(s: str) -> tuple[str, ...]:
    return tuple(s)


def test_keep_count_rounds_half_up():
    assert keep_count(10, 0.5) == 5
    assert keep_count(5, 0.5) == 3  # 2.5 -> 3
    assert keep_count(7, 0.5) == 4  # 3.5 -> 4
    assert keep_count(10, 0.35) == 4  # 3.4999999999999996 in floats
    assert keep_count(10, 0.34) == 3
    assert keep_count(3, 0.1) == 1  # at least one
    assert keep_count(0, 0.5) == 0


def test_easy2hard_linear_exact():
    # K = 5, n - K = 5, progress 0, .25, .5, .75, 1 -> start 0, 1, 3 (2.5 up), 4, 5
    assert _kept_per_epoch("easy2hard", {"keep_ratio": 0.5}) == [
        ALL,
        t("acfhk"),  # k c h a f
        t("acfhj"),  # c h a f j
        t("abefj"),  # a f j b e
        t("befij"),  # f j b e i
        t("bdeij"),  # j b e i d
    ]
    # K = 2, n - K = 8 -> start 0, 2, 4, 6, 8
    assert _kept_per_epoch("easy2hard", {"keep_ratio": 0.2})[1:] == [
        t("ck"), t("ah"), t("fj"), t("be"), t("di")
    ]


def test_easy2hard_cosine_exact():
    # start = round(8 * (1 - cos(pi p)) / 2) = 0, 1 (1.17), 4, 7 (6.83), 8
    assert _kept_per_epoch("easy2hard", {"keep_ratio": 0.2, "schedule": "cosine"})[1:] == [
        t("ck"), t("ch"), t("fj"), t("ei"), t("di")
    ]


def test_easy2hard_step_exact():
    # S = 4: shaped 0, 1/3, 2/3, 1, 1 -> start 0, 3 (2.67), 5 (5.33), 8, 8
    assert _kept_per_epoch("easy2hard", {"keep_ratio": 0.2, "schedule": "step"})[1:] == [
        t("ck"), t("af"), t("bj"), t("di"), t("di")
    ]
    # S = 3: shaped 0, 0, 1/2, 1, 1 -> start 0, 0, 4, 8, 8
    conf = {"keep_ratio": 0.2, "schedule": "step", "schedule_steps": 3}
    assert _kept_per_epoch("easy2hard", conf)[1:] == [t("ck"), t("ck"), t("fj"), t("di"), t("di")]


def test_easy_and_hard_exact():
    easy = _kept_per_epoch("easy", {"keep_ratio": 0.5})
    hard = _kept_per_epoch("hard", {"keep_ratio": 0.3})
    assert easy[0] == hard[0] == ALL
    assert set(easy[1:]) == {t("acfhk")}
    assert set(hard[1:]) == {t("dei")}


def test_ties_break_by_id():
    table = ScoreTable()
    table.update(["z", "y", "x", "w"], [1.0, 1.0, 1.0, 0.0])
    cfg = PruningConfig(strategy="easy", keep_ratio=0.5)
    assert select_epoch(["z", "y", "x", "w"], table, 2, 3, cfg).kept == ("w", "x")
    cfg = PruningConfig(strategy="hard", keep_ratio=0.5)
    assert select_epoch(["z", "y", "x", "w"], table, 2, 3, cfg).kept == ("y", "z")


def test_random_reproducible_and_varies_by_epoch():
    runs = _kept_per_epoch("random", {"keep_ratio": 0.5, "seed": 1})
    assert runs == _kept_per_epoch("random", {"keep_ratio": 0.5, "seed": 1})
    assert runs[0] == ALL
    assert all(len(k) == 5 and set(k) <= set(ALL) for k in runs[1:])
    assert len(set(runs[1:])) > 1
    assert runs != _kept_per_epoch("random", {"keep_ratio": 0.5, "seed": 2})
    # The random choice ignores the score values.
    other = ScoreTable()
    other.update(BY_SCORE, [100.0 - i for i in range(10)])
    assert runs == _kept_per_epoch("random", {"keep_ratio": 0.5, "seed": 1}, table=other)


def _infobatch_expected(seed, epoch, prune_prob):
    below_mean = BY_SCORE[:5]  # mean of 0..9 is 4.5
    kept_below = [
        u for u in below_mean if utt_rng(seed, epoch, u, stream=1).random() >= prune_prob
    ]
    kept = tuple(sorted(kept_below + BY_SCORE[5:]))
    return kept, {u: 1.0 / (1.0 - prune_prob) for u in kept_below}


@pytest.mark.parametrize("prune_prob", [0.5, 0.8])
def test_infobatch_exact(prune_prob):
    cfg = PruningConfig.from_options("infobatch", {"seed": 3, "prune_prob": prune_prob})
    table = _table()
    for epoch in range(2, 7):
        sel = select_epoch(BY_SCORE, table, epoch, 6, cfg)
        kept, weights = _infobatch_expected(3, epoch, prune_prob)
        assert sel.kept == kept
        assert dict(sel.weights) == weights


def test_infobatch_pinned():
    cfg = PruningConfig.from_options("infobatch", {"seed": 3})
    sel = select_epoch(BY_SCORE, _table(), 4, 6, cfg)
    assert sel.kept == t("abdeij") and dict(sel.weights) == {"a": 2.0}


def test_infobatch_keeps_scores_at_the_mean_unweighted():
    cfg = PruningConfig.from_options("infobatch", {"prune_prob": 0.99})
    ids = [f"u{i:03d}" for i in range(300)]
    table = ScoreTable()
    table.update(ids, [float(i % 3) for i in range(300)])  # 0, 1, 2: the mean is 1
    sel = select_epoch(ids, table, 2, 3, cfg)
    at_mean = {u for i, u in enumerate(ids) if i % 3 == 1}
    assert at_mean <= set(sel.kept) and not at_mean & set(sel.weights)
    assert len(sel.kept) < 220  # nearly all 100 below-mean ones dropped


def test_infobatch_anneal_and_rate():
    cfg = PruningConfig.from_options(
        "infobatch", {"seed": 0, "prune_prob": 0.3, "anneal_epochs": 1}
    )
    ids = [f"utt{i:04d}" for i in range(2000)]
    table = ScoreTable()
    table.update(ids, [float(i % 2) for i in range(2000)])  # half below the mean
    sel = select_epoch(ids, table, 2, 3, cfg)
    dropped = 2000 - len(sel.kept)
    assert 250 < dropped < 350  # about 0.3 * 1000
    assert len(sel.weights) == 1000 - dropped
    assert set(sel.weights.values()) == {1.0 / 0.7}
    last = select_epoch(ids, table, 3, 3, cfg)
    assert last.phase.kind == "anneal" and len(last.kept) == 2000 and not last.weights


def test_unscored_always_kept():
    scored = BY_SCORE[:6]  # scores 0..5
    table = _table(scored)
    cfg = PruningConfig(strategy="hard", keep_ratio=0.5)
    sel = select_epoch(BY_SCORE, table, 2, 5, cfg)
    assert sel.kept == tuple(sorted(["j", "a", "f"] + BY_SCORE[6:]))
    assert sel.unscored_kept == 4 and sel.total == 10
    assert sel.kept_ratio == 0.7
    empty = select_epoch(BY_SCORE, ScoreTable(), 2, 5, cfg)
    assert empty.kept == ALL and empty.unscored_kept == 10


def test_table_entries_outside_the_set_are_ignored():
    table = _table()
    table.update(["zzz-not-in-set"], [-1.0])
    cfg = PruningConfig(strategy="easy", keep_ratio=0.5)
    assert select_epoch(BY_SCORE, table, 2, 5, cfg).kept == t("acfhk")


@pytest.mark.parametrize("strategy", ["random", "easy", "hard", "easy2hard", "infobatch"])
def test_input_order_does_not_matter(strategy):
    cfg = PruningConfig(strategy=strategy, seed=7)
    ids = [f"spk{i % 7}-utt{i:03d}" for i in range(200)]
    table = ScoreTable()
    rng = random.Random(0)
    table.update(ids[:150], [rng.random() for _ in range(150)])
    shuffled = ids[:]
    random.Random(1).shuffle(shuffled)
    for epoch in (2, 4):
        a = select_epoch(ids, table, epoch, 5, cfg)
        b = select_epoch(shuffled, table, epoch, 5, cfg)
        assert a == b and a.digest() == b.digest()
        assert list(a.kept) == sorted(a.kept)


def test_warmup_and_none_keep_all():
    table = _table()
    sel = select_epoch(BY_SCORE, table, 1, 5, PruningConfig(strategy="easy", warmup_epochs=1))
    assert sel.phase.kind == "warmup" and sel.kept == ALL and not sel.weights
    assert sel.kept_ratio == 1.0
    sel = select_epoch(BY_SCORE, table, 3, 5, PruningConfig())
    assert sel.phase.kind == "full" and sel.kept == ALL


def test_duplicate_ids_rejected():
    with pytest.raises(ValueError, match="duplicate utterance id 'a'"):
        select_epoch(["a", "b", "a"], ScoreTable(), 1, 5, PruningConfig())


def test_digest():
    table = _table()
    cfg = PruningConfig(strategy="easy2hard", keep_ratio=0.5)
    a = select_epoch(BY_SCORE, table, 3, 6, cfg)
    assert a.digest() == select_epoch(list(reversed(BY_SCORE)), table, 3, 6, cfg).digest()
    assert a.digest() != select_epoch(BY_SCORE, table, 4, 6, cfg).digest()
    assert len(a.digest()) == 64
    phase = a.phase
    plain = EpochSelection(3, "infobatch", phase, ("a", "b"), {}, 2, 0)
    w2 = EpochSelection(3, "infobatch", phase, ("a", "b"), {"a": 2.0}, 2, 0)
    w3 = EpochSelection(3, "infobatch", phase, ("a", "b"), {"a": 3.0}, 2, 0)
    assert len({plain.digest(), w2.digest(), w3.digest()}) == 3


def test_selection_pickles():
    # The glue may hand selections to data-loader workers or gather them across ranks.
    cfg = PruningConfig.from_options("infobatch", {"seed": 3})
    sel = select_epoch(BY_SCORE, _table(), 4, 6, cfg)
    again = pickle.loads(pickle.dumps(sel))
    assert again == sel and again.digest() == sel.digest()


def test_report():
    sel = select_epoch(BY_SCORE, _table(), 2, 6, PruningConfig(strategy="easy", keep_ratio=0.5))
    rep = sel.report()
    assert rep["kept"] == 5 and rep["total"] == 10 and rep["phase"] == "pruned"
