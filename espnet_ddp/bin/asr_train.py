#!/usr/bin/env python3
"""Drop-in for ``python -m espnet2.bin.asr_train`` with ``--data_pruning`` and ``--time_drop``.

At start-up it says in one line on stderr which ESPnet release runs and how it stands to the
tested range (:mod:`espnet_ddp.espnet.version_check`). ``espnet-ddp-python`` (the shim that
``asr.sh --python`` runs) reaches training through this module, so the line appears once per
training there too, and not for the other ESPnet commands the shim passes through.
"""

from __future__ import annotations

from espnet_ddp.espnet.task import PrunedASRTask
from espnet_ddp.espnet.version_check import check_espnet_version


def get_parser():
    """The full ESPnet ASR parser plus the plugin's options."""
    return PrunedASRTask.get_parser()


def main(cmd=None) -> None:
    """Train an ESPnet ASR model on a dynamically pruned, time-dropped data stream."""
    check_espnet_version()
    PrunedASRTask.main(cmd=cmd)


if __name__ == "__main__":
    main()
