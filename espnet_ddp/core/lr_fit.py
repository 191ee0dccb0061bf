"""The fitted learning-rate schedule: warm-up in optimizer steps, then decay to zero at the end.

A schedule fitted to the run's budget (*Budgeted Training*, arXiv 1905.04753): the learning rate
rises linearly to its peak over ``warmup_steps`` optimizer steps (the baseline's warm-up, as
ESPnet's ``warmuplr`` does), then falls, linearly or as a half cosine, to exactly zero at the run's
last optimizer step. ``wsd`` (warmup-stable-decay, Hägele et al., arXiv 2405.18392) instead holds
the peak after the warm-up and decays linearly to zero over the last ``decay_share`` of the
epochs (:func:`decay_start_epoch`, at least one): every run of a WSD family has the same learning
rates until its decay begins, so a shorter budget can *branch* off a longer run's saved state at
that epoch (:func:`branch_epoch`) and only train its decay. The decay follows *training
progress*, not a step count, so a config needs no step counts and a pruned run decays over its
own, fewer steps. The ``j``-th optimizer step
(1-based) of epoch ``e``, which plans ``B_e`` steps, ends at progress

    p = (e - 1 + j / B_e) / E              (E = max_epoch)

so the last step of epoch ``E`` ends at ``p = 1``. Steps count planned optimizer-step slots: a
step that the trainer skips (non-finite gradient) still advances the clock, so the end does not
move.

The schedule always decays: a warm-up longer than :data:`MAX_WARMUP_SHARE` (a quarter) of the
run's planned steps is shortened to that share, in steps, when the first epoch begins (its
planned steps x ``max_epoch``: exact for full data, an upper bound for a pruned run, whose first
epoch is on all data). Stock recipes warm up over 15,000-25,000 optimizer steps, longer than
many budget runs; without the cap such a run would only warm up and end at its peak. A quarter
keeps the warm-ups of full-length stock runs (up to about that share) as they are, leaves at
least three quarters of every run to the decay, and is where a shortened warm-up still reaches
the same peak LR, only sooner. :attr:`FittedSchedule.shortened` says when it happened, so the
glue can log it once.

Responsible for the settings (:class:`LRFitConfig`) and the arithmetic (:class:`FittedSchedule`,
a small state object with a round-tripping ``state_dict``). Not responsible for touching an
optimizer: :mod:`espnet_ddp.espnet.fitted_lr` applies the factor.

>>> s = FittedSchedule(LRFitConfig("linear", warmup_steps=2), max_epoch=2)
>>> s.begin_epoch(1, planned_steps=4)
>>> [round(s.factor(j), 3) for j in range(1, 5)]
[0.5, 1.0, 0.833, 0.667]
>>> s.end_epoch()
>>> s.begin_epoch(2, planned_steps=2)
>>> [round(s.factor(j), 3) for j in (1, 2)]
[0.333, 0.0]
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from espnet_ddp.core.errors import ConfigError
from espnet_ddp.core.rounding import round_half_up
from espnet_ddp.core.validation import as_float, as_int, check_range

LR_FIT_DECAYS = ("none", "linear", "cosine", "wsd")
MAX_WARMUP_SHARE = 0.25
LR_FIT_OPTION = "--lr_fit"
LR_FIT_CONF = "--lr_fit_conf"
_CONF_KEYS = ("warmup_steps", "decay_share", "branch_budgets")
DEFAULT_DECAY_SHARE = 0.2


@dataclass(frozen=True)
class LRFitConfig:
    """``--lr_fit DECAY --lr_fit_conf warmup_steps=N``: which decay, and the warm-up length.

    ``warmup_steps`` None means "the baseline's": the glue fills it from ``--scheduler_conf``
    before training (:meth:`with_warmup_steps`). ``wsd`` takes ``decay_share`` (the last share of
    the epochs that decays, in (0, 1); default 0.2) and ``branch_budgets`` (budgets in (0, 1)
    whose branch states this run keeps, see :func:`branch_epoch`).

    >>> LRFitConfig.from_options("cosine", {"warmup_steps": 200})
    LRFitConfig(decay='cosine', warmup_steps=200, decay_share=None, branch_budgets=())
    >>> LRFitConfig.from_options("linear", {"warmup": 3})  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    espnet_ddp.core.errors.ConfigError: --lr_fit_conf: unknown key(s) warmup; valid keys: ...
    >>> LRFitConfig.from_options("wsd", {"decay_share": 1.0})
    Traceback (most recent call last):
    ...
    espnet_ddp.core.errors.ConfigError: --lr_fit_conf decay_share=1.0: must be in (0, 1)
    """

    decay: str = "none"
    warmup_steps: int | None = None
    decay_share: float | None = None
    branch_budgets: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.decay, str) or self.decay not in LR_FIT_DECAYS:
            raise ConfigError(
                f"{LR_FIT_OPTION}={self.decay!r}: must be one of {', '.join(LR_FIT_DECAYS)}"
            )
        if self.warmup_steps is not None:
            steps = as_int(LR_FIT_CONF, "warmup_steps", self.warmup_steps)
            check_range(LR_FIT_CONF, "warmup_steps", steps, 0)
            object.__setattr__(self, "warmup_steps", steps)
        if self.decay != "wsd":
            for key, unset in (("decay_share", None), ("branch_budgets", ())):
                if getattr(self, key) not in (unset, [], None):
                    raise ConfigError(f"{LR_FIT_CONF} {key}: only for {LR_FIT_OPTION} wsd, got "
                                      f"{LR_FIT_OPTION} {self.decay}")  # fmt: skip
            return
        share = DEFAULT_DECAY_SHARE if self.decay_share is None else self.decay_share
        share = as_float(LR_FIT_CONF, "decay_share", share)
        check_range(LR_FIT_CONF, "decay_share", share, 0.0, 1.0, low_open=True, high_open=True)
        object.__setattr__(self, "decay_share", share)
        budgets = self.branch_budgets
        if isinstance(budgets, int | float) and not isinstance(budgets, bool):
            budgets = (budgets,)
        if not isinstance(budgets, list | tuple):
            raise ConfigError(f"{LR_FIT_CONF} branch_budgets={budgets!r}: a list of budgets")
        values = []
        for b in budgets:
            b = as_float(LR_FIT_CONF, "branch_budgets", b)
            check_range(LR_FIT_CONF, "branch_budgets", b, 0.0, 1.0, low_open=True,
                        high_open=True)  # fmt: skip
            values.append(b)
        object.__setattr__(self, "branch_budgets", tuple(sorted(set(values))))

    @property
    def active(self) -> bool:
        return self.decay != "none"

    @classmethod
    def from_options(cls, decay: str, conf: Mapping[str, Any] | None) -> LRFitConfig:
        """Build from ``--lr_fit DECAY --lr_fit_conf KEY=VALUE ...``."""
        if conf is None:
            conf = {}
        if not isinstance(conf, Mapping):
            raise ConfigError(f"{LR_FIT_CONF}: must be a mapping of KEY=VALUE")
        unknown = sorted(str(k) for k in conf if k not in _CONF_KEYS)
        if unknown:
            raise ConfigError(
                f"{LR_FIT_CONF}: unknown key(s) {', '.join(unknown)}; "
                f"valid keys: {', '.join(_CONF_KEYS)}"
            )
        return cls(decay=decay, **dict(conf))

    def with_warmup_steps(self, steps: int) -> LRFitConfig:
        """The same settings with the warm-up filled in (kept when already given)."""
        if self.warmup_steps is not None:
            return self
        return dataclasses.replace(self, warmup_steps=int(steps))


def decay_start_epoch(max_epoch: int, decay_share: float) -> int:
    """The epoch after which a WSD run of ``max_epoch`` epochs decays: ``max_epoch`` minus its
    decay epochs, ``decay_share x max_epoch`` rounded half up and at least 1.

    >>> [decay_start_epoch(e, 0.2) for e in (1, 7, 12, 17, 19, 22, 24)]
    [0, 6, 10, 14, 15, 18, 19]
    """
    return max_epoch - max(1, round_half_up(decay_share * max_epoch))


def branch_epoch(max_epoch: int, budget_epochs: int, decay_share: float) -> int:
    """The epoch of a ``max_epoch`` WSD run whose saved state a ``budget_epochs`` branch resumes
    from: where the branch's own decay begins. Raises ``ConfigError`` when that lies in the
    run's own decay (the branch would not share its learning rates) or before epoch 1.

    >>> branch_epoch(24, 12, 0.2)
    10
    """
    start = decay_start_epoch(budget_epochs, decay_share)
    if not 1 <= start <= decay_start_epoch(max_epoch, decay_share):
        raise ConfigError(
            f"{LR_FIT_CONF} branch_budgets: a {budget_epochs}-epoch branch of a {max_epoch}-epoch "
            f"run would start at epoch {start}, outside the run's constant phase (epochs 1-"
            f"{decay_start_epoch(max_epoch, decay_share)}): choose a larger budget or a smaller "
            "decay_share"
        )
    return start


def decay_factor(decay: str, x: float) -> float:
    """The decay's factor at position ``x`` in [0, 1] of the decay span (1 at 0, 0 at 1).

    >>> [decay_factor("linear", x) for x in (0.0, 0.25, 1.0)]
    [1.0, 0.75, 0.0]
    >>> [round(decay_factor("cosine", x), 4) for x in (0.0, 0.5, 1.0)]
    [1.0, 0.5, 0.0]
    """
    x = min(max(x, 0.0), 1.0)
    if decay == "linear":
        return 1.0 - x
    if decay == "cosine":
        return 0.5 * (1.0 + math.cos(math.pi * x))
    raise ValueError(f"no decay {decay!r}")


class FittedSchedule:
    """The LR factor (of the peak) for every optimizer step of a run, from its progress.

    Call :meth:`begin_epoch` with the epoch's planned optimizer steps before its first step,
    :meth:`factor` for step ``j`` (1-based) of the epoch, and :meth:`end_epoch` after its last.
    State (steps of earlier epochs, and the progress at which the warm-up ended) is in
    :meth:`state_dict`, so a resumed run continues with the identical sequence.
    """

    def __init__(self, config: LRFitConfig, max_epoch: int) -> None:
        if not config.active:
            raise ValueError("FittedSchedule needs --lr_fit linear or cosine")
        if config.warmup_steps is None:
            raise ValueError("FittedSchedule needs warmup_steps resolved (with_warmup_steps)")
        if max_epoch < 1:
            raise ValueError(f"max_epoch={max_epoch}: must be >= 1")
        self.config = config
        self.max_epoch = int(max_epoch)
        self.steps_before = 0  # optimizer-step slots of the finished epochs
        self.warmup_end_progress: float | None = 0.0 if config.warmup_steps == 0 else None
        self.epoch: int | None = None
        self.planned_steps = 0
        self.warmup: int | None = None  # the warm-up in use, set when the first epoch begins
        self.shortened: tuple[int, int] | None = None  # (configured, used) when capped

    def begin_epoch(self, epoch: int, planned_steps: int) -> None:
        """Start epoch ``epoch`` (1-based), which plans ``planned_steps`` optimizer steps."""
        if epoch < 1:
            raise ValueError(f"epochs are 1-based: got {epoch}")
        self.epoch, self.planned_steps = int(epoch), max(int(planned_steps), 0)
        if self.warmup is None:
            self.warmup = self._capped_warmup(self.planned_steps * self.max_epoch)
        warmup = self.warmup
        if self.steps_before < warmup <= self.steps_before + self.planned_steps:
            self.warmup_end_progress = self.progress(warmup - self.steps_before)

    def _capped_warmup(self, total_steps: int) -> int:
        """The configured warm-up, or :data:`MAX_WARMUP_SHARE` of ``total_steps`` when longer."""
        configured = int(self.config.warmup_steps or 0)
        cap = max(1, int(MAX_WARMUP_SHARE * total_steps))
        if configured <= cap:
            return configured
        self.shortened = (configured, cap)
        return cap

    def end_epoch(self) -> None:
        """Count the epoch's planned steps as done (whether or not each was taken)."""
        if self.epoch is None:
            raise RuntimeError("end_epoch() without begin_epoch()")
        self.steps_before += self.planned_steps
        self.epoch, self.planned_steps = None, 0

    def progress(self, step: int) -> float:
        """Progress at the end of step ``step`` (1-based) of the current epoch."""
        if self.epoch is None:
            raise RuntimeError("progress() outside an epoch: call begin_epoch() first")
        within = min(step, self.planned_steps) / self.planned_steps if self.planned_steps else 0.0
        return (self.epoch - 1 + within) / self.max_epoch

    def factor(self, step: int) -> float:
        """LR of step ``step`` (1-based) of the current epoch, as a fraction of the peak."""
        global_step = self.steps_before + step
        warmup = int(self.warmup if self.warmup is not None else self.config.warmup_steps or 0)
        p = self.progress(step)
        if self.config.decay == "wsd":
            return min(1.0 if global_step >= warmup else global_step / warmup, self._wsd(p))
        if global_step <= warmup:
            return global_step / warmup
        end = self.warmup_end_progress
        if end is None:
            raise RuntimeError(f"step {global_step} is past the warm-up, which never ended")
        if end >= 1.0 or p >= 1.0:
            return 0.0
        return decay_factor(self.config.decay, (p - end) / (1.0 - end))

    def _wsd(self, p: float) -> float:
        """The WSD envelope at progress ``p``: 1, then linear to 0 over the decay epochs."""
        start = decay_start_epoch(self.max_epoch, float(self.config.decay_share or 0.0))
        begin = start / self.max_epoch
        if p <= begin:
            return 1.0
        return max(0.0, 1.0 - (p - begin) / (1.0 - begin))

    def state_dict(self) -> dict[str, Any]:
        return {
            "lr_fit": self.config.decay,
            "warmup_steps": self.config.warmup_steps,
            "max_epoch": self.max_epoch,
            "steps_before": self.steps_before,
            "warmup_end_progress": self.warmup_end_progress,
            "warmup_used": self.warmup,
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore :meth:`state_dict`; refuses a state of another schedule."""
        expected = {"lr_fit", "warmup_steps", "max_epoch", "steps_before", "warmup_end_progress"}
        # ``warmup_used`` is absent from checkpoints written before the warm-up cap
        if not isinstance(state, Mapping) or set(state) - {"warmup_used"} != expected:
            keys = sorted(state) if isinstance(state, Mapping) else type(state).__name__
            raise ValueError(
                f"not a state of the fitted LR schedule (keys {keys}): the checkpoint was "
                f"written with another --scheduler / --lr_fit; resume with the same settings"
            )
        for key in ("lr_fit", "warmup_steps"):
            if state[key] != getattr(self.config, "decay" if key == "lr_fit" else key):
                raise ValueError(
                    f"checkpoint has {key}={state[key]!r}, this run "
                    f"{getattr(self.config, 'decay' if key == 'lr_fit' else key)!r}: "
                    f"resume with the same {LR_FIT_OPTION} settings"
                )
        self.steps_before = int(state["steps_before"])
        end = state["warmup_end_progress"]
        self.warmup_end_progress = None if end is None else float(end)
        used = state.get("warmup_used")
        if used is not None:
            self.warmup = int(used)
            configured = int(self.config.warmup_steps or 0)
            self.shortened = (configured, self.warmup) if self.warmup < configured else None
