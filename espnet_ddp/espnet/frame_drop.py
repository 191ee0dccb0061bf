"""Frame dropping (``--time_drop frames``): blocks of feature frames removed after the frontend.

Dropping after the STFT means no analysis window and no encoder frame straddles a splice: the
encoder sees whole frames of real speech, only fewer of them. The frames go before SpecAugment,
normalization and the encoder, so all of them see (and pay for) the shorter sequence.

Responsible for: the training-only forward hook on ``model.frontend`` that removes each
utterance's planned frames, and counting the frames fed. Not responsible for: how many frames
go (planned with the epoch, see :mod:`pruning_run`), where they go (:class:`TimeDropper`,
frames mode), nor validation: the hook exists only while a training epoch runs, and it is a
no-op in eval mode, so validation, decoding and the saved ``config.yaml`` never see it.

>>> hook = FrameDropHook(model, dropper, removal_of, epoch=3)   # doctest: +SKIP
>>> hook.attach(); train_one_epoch(); hook.detach(); hook.fed_frames  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from espnet_ddp.core.time_drop import TimeDropper


def frontend_frames(num_samples: np.ndarray | int, hop: int, n_fft: int, center: bool):
    """Frames ESPnet's STFT frontend makes of ``num_samples`` (vectorized).

    >>> frontend_frames(np.array([16000, 100]), hop=128, n_fft=512, center=True).tolist()
    [126, 1]
    """
    n = np.asarray(num_samples, dtype=np.int64)
    if center:
        return n // hop + 1
    return np.maximum(n - n_fft, 0) // hop + 1


class FrameDropHook:
    """Removes the planned frames of every training utterance from the frontend's output."""

    def __init__(
        self,
        model: torch.nn.Module,
        dropper: TimeDropper,
        removal_of: Callable[[str], tuple[int, int]],
        epoch: int,
    ) -> None:
        """``removal_of(utt_id)`` gives the planned ``(frames, frames_to_remove)``."""
        if getattr(model, "frontend", None) is None:
            raise ValueError("--time_drop frames needs a model with a frontend")
        self.model = model
        self.dropper = dropper
        self.removal_of = removal_of
        self.epoch = epoch
        self.fed_frames = 0
        self._handles: list = []
        self._utt_ids: list[str] | None = None

    def attach(self) -> None:
        if self._handles:
            raise RuntimeError("FrameDropHook is already attached")
        self._handles = [
            self.model.register_forward_pre_hook(self._on_model_start, with_kwargs=True),
            self.model.frontend.register_forward_hook(self._on_frontend),
        ]

    def detach(self) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles = []
        self._utt_ids = None

    def _on_model_start(self, module, args, kwargs) -> None:
        self._utt_ids = list(kwargs["utt_id"]) if module.training and "utt_id" in kwargs else None

    def _on_frontend(self, module, inputs, output):
        if not module.training or self._utt_ids is None:
            return None
        utt_ids, self._utt_ids = self._utt_ids, None
        feats, lengths = output
        have = lengths.detach().cpu().numpy().astype(np.int64)
        keep_rows = []
        for utt, frames in zip(utt_ids, have.tolist(), strict=True):
            planned, drop = self.removal_of(utt)
            if planned != frames:
                raise RuntimeError(
                    f"espnet_ddp: utterance {utt}: the frontend made {frames} frames, the plan "
                    f"expected {planned} (frontend settings differ from the planner's)"
                )
            plan = self.dropper.place(utt, frames, drop, self.epoch)
            keep_rows.append(np.flatnonzero(plan.keep_mask()))
        new_lengths = np.array([row.size for row in keep_rows], dtype=np.int64)
        self.fed_frames += int(new_lengths.sum())
        width = int(new_lengths.max()) if new_lengths.size else 0
        index = np.zeros((len(keep_rows), width), dtype=np.int64)
        for i, row in enumerate(keep_rows):
            index[i, : row.size] = row
        index_t = torch.from_numpy(index).to(feats.device)
        gathered = feats.gather(1, index_t.unsqueeze(-1).expand(-1, -1, feats.shape[-1]))
        lengths_t = torch.from_numpy(new_lengths).to(lengths.device, lengths.dtype)
        positions = torch.arange(width, device=feats.device)[None, :]
        pad = positions >= lengths_t.to(feats.device)[:, None]
        return gathered.masked_fill(pad.unsqueeze(-1), 0.0), lengths_t
