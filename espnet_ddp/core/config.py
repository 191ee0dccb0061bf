"""Validated settings for instance-wise pruning and time-wise dropping.

Both dataclasses are built from ESPnet-style options (``--data_pruning easy2hard
--data_pruning_conf keep_ratio=0.7``) by ``from_options`` and validate themselves in
``__post_init__``, so a bad value fails at start-up with a :class:`ConfigError` that names the
option, never deep inside the training loop. Values may arrive already parsed by YAML: ints are
accepted for float fields (and stored as floats), bools are never accepted as numbers.
They hold settings only; the behaviour lives in :mod:`schedule`, :mod:`selection` and
:mod:`time_drop`.
"""

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from espnet_ddp.core.errors import ConfigError
from espnet_ddp.core.validation import (
    as_bool,
    as_choice,
    as_float,
    as_int,
    check_range,
    fail,
)

STRATEGIES = ("none", "random", "easy", "hard", "easy2hard", "infobatch")
DROP_MODES = ("none", "chunk", "point", "frames", "tempo")
DROP_SELECTS = ("uniform", "energy")
DROP_SCHEDULES = ("constant", "linear_decay")
SCHEDULES = ("linear", "cosine", "step")
SCORES = ("hybrid", "ctc", "att")
NORMALIZATIONS = ("tokens", "none")
LR_TRAJECTORIES = ("steps", "epoch")
TEXT_BINS = ("shape", "tokens")

PRUNING_OPTION = "--data_pruning"
PRUNING_CONF = "--data_pruning_conf"
DROP_OPTION = "--time_drop"
DROP_CONF = "--time_drop_conf"


def _given_keys(prefix: str, conf: Mapping[str, Any] | None, valid: tuple[str, ...]) -> dict:
    """Return ``conf`` as a dict after checking that it is a mapping with known keys only."""
    if conf is None:
        return {}
    if not isinstance(conf, Mapping):
        raise ConfigError(f"{prefix}: must be a mapping of KEY=VALUE, got {type(conf).__name__}")
    unknown = sorted(str(k) for k in conf if k not in valid)
    if unknown:
        raise ConfigError(
            f"{prefix}: unknown key(s) {', '.join(unknown)}; valid keys: {', '.join(valid)}"
        )
    return dict(conf)


def _contradiction(prefix: str, key: str, value: Any, why: str) -> ConfigError:
    return fail(prefix, key, value, f"contradicts {why}")


def _check_max_epoch(max_epoch: int) -> None:
    if isinstance(max_epoch, bool) or not isinstance(max_epoch, int) or max_epoch < 1:
        raise ConfigError(f"--max_epoch={max_epoch!r}: must be an integer >= 1")


@dataclass(frozen=True)
class PruningConfig:
    """Settings of instance-wise dynamic data pruning (which utterances train in an epoch).

    Responsible for holding and validating the settings; not for choosing utterances
    (see :func:`espnet_ddp.core.selection.select_epoch`).

    Contradictions rejected by :meth:`from_options` (checks that involve the strategy are skipped
    for ``--data_pruning none``, so a run can switch pruning off on the command line while the
    YAML still carries its ``--data_pruning_conf``): ``prune_prob`` without ``infobatch``;
    ``schedule``/``schedule_steps`` without ``easy2hard``; ``schedule_steps`` without
    ``schedule=step``. Accepted although unused: ``keep_ratio`` with ``infobatch`` (which keeps
    a data-dependent fraction), so one YAML serves every strategy; ``ctc_weight`` with
    ``score=ctc|att`` (the glue fills it from the model whatever the score).

    >>> cfg = PruningConfig.from_options("easy2hard", {"keep_ratio": 0.7, "schedule": "cosine"})
    >>> cfg.keep_ratio, cfg.warmup_epochs
    (0.7, 1)
    >>> cfg.check_epochs(max_epoch=75)
    """

    strategy: str = "none"
    keep_ratio: float = 0.7
    warmup_epochs: int = 1
    anneal_epochs: int = 0
    schedule: str = "linear"
    schedule_steps: int = 4
    score: str = "hybrid"
    ctc_weight: float | None = None
    normalize: str = "tokens"
    ema: float = 0.0
    prune_prob: float = 0.5
    seed: int = 0
    lr_trajectory: str = "steps"
    text_bins: str = "shape"

    def __post_init__(self) -> None:
        p = PRUNING_CONF
        if not isinstance(self.strategy, str) or self.strategy not in STRATEGIES:
            raise ConfigError(
                f"{PRUNING_OPTION}={self.strategy!r}: must be one of {', '.join(STRATEGIES)}"
            )
        values: dict[str, Any] = {
            "keep_ratio": as_float(p, "keep_ratio", self.keep_ratio),
            "warmup_epochs": as_int(p, "warmup_epochs", self.warmup_epochs),
            "anneal_epochs": as_int(p, "anneal_epochs", self.anneal_epochs),
            "schedule": as_choice(p, "schedule", self.schedule, SCHEDULES),
            "schedule_steps": as_int(p, "schedule_steps", self.schedule_steps),
            "score": as_choice(p, "score", self.score, SCORES),
            "normalize": as_choice(p, "normalize", self.normalize, NORMALIZATIONS),
            "ema": as_float(p, "ema", self.ema),
            "prune_prob": as_float(p, "prune_prob", self.prune_prob),
            "seed": as_int(p, "seed", self.seed),
            "lr_trajectory": as_choice(p, "lr_trajectory", self.lr_trajectory, LR_TRAJECTORIES),
            "text_bins": as_choice(p, "text_bins", self.text_bins, TEXT_BINS),
        }
        if self.ctc_weight is not None:
            values["ctc_weight"] = as_float(p, "ctc_weight", self.ctc_weight)
            check_range(p, "ctc_weight", values["ctc_weight"], 0.0, 1.0)
        check_range(p, "keep_ratio", values["keep_ratio"], 0.0, 1.0, low_open=True)
        check_range(p, "warmup_epochs", values["warmup_epochs"], 0)
        check_range(p, "anneal_epochs", values["anneal_epochs"], 0)
        check_range(p, "schedule_steps", values["schedule_steps"], 2)
        check_range(p, "ema", values["ema"], 0.0, 1.0, high_open=True)
        check_range(p, "prune_prob", values["prune_prob"], 0.0, 1.0, low_open=True, high_open=True)
        check_range(p, "seed", values["seed"], 0)
        for key, value in values.items():
            object.__setattr__(self, key, value)

    @classmethod
    def conf_keys(cls) -> tuple[str, ...]:
        """The keys accepted in ``--data_pruning_conf``."""
        return tuple(f.name for f in dataclasses.fields(cls) if f.name != "strategy")

    @classmethod
    def from_options(cls, strategy: str, conf: Mapping[str, Any] | None) -> "PruningConfig":
        """Build from ``--data_pruning STRATEGY --data_pruning_conf KEY=VALUE ...``."""
        given = _given_keys(PRUNING_CONF, conf, cls.conf_keys())
        cfg = cls(strategy=strategy, **given)
        p = PRUNING_CONF
        if cfg.strategy != "none":
            if "prune_prob" in given and cfg.strategy != "infobatch":
                raise _contradiction(
                    p, "prune_prob", given["prune_prob"], f"{PRUNING_OPTION}={cfg.strategy} "
                    "(only infobatch drops with a probability)"
                )
            for key in ("schedule", "schedule_steps"):
                if key in given and cfg.strategy != "easy2hard":
                    raise _contradiction(
                        p, key, given[key], f"{PRUNING_OPTION}={cfg.strategy} "
                        "(only easy2hard has a schedule)"
                    )
        if "schedule_steps" in given and cfg.schedule != "step":
            raise _contradiction(
                p, "schedule_steps", given["schedule_steps"], f"schedule={cfg.schedule} "
                "(schedule_steps needs schedule=step)"
            )
        return cfg

    def check_epochs(self, max_epoch: int) -> None:
        """Raise :class:`ConfigError` when warm-up and anneal leave no epoch to prune."""
        _check_max_epoch(max_epoch)
        if self.strategy == "none":
            return
        if self.warmup_epochs + self.anneal_epochs >= max_epoch:
            raise ConfigError(
                f"{PRUNING_CONF} warmup_epochs={self.warmup_epochs} + "
                f"anneal_epochs={self.anneal_epochs} >= --max_epoch={max_epoch}: "
                f"no epoch would be pruned with {PRUNING_OPTION}={self.strategy}"
            )

    def with_model_ctc_weight(self, ctc_weight: float) -> "PruningConfig":
        """Fill ``ctc_weight`` from the model when the user left it unset (``None``)."""
        if self.ctc_weight is not None:
            return self
        return dataclasses.replace(self, ctc_weight=ctc_weight)


@dataclass(frozen=True)
class TimeDropConfig:
    """Settings of time-wise waveform dropping (how much audio of each utterance is removed).

    Responsible for holding and validating the settings and for the per-epoch drop ratio
    (:meth:`drop_ratio_at`); not for placing the drops (see
    :class:`espnet_ddp.core.time_drop.TimeDropper`).

    Modes (all train-only; validation and decoding see full-length input):

    - ``chunk``: remove ``drop_ratio`` of the waveform's samples as chunks of ``chunk_ms``, or as
      exactly ``num_chunks`` chunks; with neither, chunks of ``DEFAULT_CHUNK_MS`` = 20 ms. Why so
      short: measured on a GPU (DESIGN.md section 5), 30% dropped as about 150 ms chunks left the
      model unable to learn: such chunks cut whole syllables. ``select: energy`` removes the
      lowest-energy chunks first (silence below ``silence_db`` under the utterance's loudest
      chunk), then spreads the rest uniformly. ``crossfade_ms`` fades each splice.
    - ``point``: remove single samples at random positions.
    - ``frames``: remove blocks of ``block_frames`` feature frames after the model's frontend
      (default: one encoder frame, i.e. the encoder's subsampling), so no STFT window or encoder
      frame straddles a splice. ``hop_length`` is the frontend's, filled in by the glue.
    - ``tempo``: shorten by time-scale modification (WSOLA, pitch kept) to the same length ratio.

    Schedules: ``drop_schedule: linear_decay`` lowers the ratio linearly from ``drop_ratio`` in the
    first dropping epoch to 0 at the start of the anneal; ``ratio_by_score: true`` gives each
    scored utterance a ratio that falls linearly with its score rank (easy ones lose more, hard
    ones less; ``score_spread`` sets the slope) with the same mean over the utterances.

    >>> cfg = TimeDropConfig.from_options("chunk", {"drop_ratio": 0.3})
    >>> cfg.effective_chunk_ms
    20.0
    >>> cfg.drop_ratio_at(epoch=1, max_epoch=10)
    0.3
    """

    mode: str = "none"
    drop_ratio: float = 0.3
    chunk_ms: float | None = None
    num_chunks: int | None = None
    min_keep_ms: float = 200.0
    prob: float = 1.0
    warmup_epochs: int = 0
    anneal_epochs: int = 0
    fs: int = 16000
    seed: int = 0
    crossfade_ms: float = 0.0
    select: str = "uniform"
    silence_db: float = 35.0
    block_frames: int | None = None
    hop_length: int = 128
    drop_schedule: str = "constant"
    ratio_by_score: bool = False
    score_spread: float = 1.0

    DEFAULT_CHUNK_MS: ClassVar[float] = 20.0

    def __post_init__(self) -> None:
        p = DROP_CONF
        if not isinstance(self.mode, str) or self.mode not in DROP_MODES:
            raise ConfigError(
                f"{DROP_OPTION}={self.mode!r}: must be one of {', '.join(DROP_MODES)}"
            )
        values: dict[str, Any] = {
            "drop_ratio": as_float(p, "drop_ratio", self.drop_ratio),
            "min_keep_ms": as_float(p, "min_keep_ms", self.min_keep_ms),
            "prob": as_float(p, "prob", self.prob),
            "warmup_epochs": as_int(p, "warmup_epochs", self.warmup_epochs),
            "anneal_epochs": as_int(p, "anneal_epochs", self.anneal_epochs),
            "fs": as_int(p, "fs", self.fs),
            "seed": as_int(p, "seed", self.seed),
            "crossfade_ms": as_float(p, "crossfade_ms", self.crossfade_ms),
            "select": as_choice(p, "select", self.select, DROP_SELECTS),
            "silence_db": as_float(p, "silence_db", self.silence_db),
            "hop_length": as_int(p, "hop_length", self.hop_length),
            "drop_schedule": as_choice(p, "drop_schedule", self.drop_schedule, DROP_SCHEDULES),
            "ratio_by_score": as_bool(p, "ratio_by_score", self.ratio_by_score),
            "score_spread": as_float(p, "score_spread", self.score_spread),
        }
        check_range(p, "drop_ratio", values["drop_ratio"], 0.0, 1.0, high_open=True)
        check_range(p, "min_keep_ms", values["min_keep_ms"], 0.0)
        check_range(p, "prob", values["prob"], 0.0, 1.0, low_open=True)
        check_range(p, "warmup_epochs", values["warmup_epochs"], 0)
        check_range(p, "anneal_epochs", values["anneal_epochs"], 0)
        check_range(p, "fs", values["fs"], 0, low_open=True)
        check_range(p, "seed", values["seed"], 0)
        check_range(p, "crossfade_ms", values["crossfade_ms"], 0.0)
        check_range(p, "silence_db", values["silence_db"], 0.0, low_open=True)
        check_range(p, "hop_length", values["hop_length"], 1)
        check_range(p, "score_spread", values["score_spread"], 0.0, 1.0)
        if self.block_frames is not None:
            values["block_frames"] = as_int(p, "block_frames", self.block_frames)
            check_range(p, "block_frames", values["block_frames"], 1)
            if self.mode != "frames":
                raise _contradiction(
                    p, "block_frames", values["block_frames"],
                    f"{DROP_OPTION}={self.mode} (blocks of frames are for mode frames)",
                )
        if values["select"] != "uniform" and self.mode != "chunk":
            raise _contradiction(
                p, "select", values["select"],
                f"{DROP_OPTION}={self.mode} (only chunk mode selects)",
            )
        if values["crossfade_ms"] > 0 and self.mode not in ("none", "chunk", "point"):
            raise _contradiction(
                p, "crossfade_ms", values["crossfade_ms"],
                f"{DROP_OPTION}={self.mode} (only waveform splices are faded)",
            )
        if self.chunk_ms is not None:
            values["chunk_ms"] = as_float(p, "chunk_ms", self.chunk_ms)
            check_range(p, "chunk_ms", values["chunk_ms"], 0.0, low_open=True)
        if self.num_chunks is not None:
            values["num_chunks"] = as_int(p, "num_chunks", self.num_chunks)
            check_range(p, "num_chunks", values["num_chunks"], 1)
        if self.chunk_ms is not None and self.num_chunks is not None:
            raise _contradiction(
                p, "chunk_ms", values["chunk_ms"],
                f"num_chunks={values['num_chunks']} (give one of them)",
            )
        if self.mode in ("point", "frames", "tempo"):
            for key in ("chunk_ms", "num_chunks"):
                if key in values:
                    raise _contradiction(
                        p, key, values[key],
                        f"{DROP_OPTION}={self.mode} (chunks are for mode chunk)",
                    )
        for key, value in values.items():
            object.__setattr__(self, key, value)

    @classmethod
    def conf_keys(cls) -> tuple[str, ...]:
        """The keys accepted in ``--time_drop_conf``."""
        return tuple(f.name for f in dataclasses.fields(cls) if f.name != "mode")

    @classmethod
    def from_options(cls, mode: str, conf: Mapping[str, Any] | None) -> "TimeDropConfig":
        """Build from ``--time_drop MODE --time_drop_conf KEY=VALUE ...``."""
        given = _given_keys(DROP_CONF, conf, cls.conf_keys())
        return cls(mode=mode, **given)

    @property
    def effective_chunk_ms(self) -> float | None:
        """Chunk length in ms for chunk mode (``chunk_ms`` or the 20 ms default); else ``None``.

        ``None`` also when ``num_chunks`` fixes the number of chunks instead of their length.
        """
        if self.mode != "chunk" or self.num_chunks is not None:
            return None
        return self.chunk_ms if self.chunk_ms is not None else self.DEFAULT_CHUNK_MS

    def drop_ratio_at(self, epoch: int, max_epoch: int) -> float:
        """Fraction of samples to drop in ``epoch`` (1-based, as in ESPnet).

        0.0 for mode none, the warm-up epochs (``epoch <= warmup_epochs``) and the last
        ``anneal_epochs`` epochs (``epoch > max_epoch - anneal_epochs``); otherwise ``drop_ratio``
        (``constant``), or with ``linear_decay`` ``drop_ratio * (1 - i / n)`` in the ``i``-th
        (0-based) of the ``n`` dropping epochs, so the ratio would reach 0 at the anneal's start.

        >>> cfg = TimeDropConfig("chunk", drop_ratio=0.4, warmup_epochs=1, anneal_epochs=1,
        ...                      drop_schedule="linear_decay")
        >>> [round(cfg.drop_ratio_at(e, 6), 3) for e in range(1, 7)]
        [0.0, 0.4, 0.3, 0.2, 0.1, 0.0]
        """
        if self.mode == "none" or epoch <= self.warmup_epochs:
            return 0.0
        last = max_epoch - self.anneal_epochs
        if epoch > last:
            return 0.0
        if self.drop_schedule == "constant":
            return self.drop_ratio
        span = last - self.warmup_epochs
        return self.drop_ratio * (1.0 - (epoch - self.warmup_epochs - 1) / span)

    def check_epochs(self, max_epoch: int) -> None:
        """Raise :class:`ConfigError` when warm-up and anneal leave no epoch with dropping."""
        _check_max_epoch(max_epoch)
        if self.mode == "none":
            return
        if self.warmup_epochs + self.anneal_epochs >= max_epoch:
            raise ConfigError(
                f"{DROP_CONF} warmup_epochs={self.warmup_epochs} + "
                f"anneal_epochs={self.anneal_epochs} >= --max_epoch={max_epoch}: "
                f"no epoch would drop audio with {DROP_OPTION}={self.mode}"
            )
