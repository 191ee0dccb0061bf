"""How many encoder frames the built ESPnet model emits per waveform sample, measured on it.

The CTC floor (:class:`~espnet_ddp.espnet.min_length.MinKeepRule`) needs the samples per encoder
frame. Reading them off the options only works for frontends and encoders whose framing is
known (an s3prl frontend hops 320 samples, an RNN encoder subsamples by its ``subsample``
product); running the model's own frontend and encoder on probes of known lengths works for
any of them. Not responsible for: which tokens CTC needs (:mod:`ctc_floor`), nor for dropping.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence

import torch

from espnet_ddp.espnet.min_length import MinKeepRule

PROBE_SECONDS = (1.0, 8.0)


def encoder_frames(model: torch.nn.Module, num_samples: Sequence[int]) -> list[int]:
    """Encoder output lengths of ``model.encode`` for one waveform of each length.

    Runs in eval mode without gradients (no SpecAugment, no dropout), one utterance at a time
    (no padding), on the model's device, and restores the model's mode. An input the encoder
    refuses as too short (ESPnet's ``TooShortUttError``) counts as 0 frames.
    """
    device = next(iter(model.parameters()), torch.empty(0)).device
    generator = torch.Generator().manual_seed(0)
    was_training = model.training
    model.eval()
    try:
        out = []
        with torch.no_grad():
            for n in num_samples:
                speech = 0.1 * torch.randn(1, int(n), generator=generator)
                try:
                    _, lengths = model.encode(
                        speech.to(device), torch.tensor([int(n)], device=device)
                    )
                except Exception as e:  # noqa: BLE001 -- only ESPnet's "too short" is 0 frames
                    if type(e).__name__ != "TooShortUttError":
                        raise
                    out.append(0)
                    continue
                out.append(int(lengths[0]))
        return out
    finally:
        model.train(was_training)


def measured_rule(model: torch.nn.Module, base: MinKeepRule, fs: int) -> MinKeepRule:
    """``base`` with the samples per encoder frame and the edge measured on ``model``.

    Two probes, of ``n1`` (1 s) and ``n3`` (8 s) samples, give ``f1`` and ``f3`` frames. A strided
    frontend and encoder emit one frame per ``p`` samples, with ``f3 - f1`` within one of
    ``(n3 - n1) / p``; so ``p`` is at most ``(n3 - n1) / (f3 - f1 - 1)``, which is taken (rounded
    up: the floor errs long, by about 1%), and the edge is the most either probe has beyond its
    whole frames, plus ``f1`` times the spread of ``p``. ``samples_for_count(F)`` then gives at
    least ``F`` frames for every ``F``. When the options' ``hop_length * subsampling`` fits the
    probes (ESPnet's default frontend and a convolutional input layer), ``base`` is returned as
    it is: exact. Two forwards of the model, on its device.

    >>> rule = measured_rule(model, MinKeepRule.from_args(args), 16000)  # doctest: +SKIP
    """
    n1, n3 = (int(round(s * fs)) for s in PROBE_SECONDS)
    f1, f3 = encoder_frames(model, [n1, n3])
    if f1 < 1 or f3 - f1 < 3:
        raise ValueError(
            f"espnet_ddp: the encoder emits {f1} and {f3} frames for {n1} and {n3} samples: "
            "its framing cannot be measured for the CTC floor"
        )
    span = n3 - n1
    if (f3 - f1 - 1) * base.frame_samples <= span <= (f3 - f1 + 1) * base.frame_samples:
        logging.info(
            f"espnet_ddp: CTC floor: the model's framing agrees with the options' "
            f"{base.frame_samples} samples per encoder frame"
        )
        return base  # the options' rule is exact for this frontend and encoder
    per_frame = math.ceil(span / (f3 - f1 - 1))
    spread = per_frame - span // (f3 - f1 + 1)
    edge = max(0, n1 - f1 * per_frame, n3 - f3 * per_frame) + f1 * spread
    rule = base.with_measured(per_frame, edge)
    logging.info(
        f"espnet_ddp: CTC floor from the model: {per_frame} samples per encoder frame, "
        f"{edge} edge samples (the options say {base.frame_samples} and {base.edge_samples})"
    )
    return rule
