"""The budget frontier: exact ratios on synthetic curves, seed means, and its place in compare."""

from __future__ import annotations

from pathlib import Path

import pytest

from espnet_ddp.report.experiment import Experiment
from espnet_ddp.report.frontier import build_curve
from espnet_ddp.report.frontier_table import CURVE, FULL_OTHER, OTHER, build_frontier
from espnet_ddp.report.markdown import render
from espnet_ddp.report.pruning_log import PruningEpoch, PruningLog
from espnet_ddp.report.read_results_md import Score
from espnet_ddp.report.strategy import strategy_from_config
from espnet_ddp.report.table import build_comparison
from espnet_ddp.report.train_log import EpochLog, TrainLog

TAG = "decode_asr_asr_model_valid.acc.ave"


def test_ratio_interpolates_in_audio_between_budget_points():
    curve = build_curve("valid acc", [("b3", 3.0, 0.60), ("b5", 5.0, 0.70), ("b10", 10.0, 0.90)],
                        higher_is_better=True)  # fmt: skip
    assert curve.audio_to_reach(0.80) == pytest.approx(7.5)  # halfway from 5 h to 10 h
    assert curve.ratio(0.80, audio_hours=6.0) == pytest.approx(1.25)
    assert curve.ratio(0.65, audio_hours=8.0) == pytest.approx(0.5)
    assert curve.audio_to_reach(0.60) == 3.0 and curve.audio_to_reach(0.90) == 10.0


def test_outside_the_measured_budgets_is_not_bracketed():
    curve = build_curve("valid acc", [("b3", 3.0, 0.60), ("b10", 10.0, 0.90)], True)
    assert curve.ratio(0.95, 6.0) is None and curve.outside(0.95) == "above"
    assert curve.ratio(0.55, 2.0) is None and curve.outside(0.55) == "below"
    assert curve.outside(0.75) is None


def test_the_curve_is_the_convex_hull_of_seed_means():
    samples = [
        ("b3", 3.0, 0.60), ("b5", 5.0, 0.74), ("b5", 5.2, 0.70),  # b5: mean 5.1 h, 0.72
        ("b7", 7.0, 0.71),  # below the line b5-b10: never on the curve
        ("b10", 10.0, 0.92),
    ]
    curve = build_curve("valid acc", samples, higher_is_better=True)
    assert [(p.label, p.seeds, p.on_hull) for p in curve.points] == [
        ("b3", 1, True), ("b5", 2, True), ("b7", 1, False), ("b10", 1, True)]  # fmt: skip
    # b7's envelope is the line b5-b10 at 7 h: 0.72 + 0.20 x 1.9 / 4.9
    assert [p.envelope for p in curve.points] == pytest.approx([0.60, 0.72, 0.79755, 0.92],
                                                               abs=1e-5)  # fmt: skip
    # 0.72 is first reached at b5 (5.1 h); 0.82 lies halfway from b5 to b10: 5.1 + 4.9 / 2
    assert curve.audio_to_reach(0.72) == pytest.approx(5.1)
    assert curve.audio_to_reach(0.82) == pytest.approx(7.55)
    assert curve.span_used(0.82) == pytest.approx(4.9) and curve.span_used(0.72) == 0.0


def test_a_worse_budget_point_never_moves_the_curve():
    base = [("b3", 3.0, 40.0), ("b6", 6.0, 30.0), ("b10", 10.0, 20.0), ("b12", 12.0, 19.0)]
    curve = build_curve("WER", base, higher_is_better=False)
    for extra in (("b8", 8.0, 27.0), ("b11", 11.0, 19.5), ("b14", 14.0, 25.0)):
        worse = build_curve("WER", [*base, extra], higher_is_better=False)
        assert [p.label for p in worse.hull] == [p.label for p in curve.hull]
        for wer in (39.0, 31.0, 25.0, 19.2):
            assert worse.audio_to_reach(wer) == pytest.approx(curve.audio_to_reach(wer))
    # b11 lay ON the segment b10-b12 (not a vertex); b6 lies below the line b3-b10 (31.4 at 6 h)
    assert [p.label for p in curve.hull] == ["b3", "b6", "b10", "b12"]
    assert curve.audio_to_reach(25.0) == pytest.approx(8.0)  # halfway from b6 to b10
    # beyond the best point the curve ends: 18 is better than every budget
    assert curve.outside(18.0) == "above" and curve.audio_to_reach(19.0) == 12.0


def test_lower_is_better_for_wer():
    curve = build_curve("WER", [("b3", 3.0, 40.0), ("b10", 10.0, 20.0)], higher_is_better=False)
    assert curve.audio_to_reach(30.0) == pytest.approx(6.5)
    assert curve.ratio(30.0, 5.0) == pytest.approx(1.3)
    assert curve.outside(45.0) == "below" and curve.outside(15.0) == "above"


def experiment(name: str, config: dict, audio_h: float, accs: list[float],
               wer: dict[str, float] | None = None, seed: int = 0) -> Experiment:  # fmt: skip
    """An experiment as ``load_experiment`` would give it: finished, with records and scores."""
    config = {"max_epoch": len(accs), "seed": seed, "output_dir": f"exp/s{seed}/{name}",
              "scheduler": "warmuplr", **config}  # fmt: skip
    epochs = [EpochLog(e, stats={"train": {"time": 60.0}, "valid": {"acc": a}})
              for e, a in enumerate(accs, 1)]  # fmt: skip
    per_epoch = audio_h * 3600 / len(accs)
    records = [PruningEpoch(e, {"epoch": e, "fed_seconds": per_epoch, "optimizer_steps": 10})
               for e in range(1, len(accs) + 1)]  # fmt: skip
    scores = [Score(TAG, t, "WER", v) for t, v in (wer or {}).items()]
    return Experiment(
        path=Path(f"exp/s{seed}/{name}"), name=f"{name}@s{seed}", config=config,
        strategy=strategy_from_config(config), train_log=TrainLog(epochs, len(accs), True),
        pruning=PruningLog(records), scores=scores, decode_tag=TAG if scores else None,
    )  # fmt: skip


FIT = {"lr_fit": "linear"}
E2H = {"data_pruning": "easy2hard", "data_pruning_conf": {"keep_ratio": 0.7}, "lr_fit": "linear"}


@pytest.fixture
def lab() -> list[Experiment]:
    return [
        experiment("warmuplr", {}, 10.0, [0.5, 0.88]),
        experiment("b0.5", {**FIT, "max_epoch": 1}, 5.0, [0.80], {"t": 30.0}),
        experiment("b1.0", FIT, 10.0, [0.5, 0.90], {"t": 20.0}, seed=0),
        experiment("b1.0", FIT, 10.0, [0.5, 0.92], {"t": 22.0}, seed=1),
        experiment("e2h", E2H, 7.0, [0.5, 0.88], {"t": 24.0}),
    ]


def test_configurations_group_seeds_and_get_ratios(lab):
    frontier = build_frontier(lab, ["t"])
    assert frontier is not None
    kinds = {c.label: (c.kind, c.seeds) for c in frontier.configurations}
    assert kinds == {"warmuplr@s0": (FULL_OTHER, 1), "b0.5@s0": (CURVE, 1),
                     "b1.0@s0": (CURVE, 2), "e2h@s0": (OTHER, 1)}  # fmt: skip
    assert [(p.audio_hours, p.value) for p in frontier.acc_curve.points] == [
        (5.0, 0.80), (10.0, pytest.approx(0.91))]  # fmt: skip
    e2h = next(c for c in frontier.configurations if c.label == "e2h@s0")
    # the curve reaches 0.88 at 5 + 8/11 x 5 h; e2h fed 7 h
    assert e2h.acc_ratio == pytest.approx((5.0 + 5.0 * 0.08 / 0.11) / 7.0)
    # WER 24 on the curve 30 -> 21 (seed mean): 5 + 6/9 x 5 h
    assert e2h.wer_ratio["t"] == pytest.approx((5.0 + 5.0 * 6 / 9) / 7.0)
    warm = next(c for c in frontier.configurations if c.label == "warmuplr@s0")
    assert warm.acc_ratio == pytest.approx((5.0 + 5.0 * 0.08 / 0.11) / 10.0)
    assert warm.wer_ratio == {}  # not decoded


def test_compare_shows_the_frontier_in_table_and_json(lab):
    comparison = build_comparison(lab, baseline=0)
    text = render(comparison)
    assert "## The frontier: full data on a fitted schedule, for less audio" in text
    rows = {r.experiment: r for r in comparison.rows}
    assert rows["e2h@s0"].frontier_ratio == pytest.approx((5.0 + 5.0 * 0.08 / 0.11) / 7.0)
    assert rows["b1.0@s1"].frontier_ratio is None  # on the curve
    assert rows["e2h@s0"].lr_schedule == "fitted linear"
    assert rows["warmuplr@s0"].lr_schedule == "warmuplr"
    payload = comparison.to_dict()["frontier"]
    assert [p["label"] for p in payload["acc_curve"]["points"]] == ["b0.5@s0", "b1.0@s0"]
    assert payload["runs"]["e2h@s0"]["acc_ratio"] == pytest.approx(rows["e2h@s0"].frontier_ratio)


def test_a_run_better_than_every_budget_is_not_bracketed(lab):
    lab.append(experiment("e2h_great", {**E2H, "seed": 5}, 6.0, [0.5, 0.95], {"t": 10.0}))
    frontier = build_frontier(lab, ["t"])
    great = frontier.runs["e2h_great@s0"]
    assert great.acc_ratio is None and great.acc_outside == "above"
    assert great.wer_ratio["t"] is None and great.wer_outside["t"] == "above"
    assert "not bracketed (above)" in render(build_comparison(lab))


def test_no_fitted_full_data_run_means_no_frontier(lab):
    assert build_frontier([lab[0], lab[-1]], ["t"]) is None


def test_the_frontier_plot_draws_the_envelope_and_every_configuration(lab, tmp_path):
    from espnet_ddp.report.plots import frontier_figure, write_plots

    comparison = build_comparison(lab)
    fig = frontier_figure(comparison.frontier)
    acc_ax, wer_ax, wall_ax = fig.axes
    (curve,) = [line for line in acc_ax.get_lines() if line.get_gid() == "curve"]
    assert list(curve.get_ydata()) == pytest.approx([0.80, 0.91])
    labels = [t.get_text() for t in acc_ax.get_legend().get_texts()]
    assert labels == ["budget curve (fitted LR, convex hull)", "warmuplr@s0 (warmuplr, 1 seed)",
                      "e2h@s0 (fitted linear, 1 seed)"]  # fmt: skip
    assert len(wall_ax.collections) == 4  # one marker per configuration
    for ax in fig.axes:  # every panel: axis labels and a legend naming its marks
        assert ax.get_xlabel() and ax.get_ylabel()
        assert ax.get_legend() is not None
    assert len(wall_ax.get_legend().get_texts()) == 4
    assert (tmp_path / "frontier.png") in write_plots(lab, comparison, tmp_path)
