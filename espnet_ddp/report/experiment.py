"""Loads one experiment directory into numbers a comparison needs, noting what is missing.

Responsible for combining ``config.yaml``, ``train.log``, ``data_pruning/epoch<N>.json`` and
``RESULTS.md`` of one ESPnet experiment, preferring the plugin's records and falling back to
ESPnet's own files for stock runs. Never raises for a missing or partial experiment: every
gap becomes a line in ``notes``.

>>> exp = load_experiment(Path("exp/asr_easy2hard"))  # doctest: +SKIP
>>> exp.strategy.label, exp.wall_seconds, exp.error_rates("WER")  # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from espnet_ddp.report.pruning_log import PruningLog, read_pruning_log
from espnet_ddp.report.read_results_md import Score, pick_decode_tag, read_results_md
from espnet_ddp.report.strategy import Strategy, strategy_from_config
from espnet_ddp.report.train_log import TrainLog, read_train_log

DEFAULT_FS = 16000


@dataclass
class Experiment:
    """What one experiment directory says; fields are None where it says nothing."""

    path: Path
    name: str
    config: dict[str, Any] = field(default_factory=dict, repr=False)
    strategy: Strategy | None = None
    train_log: TrainLog | None = field(default=None, repr=False)
    pruning: PruningLog | None = field(default=None, repr=False)
    scores: list[Score] = field(default_factory=list, repr=False)
    decode_tag: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def epochs_done(self) -> int:
        """Epochs with a result line in ``train.log`` (else with a pruning record)."""
        if self.train_log is not None and self.train_log.epochs:
            return len(self.train_log.epochs)
        return len(self.pruning.epochs) if self.pruning else 0

    @property
    def max_epoch(self) -> int | None:
        """Planned epochs: ``max_epoch`` of the config, else of the log."""
        planned = self.config.get("max_epoch")
        if isinstance(planned, int):
            return planned
        return self.train_log.max_epoch if self.train_log else None

    @property
    def complete(self) -> bool:
        """True when training finished (all planned epochs, or an early stop)."""
        if self.train_log is not None and self.train_log.finished:
            return True
        return self.max_epoch is not None and self.epochs_done >= self.max_epoch > 0

    @property
    def wall_seconds(self) -> float | None:
        """Training wall time from ``train.log``: sum over epochs, start-up excluded."""
        if self.train_log is None or not self.train_log.epochs:
            return None
        return self.train_log.wall_seconds

    def _record_total(self, key: str) -> float | None:
        return self.pruning.total(key) if self.pruning is not None else None

    @property
    def train_loop_seconds(self) -> float | None:
        """Time in the training loops: pruning records' ``train_seconds``, else the log's."""
        if (total := self._record_total("train_seconds")) is not None:
            return total
        if self.train_log is None or not self.train_log.epochs:
            return None
        times = [e.train.get("time") for e in self.train_log.epochs]
        return None if any(t is None for t in times) else float(sum(times))  # type: ignore

    @property
    def optimizer_steps(self) -> int | None:
        """Optimizer steps: pruning records' sum, else iterations from ``train.log``."""
        if (total := self._record_total("optimizer_steps")) is not None:
            return int(total)
        steps = _steps_from_log(self.train_log, int(self.config.get("accum_grad") or 1))
        return steps[max(steps)] if steps else None

    def cumulative_steps(self) -> dict[int, int]:
        """Epoch -> optimizer steps from the start of training to the end of that epoch.

        From the pruning records when they cover epochs 1..N without a gap (each has
        ``optimizer_steps``), else from ``train.log``'s iteration counts; {} when neither can.
        """
        if self.pruning is not None and self.pruning.epochs:
            out, total = {}, 0
            for expected, record in enumerate(self.pruning.epochs, start=1):
                steps = record.number("optimizer_steps")
                if steps is None or record.epoch != expected:
                    break
                total += int(steps)
                out[record.epoch] = total
            else:
                return out
        return _steps_from_log(self.train_log, int(self.config.get("accum_grad") or 1)) or {}

    @property
    def fed_hours(self) -> float | None:
        """Audio hours fed: pruning records' ``fed_seconds``, else shape files x epochs."""
        if (total := self._record_total("fed_seconds")) is not None:
            return total / 3600.0
        per_epoch = _shape_file_seconds(self.config, self.path)
        if per_epoch is None or self.epochs_done == 0:
            return None
        return per_epoch * self.epochs_done / 3600.0

    def error_rates(self, metric: str) -> dict[str, float]:
        """Test set -> error rate (%) of ``metric`` for the chosen decode tag."""
        return {
            s.test_set: s.err
            for s in self.scores
            if s.metric == metric and s.decode_tag == self.decode_tag
        }


def _steps_from_log(log: TrainLog | None, accum_grad: int) -> dict[int, int] | None:
    """Epoch -> cumulative optimizer steps from ESPnet's cumulative ``total_count``."""
    if log is None or not log.epochs or log.epochs[0].epoch != 1:
        return None
    steps, previous, out = 0, 0.0, {}
    for expected, epoch in enumerate(log.epochs, start=1):
        count = epoch.train.get("total_count")
        if count is None or epoch.epoch != expected:
            return None
        steps += int(count - previous) // max(accum_grad, 1)
        previous = count
        out[epoch.epoch] = steps
    return out


def _parse_fs(value: Any) -> float:
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        text = value.strip().lower()
        scale = 1000.0 if text.endswith("k") else 1.0
        try:
            return float(text.rstrip("k")) * scale
        except ValueError:
            return float(DEFAULT_FS)
    return float(DEFAULT_FS)


def _resolve(path_text: str, exp_dir: Path) -> Path | None:
    path = Path(path_text)
    candidates = [path] if path.is_absolute() else [path, exp_dir.parent.parent / path]
    candidates += [exp_dir.parent / path] if not path.is_absolute() else []
    return next((p for p in candidates if p.is_file()), None)


def _shape_file_seconds(config: dict[str, Any], exp_dir: Path) -> float | None:
    shape_files = config.get("train_shape_file") or []
    if not shape_files:
        return None
    path = _resolve(str(shape_files[0]), exp_dir)
    if path is None:
        return None
    fs = _parse_fs((config.get("frontend_conf") or {}).get("fs", DEFAULT_FS))
    samples = 0
    with open(path, encoding="utf-8") as f:
        for line in f:
            fields = line.split(maxsplit=1)
            if len(fields) == 2:
                samples += int(fields[1].split(",")[0])
    return samples / fs


def _read_config(path: Path, notes: list[str]) -> dict[str, Any]:
    file = path / "config.yaml"
    if not file.is_file():
        notes.append("no config.yaml: strategy unknown")
        return {}
    try:
        loaded = yaml.safe_load(file.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as err:
        notes.append(f"config.yaml unreadable: {err.__class__.__name__}")
        return {}
    return loaded if isinstance(loaded, dict) else {}


def _read_log(path: Path, notes: list[str]) -> TrainLog | None:
    file = path / "train.log"
    if not file.is_file():
        notes.append("no train.log: no times or validation curves")
        return None
    log = read_train_log(file)
    if not log.epochs:
        notes.append("train.log has no finished epoch")
    return log


def _read_scores(
    path: Path, decode_tag: str | None, notes: list[str]
) -> tuple[list[Score], str | None]:
    file = path / "RESULTS.md"
    if not file.is_file():
        notes.append("not scored (no RESULTS.md)")
        return [], None
    scores = read_results_md(file)
    if not scores:
        notes.append("RESULTS.md has no score table")
        return [], None
    tag = pick_decode_tag(scores, decode_tag)
    if tag is None:
        notes.append(f"decode tag {decode_tag!r} not in RESULTS.md")
    return scores, tag


def load_experiment(
    path: Path, decode_tag: str | None = None, name: str | None = None
) -> Experiment:
    """Reads ``path``; anything missing or partial is recorded in ``Experiment.notes``."""
    path = Path(path)
    exp = Experiment(path=path, name=name or path.name or str(path))
    if not path.is_dir():
        exp.notes.append("missing: directory not found")
        return exp
    exp.config = _read_config(path, exp.notes)
    exp.strategy = strategy_from_config(exp.config) if exp.config else None
    exp.train_log = _read_log(path, exp.notes)
    exp.pruning = read_pruning_log(path)
    if exp.pruning is not None:
        exp.notes += [f"unreadable record {u}" for u in exp.pruning.unreadable]
    exp.scores, exp.decode_tag = _read_scores(path, decode_tag, exp.notes)
    if exp.epochs_done and not exp.complete:
        planned = exp.max_epoch if exp.max_epoch is not None else "?"
        exp.notes.insert(0, f"partial: {exp.epochs_done}/{planned} epochs")
    _check_records(exp)
    return exp


def _check_records(exp: Experiment) -> None:
    if exp.pruning is None or exp.train_log is None or not exp.train_log.epochs:
        return
    logged = {e.epoch for e in exp.train_log.epochs}
    recorded = {e.epoch for e in exp.pruning.epochs}
    if missing := sorted(logged - recorded):
        exp.notes.append(f"no data_pruning record for epoch(s) {_ranges(missing)}")


def _ranges(numbers: list[int]) -> str:
    out: list[str] = []
    start = prev = numbers[0]
    for n in [*numbers[1:], None]:
        if n is not None and n == prev + 1:
            prev = n
            continue
        out.append(str(start) if start == prev else f"{start}-{prev}")
        if n is not None:
            start = prev = n
    return ",".join(out)
