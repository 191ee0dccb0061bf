"""Reads ESPnet's ``train.log``: per-epoch train/valid statistics and wall-clock times.

Responsible for turning the trainer's log lines (``N/Mepoch started``, ``Nepoch results:
[train] k=v, ... [valid] k=v, ...``, ``The training was finished``) into numbers. Not
responsible for deciding what is "complete": callers compare ``epochs`` with ``max_epoch``.

>>> log = parse_train_log(open("exp/asr_x/train.log").read())  # doctest: +SKIP
>>> log.epochs[-1].valid["acc"], log.wall_seconds  # doctest: +SKIP
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from espnet_ddp.report.timespan import parse_timespan

LOG_LINE = _LINE = re.compile(
    r"^\[[^\]]*\]\s+"  # [host] or [host:rank/world]
    r"(?P<ts>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:,\d+)?)\s+"
    r"\([^)]*\)\s+\w+:\s?(?P<msg>.*)$"  # (module:line) LEVEL: message
)
_STARTED = re.compile(r"^(\d+)/(\d+)epoch started")
_RESULTS = re.compile(r"^(\d+)epoch results: (.*)$")
_SECTION = re.compile(r"\[(\w+)\]\s")
_KEY_VALUE = re.compile(r"(\w+)=(.*?)(?=, \w+=|$)")
_FINISHED = re.compile(r"The training was (?:finished|stopped) at")


@dataclass
class EpochLog:
    """One epoch as the trainer logged it; times are wall-clock, from the log's timestamps."""

    epoch: int
    started: datetime | None = None
    reported: datetime | None = None
    ended: datetime | None = None
    last_seen: datetime | None = None
    stats: dict[str, dict[str, float]] = field(default_factory=dict)

    @property
    def train(self) -> dict[str, float]:
        """The ``[train]`` statistics (``loss``, ``acc``, ``time`` in seconds, ...)."""
        return self.stats.get("train", {})

    @property
    def valid(self) -> dict[str, float]:
        """The ``[valid]`` statistics."""
        return self.stats.get("valid", {})

    @property
    def wall_seconds(self) -> float | None:
        """From ``epoch started`` to the next epoch's start (or the log's end), else None."""
        end = self.ended or self.reported
        if self.started is None or end is None:
            return None
        return (end - self.started).total_seconds()


@dataclass
class TrainLog:
    """All epochs found in one ``train.log``, in epoch order."""

    epochs: list[EpochLog]
    max_epoch: int | None
    finished: bool

    @property
    def wall_seconds(self) -> float:
        """Sum of the per-epoch wall times (start-up before epoch 1 is not counted)."""
        return sum(e.wall_seconds or 0.0 for e in self.epochs)

    def cumulative_wall(self) -> list[float]:
        """Wall-clock seconds since training started at the end of each epoch (resume gaps cut)."""
        total, out = 0.0, []
        for e in self.epochs:
            total += e.wall_seconds or 0.0
            out.append(total)
        return out


def parse_stats(text: str) -> dict[str, dict[str, float]]:
    """Parses ``[train] a=1.0, time=2 minutes, ... [valid] ...`` into nested dicts."""
    stats: dict[str, dict[str, float]] = {}
    sections = _SECTION.split(text)
    for name, body in zip(sections[1::2], sections[2::2], strict=True):
        values: dict[str, float] = {}
        for key, raw in _KEY_VALUE.findall(body.strip().rstrip(",")):
            value = _to_number(raw.strip())
            if value is not None:
                values[key] = value
        stats[name] = values
    return stats


def _to_number(raw: str) -> float | None:
    try:
        return float(raw)
    except ValueError:
        pass
    try:
        return parse_timespan(raw)
    except ValueError:
        return None


def _timestamp(text: str) -> datetime:
    return datetime.strptime(text.replace(",", "."), "%Y-%m-%d %H:%M:%S.%f")


def parse_train_log(text: str) -> TrainLog:
    """Parses the text of an ESPnet ``train.log``; a re-run epoch replaces the earlier one."""
    epochs: dict[int, EpochLog] = {}
    current: EpochLog | None = None
    max_epoch: int | None = None
    finished = False
    for line in text.splitlines():
        match = _LINE.match(line)
        if match is None:
            continue
        ts, msg = _timestamp(match["ts"]), match["msg"]
        if started := _STARTED.match(msg):
            if current is not None and current.reported and current.ended is None:
                current.ended = ts
            current = EpochLog(epoch=int(started[1]), started=ts)
            epochs[current.epoch] = current
            max_epoch = int(started[2])
            finished = False
        elif results := _RESULTS.match(msg):
            epoch = int(results[1])
            if current is None or current.epoch != epoch:
                current = epochs.setdefault(epoch, EpochLog(epoch=epoch))
            current.reported = ts
            current.stats = parse_stats(results[2])
        elif _FINISHED.search(msg):
            finished = True
            if current is not None and current.reported and current.ended is None:
                current.ended = ts
        elif current is not None and current.reported and current.ended is None:
            current.last_seen = ts
    for e in epochs.values():
        if e.ended is None and e.reported is not None:
            e.ended = e.last_seen or e.reported
    ordered = [e for _, e in sorted(epochs.items()) if e.reported is not None]
    return TrainLog(epochs=ordered, max_epoch=max_epoch, finished=finished)


def read_train_log(path: Path) -> TrainLog:
    """Reads and parses ``path`` (undecodable bytes are replaced, not fatal)."""
    return parse_train_log(Path(path).read_text(encoding="utf-8", errors="replace"))
