"""Applies time-wise dropping to training waveforms, after ESPnet's own preprocessing."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from espnet2.train.preprocessor import AbsPreprocessor

from espnet_ddp.core.time_drop import TimeDropper

DROP_INFO_KEY = "ddp_drop_info"


class TimeDropPreprocessor(AbsPreprocessor):
    """Wraps the task's training preprocessor and shortens each waveform as the epoch planned.

    Dropping runs in the data-loader workers, before padding, so padding, host-to-device copies
    and all model compute shrink with it. How many samples each utterance loses comes from the
    epoch's plan (:meth:`set_epoch`), the same numbers the batches were sized with, so the fed
    lengths equal the planned ones by construction. With ``select: energy`` each item also carries
    ``ddp_drop_info`` = (removed samples in silence, removed samples), which the model ignores
    and the loss capture sums for the epoch record.
    Not responsible for: choosing utterances or how much they lose, validation data (never
    wrapped), frames mode (a hook on the model's frontend), or the epoch number, which the
    iterator factory sets before the workers start.

    >>> pre = TimeDropPreprocessor(base, dropper)          # doctest: +SKIP
    >>> pre.set_epoch(3, {"utt1": 4800})                  # doctest: +SKIP
    >>> pre("utt1", {"speech": wav})["speech"].shape      # doctest: +SKIP
    """

    def __init__(
        self, base: AbsPreprocessor | None, dropper: TimeDropper, speech_name: str = "speech"
    ) -> None:
        super().__init__(train=True)
        self.base = base
        self.dropper = dropper
        self.speech_name = speech_name
        self.epoch = 1
        self.removals: Mapping[str, int] = {}

    def set_epoch(self, epoch: int, removals: Mapping[str, int]) -> None:
        """The epoch and the samples each utterance loses in it (absent: none)."""
        self.epoch = epoch
        self.removals = removals

    def __call__(self, uid: str, data: dict) -> dict:
        if self.base is not None:
            data = self.base(uid, data)
        speech = data.get(self.speech_name)
        if speech is None:
            return data
        drop = int(self.removals.get(uid, 0))
        info = self.dropper.cfg.select == "energy"
        if drop:
            shortened, plan = self.dropper.shorten(uid, speech, drop, self.epoch)
            if shortened.shape[0] != speech.shape[0] - drop:
                raise RuntimeError(f"espnet_ddp: {uid}: dropping gave a wrong length")
            data[self.speech_name] = shortened
            below = plan.below_threshold if plan is not None else 0
        else:
            below = 0
        if info:
            data[DROP_INFO_KEY] = np.array([below, drop], dtype=np.int64)
        return data
