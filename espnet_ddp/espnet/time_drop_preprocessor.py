"""Applies time-wise dropping to training waveforms, after ESPnet's own preprocessing."""

from __future__ import annotations

import numpy as np
from espnet2.train.preprocessor import AbsPreprocessor

from espnet_ddp.core.time_drop import TimeDropper
from espnet_ddp.espnet.min_length import MinKeepRule


class TimeDropPreprocessor(AbsPreprocessor):
    """Wraps the task's training preprocessor and shortens each waveform for the current epoch.

    Dropping runs in the data-loader workers, before padding, so padding, host-to-device copies and
    all model compute shrink with it. The tokenized text gives the exact CTC floor
    (:class:`MinKeepRule`), so no utterance becomes too short for its transcript.
    Not responsible for: choosing utterances, validation data (never wrapped), or the epoch number,
    which the iterator factory sets with :meth:`set_epoch` before the workers start.

    >>> pre = TimeDropPreprocessor(base, dropper, MinKeepRule())   # doctest: +SKIP
    >>> pre.set_epoch(3); pre("utt1", {"speech": wav, "text": "HELLO"})["speech"].shape
    """

    def __init__(
        self,
        base: AbsPreprocessor | None,
        dropper: TimeDropper,
        min_keep: MinKeepRule,
        speech_name: str = "speech",
        text_name: str = "text",
    ) -> None:
        super().__init__(train=True)
        self.base = base
        self.dropper = dropper
        self.min_keep = min_keep
        self.speech_name = speech_name
        self.text_name = text_name
        self.epoch = 1

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __call__(self, uid: str, data: dict) -> dict:
        if self.base is not None:
            data = self.base(uid, data)
        speech = data.get(self.speech_name)
        if speech is None:
            return data
        tokens = data.get(self.text_name)
        if isinstance(tokens, np.ndarray) and tokens.dtype.kind in "iu":
            floor = self.min_keep.samples_for(tokens)
        else:
            floor = 0
        plan = self.dropper.plan(uid, int(speech.shape[0]), self.epoch, floor)
        if plan.num_removed:
            data[self.speech_name] = self.dropper.apply(speech, plan)
        return data
