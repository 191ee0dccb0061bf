"""Pure core of espnet_ddp: settings, scores, selection and dropping, with no ESPnet or torch.

Imports only the standard library and numpy, so every rule here is testable in isolation and the
same on every rank. The ESPnet glue lives in :mod:`espnet_ddp.espnet`.
"""

from espnet_ddp.core.config import DROP_MODES, STRATEGIES, PruningConfig, TimeDropConfig
from espnet_ddp.core.errors import ConfigError
from espnet_ddp.core.schedule import EpochPhase, pruning_phase, shaped_progress
from espnet_ddp.core.score_table import ScoreTable
from espnet_ddp.core.seeding import epoch_rng, utt_rng
from espnet_ddp.core.selection import EpochSelection, select_epoch
from espnet_ddp.core.time_drop import DropPlan, TimeDropper

__all__ = [
    "DROP_MODES",
    "STRATEGIES",
    "ConfigError",
    "DropPlan",
    "EpochPhase",
    "EpochSelection",
    "PruningConfig",
    "ScoreTable",
    "TimeDropConfig",
    "TimeDropper",
    "epoch_rng",
    "pruning_phase",
    "select_epoch",
    "shaped_progress",
    "utt_rng",
]
