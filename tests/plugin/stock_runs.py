"""Stock ESPnet training configs, shrunk, trained on the tiny corpus (helpers for the tests).

Each YAML in ``stock_configs/`` names the ESPnet config it is modelled on and what was shrunk.
Not responsible for the plugin options: the tests add ``--data_pruning``/``--time_drop`` on the
command line, as a user would add them to a stock recipe.
"""

from __future__ import annotations

from pathlib import Path

import torch
import yaml

from plugin.corpus import train_command

STOCK_DIR = Path(__file__).parent / "stock_configs"
EPOCHS = 3
# asr.sh passes these for raw audio (800 frames x 100 samples, 150 tokens); the folded sampler
# needs one per shape file, and the other batch types ignore them.
FOLD_LENGTHS = ["--fold_length", "80000", "--fold_length", "150"]


def stock_config(name: str) -> dict:
    """The shrunk stock config ``name`` as a dict."""
    return yaml.safe_load((STOCK_DIR / name).read_text())


def stock_train_args(corpus: Path, exp: Path, name: str, *extra: str) -> list[str]:
    """``asr_train`` arguments for ``name`` on ``corpus``: 3 epochs, asr.sh's fold lengths."""
    return train_command(
        corpus, exp, STOCK_DIR / name, "--max_epoch", str(EPOCHS), *FOLD_LENGTHS, *extra
    )


def epoch_train_stats(exp: Path) -> dict[int, dict[str, float]]:
    """Each epoch's ``[train]`` statistics at full precision, from ESPnet's ``checkpoint.pth``.

    ``train.log`` prints 3-4 significant digits; the reporter's state keeps the floats.
    """
    states = torch.load(exp / "checkpoint.pth", map_location="cpu", weights_only=False)
    stats = states["reporter"]["stats"]
    return {int(epoch): dict(values["train"]) for epoch, values in stats.items()}
