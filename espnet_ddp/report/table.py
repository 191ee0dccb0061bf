"""Turns loaded experiments into comparison rows: error rates, costs, speed-up vs a baseline.

Responsible for the numbers of the report (and their JSON form). Not responsible for how
they look: :mod:`espnet_ddp.report.markdown` renders them.

Time to target: the reference run (full data, see :func:`default_reference`) sets a target
valid accuracy, ``target_fraction`` x its FINAL valid accuracy; each run reaches it at the end of
the first epoch whose valid accuracy is >= the target (no interpolation between epochs), after the
cumulative wall time and optimizer steps up to that epoch's end.

>>> comparison = build_comparison([load_experiment(p) for p in dirs], baseline=0)  # doctest: +SKIP
>>> comparison.rows[1].speedup, comparison.rows[1].time_to_target  # doctest: +SKIP
(1.52, TimeToTarget(epoch=7, wall_seconds=301.2, optimizer_steps=412))
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any

from espnet_ddp.report.experiment import Experiment
from espnet_ddp.report.frontier_table import Frontier, build_frontier
from espnet_ddp.report.read_results_md import METRICS

SAMPLE_RATE_TEST_SET = re.compile(r"^(?P<base>.+)_sr(?P<rate>\d+)_(?P<mode>asis|back)$")


DEFAULT_TARGET_FRACTION = 0.98


@dataclass(frozen=True)
class TimeToTarget:
    """Where a run first reached the target valid accuracy (cumulative at that epoch's end)."""

    epoch: int
    valid_acc: float
    wall_seconds: float
    optimizer_steps: int | None


@dataclass
class Row:
    """One experiment's line of the comparison; None where the experiment does not say."""

    experiment: str
    path: str
    strategy: str
    settings: str
    epochs: int
    max_epoch: int | None
    decode_tag: str | None
    error_rates: dict[str, dict[str, float]]
    wall_seconds: float | None
    train_loop_seconds: float | None
    optimizer_steps: int | None
    fed_hours: float | None
    is_baseline: bool = False
    speedup: float | None = None
    speedup_basis: str | None = None
    target_reached: bool | None = None  # None: no target, or no logged valid accuracy
    time_to_target: TimeToTarget | None = None
    sample_rates: dict[str, dict[str, dict[int, float]]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    lr_schedule: str = "?"
    frontier_ratio: float | None = None  # on final valid acc; None: on the curve or unbracketed
    frontier_outside: str | None = None  # below | above when not bracketed


@dataclass
class Comparison:
    """All rows, the baseline and reference runs, the target, and the test sets (per metric)."""

    rows: list[Row]
    baseline: int
    test_sets: dict[str, list[str]]
    sample_rate_sets: list[str]
    reference: int | None = None
    target_fraction: float = DEFAULT_TARGET_FRACTION
    reference_valid_acc: float | None = None
    frontier: Frontier | None = None

    @property
    def target_valid_acc(self) -> float | None:
        """``target_fraction`` x the reference's final valid accuracy (None without one)."""
        if self.reference_valid_acc is None:
            return None
        return self.target_fraction * self.reference_valid_acc

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (sample rates become string keys)."""
        rows = []
        for row in self.rows:
            d = asdict(row)
            d["sample_rates"] = {
                t: {m: {str(r): v for r, v in rates.items()} for m, rates in modes.items()}
                for t, modes in row.sample_rates.items()
            }
            rows.append(d)
        return {
            "baseline": self.rows[self.baseline].experiment if self.rows else None,
            "test_sets": self.test_sets,
            "sample_rate_test_sets": self.sample_rate_sets,
            "reference": self.rows[self.reference].experiment
            if self.rows and self.reference is not None
            else None,
            "target_fraction": self.target_fraction,
            "reference_final_valid_acc": self.reference_valid_acc,
            "target_valid_acc": self.target_valid_acc,
            "rows": rows,
            "frontier": None if self.frontier is None else self.frontier.to_dict(),
        }


def split_error_rates(
    exp: Experiment,
) -> tuple[dict[str, dict[str, float]], dict[str, dict[str, dict[int, float]]]]:
    """(metric -> test set -> %, for plain test sets; test set -> mode -> rate -> WER %)."""
    plain: dict[str, dict[str, float]] = {}
    by_rate: dict[str, dict[str, dict[int, float]]] = {}
    for metric in METRICS:
        for test_set, err in exp.error_rates(metric).items():
            match = SAMPLE_RATE_TEST_SET.match(test_set)
            if match is None:
                plain.setdefault(metric, {})[test_set] = err
            elif metric == "WER":
                modes = by_rate.setdefault(match["base"], {})
                modes.setdefault(match["mode"], {})[int(match["rate"])] = err
    return plain, by_rate


def _row(exp: Experiment) -> Row:
    plain, by_rate = split_error_rates(exp)
    strategy = exp.strategy
    return Row(
        experiment=exp.name,
        path=str(exp.path),
        strategy=strategy.label if strategy else "?",
        settings=strategy.settings if strategy else "",
        epochs=exp.epochs_done,
        max_epoch=exp.max_epoch,
        decode_tag=exp.decode_tag,
        error_rates=plain,
        wall_seconds=exp.wall_seconds,
        train_loop_seconds=exp.train_loop_seconds,
        optimizer_steps=exp.optimizer_steps,
        fed_hours=exp.fed_hours,
        sample_rates=by_rate,
        notes=list(exp.notes),
        lr_schedule=strategy.lr_schedule if strategy else "?",
    )


def speedup(base: Experiment, exp: Experiment) -> tuple[float | None, str | None]:
    """Baseline wall time / this wall time, and its basis (``total`` or ``per epoch``).

    Whole runs are compared when both completed (a run of fewer epochs is faster in total, which
    is the point of training less); the mean wall time per epoch only when one of them stopped
    early (an estimate, since pruning changes cost across epochs).
    """
    if not base.wall_seconds or not exp.wall_seconds:
        return None, None
    if base.complete and exp.complete:
        return base.wall_seconds / exp.wall_seconds, "total"
    per_base = base.wall_seconds / base.epochs_done
    per_exp = exp.wall_seconds / exp.epochs_done
    return per_base / per_exp, "per epoch"


def time_to_accuracy(exp: Experiment, target: float) -> TimeToTarget | None:
    """End of the first logged epoch whose valid accuracy is >= ``target`` (None: never).

    Wall time is ``train.log``'s cumulative epoch time (start-up excluded) at that epoch's end;
    steps are :meth:`Experiment.cumulative_steps` there (None when unknown).
    """
    if exp.train_log is None:
        return None
    steps = exp.cumulative_steps()
    for epoch, wall in zip(exp.train_log.epochs, exp.train_log.cumulative_wall(), strict=True):
        acc = epoch.valid.get("acc")
        if acc is not None and acc >= target:
            return TimeToTarget(epoch.epoch, acc, wall, steps.get(epoch.epoch))
    return None


def _logged_valid_acc(exp: Experiment) -> bool:
    return exp.train_log is not None and any("acc" in e.valid for e in exp.train_log.epochs)


def final_valid_acc(exp: Experiment) -> float | None:
    """Validation accuracy of the last logged epoch (None without one)."""
    if exp.train_log is None or not exp.train_log.epochs:
        return None
    return exp.train_log.epochs[-1].valid.get("acc")


def default_reference(experiments: list[Experiment], baseline: int) -> int:
    """The run without pruning and without dropping: the baseline when it is one, else the first
    such run, else the baseline."""

    def is_full_data(exp: Experiment) -> bool:
        return exp.strategy is not None and exp.strategy.label == "none"

    if is_full_data(experiments[baseline]):
        return baseline
    return next((i for i, e in enumerate(experiments) if is_full_data(e)), baseline)


def build_comparison(
    experiments: list[Experiment],
    baseline: int = 0,
    reference: int | None = None,
    target_fraction: float = DEFAULT_TARGET_FRACTION,
) -> Comparison:
    """Rows for ``experiments``; speed-ups are relative to ``experiments[baseline]``.

    Time to target uses ``experiments[reference]`` (default: :func:`default_reference`).
    """
    for option, index in (("baseline", baseline), ("reference", reference)):
        if experiments and index is not None and not 0 <= index < len(experiments):
            raise ValueError(f"{option} index {index} out of range (0..{len(experiments) - 1})")
    if not 0 < target_fraction <= 1:
        raise ValueError(f"target_fraction={target_fraction}: must be in (0, 1]")
    rows = [_row(exp) for exp in experiments]
    ref_acc = None
    if rows:
        base = experiments[baseline]
        rows[baseline].is_baseline = True
        if reference is None:
            reference = default_reference(experiments, baseline)
        ref_acc = final_valid_acc(experiments[reference])
        for exp, row in zip(experiments, rows, strict=True):
            row.speedup, row.speedup_basis = speedup(base, exp)
            if ref_acc is not None and _logged_valid_acc(exp):
                row.time_to_target = time_to_accuracy(exp, target_fraction * ref_acc)
                row.target_reached = row.time_to_target is not None
    test_sets = {
        metric: list(dict.fromkeys(t for row in rows for t in row.error_rates.get(metric, {})))
        for metric in METRICS
    }
    test_sets = {m: t for m, t in test_sets.items() if t}
    rate_sets = list(dict.fromkeys(t for row in rows for t in row.sample_rates))
    frontier = build_frontier(experiments, test_sets.get("WER", []))
    if frontier is not None:
        for row in rows:
            if (ratio := frontier.runs.get(row.experiment)) is not None:
                row.frontier_ratio, row.frontier_outside = ratio.acc_ratio, ratio.acc_outside
    return Comparison(
        rows=rows,
        baseline=baseline,
        test_sets=test_sets,
        sample_rate_sets=rate_sets,
        reference=reference if rows else None,
        target_fraction=target_fraction,
        reference_valid_acc=ref_acc,
        frontier=frontier,
    )
