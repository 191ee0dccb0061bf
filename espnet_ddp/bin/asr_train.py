#!/usr/bin/env python3
"""Drop-in for ``python -m espnet2.bin.asr_train`` with ``--data_pruning`` and ``--time_drop``."""

from __future__ import annotations

from espnet_ddp.espnet.task import PrunedASRTask


def get_parser():
    """The full ESPnet ASR parser plus the plugin's options."""
    return PrunedASRTask.get_parser()


def main(cmd=None) -> None:
    """Train an ESPnet ASR model on a dynamically pruned, time-dropped data stream."""
    PrunedASRTask.main(cmd=cmd)


if __name__ == "__main__":
    main()
