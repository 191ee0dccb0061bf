"""Per-utterance losses taken from the model's own training forward pass (no extra forward)."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field

import torch

from espnet_ddp.espnet.time_drop_preprocessor import DROP_INFO_KEY


@dataclass
class CapturedLosses:
    """Per-utterance losses of one rank for one epoch, in the order the batches were trained."""

    utt_ids: list[str] = field(default_factory=list)
    ctc: list[float] = field(default_factory=list)  # NaN where the model has no CTC branch
    att: list[float] = field(default_factory=list)  # NaN where the model has no decoder
    tokens: list[int] = field(default_factory=list)
    fed_samples: int = 0
    skipped_batches: int = 0
    silent_removed_samples: int = 0  # select=energy only: removed samples that were silence
    info_removed_samples: int = 0  # select=energy only: removed samples reported with them


class PerUtteranceLossCapture:
    """Records each training utterance's CTC and attention losses while ESPnet trains.

    Hooks belong to the modules they observe and are removed by :meth:`detach`:

    - a forward pre-hook on the ESPnet model reads ``utt_id`` (set by ESPnet's trainer), the
      text and speech lengths; it is inactive in eval mode, so validation records nothing;
    - a forward hook on ``model.ctc.ctc_loss`` (``CTCLoss(reduction="none")``, or ``brctc``'s
      loss over the utterances it can align) takes the per-utterance losses of the step's
      first CTC call (intermediate CTC calls come later, and are only re-weighted);
    - forward hooks on ``model.criterion_att.criterion`` (element-wise KL) and
      ``model.criterion_att`` reduce the already computed KL tensor per utterance, under the
      criterion's own padding mask.

    With loss weights (InfoBatch), the same hooks return re-weighted losses for the gradient.
    Losses stay on the device until :meth:`collect`, so training never waits for a host copy.
    Not responsible for: turning losses into scores, gathering ranks, selection.

    >>> capture = PerUtteranceLossCapture(model)        # doctest: +SKIP
    >>> capture.attach(weights={}); trainer_loop()   # doctest: +SKIP
    >>> losses = capture.collect(); capture.detach()  # doctest: +SKIP
    """

    def __init__(self, model: torch.nn.Module) -> None:
        self.model = model
        self._handles: list = []
        self._weights: Mapping[str, float] = {}
        self._reset_epoch()
        self.hook_seconds = 0.0

    def _reset_epoch(self) -> None:
        self._utt_ids: list[str] = []
        self._ctc: list[torch.Tensor] = []
        self._att: list[torch.Tensor] = []
        self._tokens: list[torch.Tensor] = []
        self._fed: list[torch.Tensor] = []
        self._info: list[torch.Tensor] = []
        self._skipped = 0
        self._step: dict | None = None

    # -- life cycle -------------------------------------------------------------------------
    def attach(self, weights: Mapping[str, float] | None = None) -> None:
        """Install the hooks for one epoch; ``weights`` maps utterance id -> loss weight."""
        if self._handles:
            raise RuntimeError("PerUtteranceLossCapture is already attached")
        self._reset_epoch()
        self._weights = dict(weights or {})
        m = self.model
        self._handles.append(m.register_forward_pre_hook(self._on_model_start, with_kwargs=True))
        self._handles.append(m.register_forward_hook(self._on_model_end))
        ctc = getattr(m, "ctc", None)
        if ctc is not None and getattr(m, "ctc_weight", 0.0) != 0.0:
            if not isinstance(getattr(ctc, "ctc_loss", None), torch.nn.Module):
                raise ValueError(
                    "espnet_ddp: per-utterance scores need ctc_conf ctc_type builtin or brctc "
                    f"(got {getattr(ctc, 'ctc_type', '?')})"
                )
            self._handles.append(ctc.ctc_loss.register_forward_hook(self._on_ctc))
        criterion = getattr(m, "criterion_att", None)
        if criterion is not None and getattr(m, "decoder", None) is not None:
            if getattr(m, "ctc_weight", 0.0) != 1.0:
                inner = criterion.criterion
                self._handles.append(inner.register_forward_hook(self._on_kl))
                self._handles.append(criterion.register_forward_hook(self._on_att))

    def detach(self) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles.clear()

    # -- hooks ------------------------------------------------------------------------------
    def _on_model_start(self, module, args, kwargs) -> None:
        self._step = None
        if not module.training or "utt_id" not in kwargs:
            return
        t0 = time.perf_counter()
        utt_ids = list(kwargs["utt_id"])
        text_lengths = kwargs["text_lengths"]
        step = {"utt_ids": utt_ids, "tokens": text_lengths.detach(), "ctc": None, "att": None}
        step["fed"] = kwargs["speech_lengths"].detach().sum()
        info = kwargs.get(DROP_INFO_KEY)
        if info is not None:
            step["info"] = info.detach().sum(dim=0)
        if self._weights:
            w = [float(self._weights.get(u, 1.0)) for u in utt_ids]
            step["w"] = torch.tensor(w, device=text_lengths.device)
        self._step = step
        self.hook_seconds += time.perf_counter() - t0

    def _on_ctc(self, module, inputs, output):
        """Scores from the step's first CTC call; loss weights on every call.

        ESPnet's model calls its CTC once for the final encoder output, then once per
        intermediate layer (``interctc_layer_idx``); InfoBatch's weights rescale each call.
        ``brctc`` returns only the utterances it can align (``min_hlens <= hlens``), in batch
        order, or ``[0.]`` when none: the valid ones are scored, the others stay NaN.
        """
        step = self._step
        if step is None or step["ctc"] is False:
            return None
        t0 = time.perf_counter()
        ilens, olens = inputs[2], inputs[3]
        needed = olens.to(output.device) + label_repeats(inputs[1], olens).to(output.device)
        # zero_infinity turns impossible alignments into 0: mark them non-finite instead.
        possible = ilens.to(output.device) >= needed
        n = len(step["utt_ids"])
        if output.dim() != 1:
            step["ctc"] = False  # not per utterance: skip the batch
            return None
        if output.numel() == n:
            rows = None  # one loss per utterance, in batch order
        elif output.numel() == int(possible.sum()):
            rows = possible  # brctc: the alignable utterances only
        elif not bool(possible.any()) and output.numel() == 1:
            rows = possible  # brctc's [0.] for a batch it cannot align at all: no score
        else:
            step["ctc"] = False  # per-utterance losses cannot be told apart: skip the batch
            return None
        if step["ctc"] is None:
            loss = output.detach().float()
            if rows is not None:
                full = torch.full((n,), float("nan"), device=loss.device)
                loss = full.masked_scatter(rows, loss[: int(rows.sum())])
            step["ctc"] = torch.where(possible, loss, torch.full_like(loss, float("nan")))
        result = None
        if "w" in step and (rows is None or bool(rows.any())):
            w = step["w"] if rows is None else step["w"][rows.to(step["w"].device)]
            result = output * w.to(output.dtype)
        self.hook_seconds += time.perf_counter() - t0
        return result

    def _on_kl(self, module, inputs, output) -> None:
        if self._step is not None and self._step["att"] is None:
            self._step["kl"] = output

    def _on_att(self, module, inputs, output):
        step = self._step
        if step is None or step["att"] is not None or "kl" not in step:
            return None
        t0 = time.perf_counter()
        target = inputs[1]
        kl = step.pop("kl")
        if "w" not in step:
            kl = kl.detach()
        batch, length = target.shape[0], target.shape[1]
        keep = (target != module.padding_idx).unsqueeze(-1)
        per_utt = kl.view(batch, length, -1).masked_fill(~keep, 0)
        per_utt = per_utt.sum(dim=(1, 2), dtype=torch.float32)
        step["att"] = per_utt.detach().float()
        result = None
        if "w" in step:
            denom = keep.sum() if module.normalize_length else batch
            result = ((per_utt * step["w"]).sum() / denom).to(output.dtype)
        self.hook_seconds += time.perf_counter() - t0
        return result

    def _on_model_end(self, module, inputs, output) -> None:
        step, self._step = self._step, None
        if step is None:
            return
        if step["ctc"] is False or step["att"] is False:
            self._skipped += 1
            return
        n = len(step["utt_ids"])
        nan = torch.full((n,), float("nan"), device=step["tokens"].device)
        self._utt_ids.extend(step["utt_ids"])
        self._ctc.append(step["ctc"] if step["ctc"] is not None else nan)
        self._att.append(step["att"] if step["att"] is not None else nan)
        self._tokens.append(step["tokens"])
        self._fed.append(step["fed"])
        if "info" in step:
            self._info.append(step["info"])

    # -- results ----------------------------------------------------------------------------
    def collect(self) -> CapturedLosses:
        """Move this epoch's losses to the host (one copy) and start a new record."""
        out = CapturedLosses(skipped_batches=self._skipped)
        if self._utt_ids:
            out.utt_ids = list(self._utt_ids)
            out.ctc = torch.cat([t.float().cpu() for t in self._ctc]).tolist()
            out.att = torch.cat([t.float().cpu() for t in self._att]).tolist()
            out.tokens = torch.cat([t.cpu() for t in self._tokens]).long().tolist()
            out.fed_samples = int(torch.stack([t.cpu() for t in self._fed]).sum())
        if self._info:
            silent, removed = torch.stack([t.cpu() for t in self._info]).sum(dim=0).tolist()
            out.silent_removed_samples, out.info_removed_samples = int(silent), int(removed)
        self._reset_epoch()
        return out


def label_repeats(targets: torch.Tensor, target_lengths: torch.Tensor) -> torch.Tensor:
    """Adjacent equal labels per utterance, from CTCLoss's targets (padded 2-D or concatenated).

    CTC needs one extra frame per repeat (a blank between two equal labels), so an utterance
    with ``L`` labels and ``R`` repeats needs ``L + R`` frames.

    >>> label_repeats(torch.tensor([3, 3, 4, 4, 4, 5, 5]), torch.tensor([3, 4])).tolist()
    [1, 2]
    >>> label_repeats(torch.tensor([[1, 1, 0], [2, 3, 3]]), torch.tensor([2, 3])).tolist()
    [1, 1]
    """
    lengths = target_lengths.to(targets.device).long()
    if targets.dim() == 2:
        same = targets[:, 1:] == targets[:, :-1]
        positions = torch.arange(1, targets.shape[1], device=targets.device)
        inside = positions[None, :] < lengths[:, None]
        return (same & inside).sum(dim=1)
    flat = targets.reshape(-1)
    if flat.numel() < 2:
        return torch.zeros_like(lengths)
    owner = torch.repeat_interleave(torch.arange(lengths.numel(), device=flat.device), lengths)
    same = (flat[1:] == flat[:-1]) & (owner[1:] == owner[:-1])
    out = torch.zeros_like(lengths)
    return out.index_add_(0, owner[1:], same.long())
