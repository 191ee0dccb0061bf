"""The frontier part of a comparison: budget curves, seed means per configuration, ratios.

Runs are grouped into *configurations*: runs whose ``config.yaml`` agree on everything but the
seed and the places they write to (:data:`RUN_KEYS`) are seeds of one configuration. The
fitted-schedule full-data configurations make the curves (:mod:`espnet_ddp.report.frontier`):
one on final validation accuracy, one per decoded test set on WER. Full-data runs on another
schedule (``warmuplr``) are a separate series; every configuration off the curve gets the
frontier ratio of its seed means, and every run its own ratio.

Responsible for choosing the runs of each curve and for the seed means. Not responsible for
reading experiments or formatting (:mod:`espnet_ddp.report.markdown`).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from statistics import mean
from typing import Any

from espnet_ddp.report.experiment import Experiment
from espnet_ddp.report.frontier import Curve, build_curve

# config.yaml keys that differ between seeds of one configuration, or only say where it ran
RUN_KEYS = frozenset({
    "seed", "output_dir", "config", "resume", "ngpu", "num_workers", "log_level", "print_config",
    "dist_backend", "dist_init_method", "dist_world_size", "dist_rank", "local_rank",
    "dist_master_addr", "dist_master_port", "dist_launcher", "multiprocessing_distributed",
    "unused_parameters", "wandb_project", "wandb_id", "wandb_entity", "wandb_name",
    "wandb_model_log_interval", "use_tensorboard", "use_wandb", "dry_run", "detect_anomaly",
})
CURVE = "budget"  # fitted-schedule full data: the curve
FULL_OTHER = "full data, other schedule"
OTHER = "pruned or dropped"


SEEDED_CONFS = ("data_pruning_conf", "time_drop_conf")  # their seed defaults to the run's


def configuration_key(config: dict[str, Any]) -> str:
    """What seeds of one configuration share: the config without :data:`RUN_KEYS`, and without
    the ``seed`` of a plugin ``*_conf`` that equals the run's ``--seed`` (derived from it).

    >>> a = {"seed": 1, "data_pruning_conf": {"keep_ratio": 0.7, "seed": 1}}
    >>> b = {"seed": 2, "data_pruning_conf": {"keep_ratio": 0.7, "seed": 2}}
    >>> c = {"seed": 2, "data_pruning_conf": {"keep_ratio": 0.7, "seed": 5}}
    >>> configuration_key(a) == configuration_key(b), configuration_key(b) == configuration_key(c)
    (True, False)
    """
    kept = {k: v for k, v in config.items() if k not in RUN_KEYS}
    for name in SEEDED_CONFS:
        conf = kept.get(name)
        if isinstance(conf, dict) and "seed" in conf and conf["seed"] == config.get("seed"):
            kept[name] = {k: v for k, v in conf.items() if k != "seed"}
    return json.dumps(kept, sort_keys=True, default=str)


def kind_of(exp: Experiment) -> str:
    """:data:`CURVE`, :data:`FULL_OTHER` or :data:`OTHER`."""
    s = exp.strategy
    if s is None or not s.full_data:
        return OTHER
    return CURVE if s.lr_fit not in ("none", "") else FULL_OTHER


def final_valid_acc(exp: Experiment) -> float | None:
    """Validation accuracy of the last logged epoch of a finished run (None otherwise)."""
    if not exp.complete or exp.train_log is None or not exp.train_log.epochs:
        return None
    return exp.train_log.epochs[-1].valid.get("acc")


@dataclass
class Configuration:
    """One configuration's seed means and its frontier ratios (None: not bracketed/unknown)."""

    label: str
    kind: str
    schedule: str
    members: list[str]
    audio_hours: float | None
    valid_acc: float | None
    wer: dict[str, float]
    wall_seconds: float | None
    acc_ratio: float | None = None
    acc_outside: str | None = None
    wer_ratio: dict[str, float | None] = field(default_factory=dict)
    wer_outside: dict[str, str | None] = field(default_factory=dict)

    @property
    def seeds(self) -> int:
        return len(self.members)


@dataclass
class RunRatio:
    """One run's own frontier ratios."""

    acc_ratio: float | None
    acc_outside: str | None
    wer_ratio: dict[str, float | None]
    wer_outside: dict[str, str | None]


@dataclass
class Frontier:
    """The curves, every configuration's seed means, and every run's ratios by name."""

    acc_curve: Curve
    wer_curves: dict[str, Curve]
    configurations: list[Configuration]
    runs: dict[str, RunRatio]

    def to_dict(self) -> dict[str, Any]:
        def curve(c: Curve) -> dict[str, Any]:
            return {"metric": c.metric, "higher_is_better": c.higher_is_better,
                    "points": [asdict(p) for p in c.points]}

        return {
            "acc_curve": curve(self.acc_curve),
            "wer_curves": {t: curve(c) for t, c in self.wer_curves.items()},
            "configurations": [{**asdict(c), "seeds": c.seeds} for c in self.configurations],
            "runs": {name: asdict(r) for name, r in self.runs.items()},
        }


def _mean(values: list[float | None]) -> float | None:
    """Mean of values known for every member (None when any is unknown)."""
    return None if not values or any(v is None for v in values) else mean(values)  # type: ignore


def group_configurations(
    experiments: list[Experiment], test_sets: list[str]
) -> list[Configuration]:
    """Configurations in order of first appearance, with their seed means."""
    groups: dict[str, list[Experiment]] = {}
    for exp in experiments:
        groups.setdefault(configuration_key(exp.config), []).append(exp)
    out = []
    for members in groups.values():
        wer = {}
        for t in test_sets:
            value = _mean([m.error_rates("WER").get(t) for m in members])
            if value is not None:
                wer[t] = value
        first = members[0]
        out.append(Configuration(
            label=first.name,
            kind=kind_of(first),
            schedule=first.strategy.lr_schedule if first.strategy else "?",
            members=[m.name for m in members],
            audio_hours=_mean([m.fed_hours for m in members]),
            valid_acc=_mean([final_valid_acc(m) for m in members]),
            wer=wer,
            wall_seconds=_mean([m.wall_seconds for m in members]),
        ))
    return out


def _ratios(acc_curve: Curve, wer_curves: dict[str, Curve], audio: float | None,
            acc: float | None, wer: dict[str, float]) -> RunRatio:
    wer_ratio: dict[str, float | None] = {}
    wer_outside: dict[str, str | None] = {}
    for t, c in wer_curves.items():
        if t in wer:
            wer_ratio[t] = c.ratio(wer[t], audio)
            wer_outside[t] = c.outside(wer[t])
    return RunRatio(
        acc_ratio=acc_curve.ratio(acc, audio),
        acc_outside=None if acc is None else acc_curve.outside(acc),
        wer_ratio=wer_ratio,
        wer_outside=wer_outside,
    )


def build_frontier(experiments: list[Experiment], test_sets: list[str]) -> Frontier | None:
    """The frontier of ``experiments`` (None without a finished fitted-schedule full-data run)."""
    configurations = group_configurations(experiments, test_sets)
    on_curve = [c for c in configurations if c.kind == CURVE]
    acc_samples = [
        (c.label, m.fed_hours, final_valid_acc(m))
        for c in on_curve
        for m in experiments
        if m.name in c.members and m.fed_hours and final_valid_acc(m) is not None
    ]
    if not acc_samples:
        return None
    acc_curve = build_curve("valid acc", acc_samples, higher_is_better=True)
    wer_curves = {}
    for t in test_sets:
        samples = [
            (c.label, m.fed_hours, m.error_rates("WER")[t])
            for c in on_curve
            for m in experiments
            if m.name in c.members and m.fed_hours and t in m.error_rates("WER")
        ]
        if samples:
            wer_curves[t] = build_curve(f"WER {t}", samples, higher_is_better=False)
    for c in configurations:
        if c.kind != CURVE:
            r = _ratios(acc_curve, wer_curves, c.audio_hours, c.valid_acc, c.wer)
            c.acc_ratio, c.acc_outside = r.acc_ratio, r.acc_outside
            c.wer_ratio, c.wer_outside = r.wer_ratio, r.wer_outside
    runs = {
        e.name: _ratios(acc_curve, wer_curves, e.fed_hours, final_valid_acc(e),
                        e.error_rates("WER"))
        for e in experiments
        if kind_of(e) != CURVE
    }
    return Frontier(acc_curve, wer_curves, configurations, runs)
