"""How long a sweep will take on the lent GPU machine, phase by phase, before it runs.

Responsible for the seconds of each phase of one ``run.sh --sweep`` command (install,
synthesis, statistics, training, decoding, report) from the plan's sizes and a handful of
per-unit costs (:class:`Costs`), and for refusing a plan whose total exceeds the 540-second
command (:data:`CAP_SECONDS`). Not responsible for measuring the costs: each GPU run writes the
phases' real seconds into its ``run.json``, and the constants below are to be corrected from it.

The costs (one H200, 16 CPU cores), measured by the first GPU sweep (2026-12-04, seed 0:
``bench/gpu/results/sweep/seed0/run.json``) unless said otherwise:

- ``install``: the carried wheels into a folder on PYTHONPATH and espeak-ng/flite unpacked: 12 s
  (everything before Python started);
- ``synth_cpu``: 0.035 CPU-s per utterance (4,600 utterances synthesized in about 10 s on 16
  cores); ``stats_per_utt`` and ``import_s``: ESPnet's statistics stage took 28 s, mostly the
  import of ``espnet2.tasks.asr`` (about 28 s there, DESIGN.md section 5; ``import_s`` 35 s when
  many processes import at once);
- ``step_gpu`` and ``switching``: 11 trainings at once kept the GPU 99% busy for 354 s and took
  5,900 optimizer steps: 60 ms of GPU time per step of the ~5 M-parameter conformer, serialized
  across the processes (time-slicing, not overlap): 47 ms x (1 + 25%);
- ``step_cpu`` and ``epoch_overhead``: one run's own path, ~50 ms of Python a step and ~2 s an
  epoch for validation and checkpoints (estimates; the serialized GPU work dominates);
- ``decode_utt``: CTC greedy search in batches, 5 ms per utterance and model (an estimate from
  the CPU: one padded forward of the encoder per 200 s of audio); ESPnet's joint beam search ran
  at about 2 s per utterance and model per worker with 16 workers sharing the GPU, so it is only
  a cross-check on dev for the time left (not in the estimate).

>>> from gpu.plan import SMALL
>>> phases = estimate(SMALL.replace(num_test=3), run_epochs=[3.0, 2.1], workers=2, cores=16)
>>> sorted(phases) == sorted(PHASES)
True
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from espnet_ddp.core.errors import ConfigError

from .plan import Plan

CAP_SECONDS = 540  # one 9-minute command
PHASES = ("install", "synthesis", "statistics", "training", "decoding", "report")
MEAN_UTT_SECONDS = 2.5  # the synthesized corpus's mean utterance (DESIGN.md section 5)


@dataclass(frozen=True)
class Costs:
    """Per-unit costs on the GPU machine (see the module's list)."""

    install: float = 12.0
    synth_cpu: float = 0.035
    import_s: float = 35.0
    stats_per_utt: float = 0.02
    step_gpu: float = 0.047
    switching: float = 0.25
    step_cpu: float = 0.05
    epoch_overhead: float = 2.0
    decode_utt: float = 0.005
    report: float = 10.0


def steps_per_epoch(plan: Plan) -> float:
    """Optimizer steps of one full-data epoch: the training audio over the batch's bins
    (``numel`` batches count waveform samples).

    >>> from gpu.plan import SMALL
    >>> round(steps_per_epoch(SMALL), 1)
    16.0
    """
    return plan.num_train * MEAN_UTT_SECONDS * 16000 / plan.batch_bins


def decode_items(plan: Plan) -> int:
    """Utterances decoded per model: dev, the in-domain test set and the held-out-voice sets."""
    heldout = plan.num_test * len(plan.heldout_sets)
    return plan.num_dev + plan.num_test_indomain + heldout


def estimate(
    plan: Plan, run_epochs: Sequence[float], workers: int, cores: int, costs: Costs = Costs()
) -> dict[str, float]:
    """Seconds per phase. ``run_epochs``: each run's full-data epochs' worth of training (a run
    keeping 0.7 of the data for 23 of its 24 epochs counts 1 + 23 x 0.7)."""
    spe = steps_per_epoch(plan)
    synth_utts = plan.num_train + decode_items(plan)
    gpu = sum(run_epochs) * spe * costs.step_gpu * (1 + costs.switching)
    longest = max(run_epochs, default=0.0)
    path = longest * spe * costs.step_cpu + plan.epochs * costs.epoch_overhead
    decode_work = decode_items(plan) * len(run_epochs) * costs.decode_utt
    return {
        "install": costs.install,
        "synthesis": synth_utts * costs.synth_cpu / cores,
        "statistics": costs.import_s
        + (plan.num_train + plan.num_dev) * costs.stats_per_utt / max(1, cores - 1),
        "training": costs.import_s + max(gpu, path),
        "decoding": costs.import_s + decode_work,
        "report": costs.report,
    }


def check_cap(phases: dict[str, float], cap: float = CAP_SECONDS) -> None:
    """Raise :class:`ConfigError` when the phases add up to more than ``cap`` seconds.

    >>> check_cap({"training": 300.0, "decoding": 300.0})
    Traceback (most recent call last):
    ...
    espnet_ddp.core.errors.ConfigError: the plan is estimated at 600 s, over the 540 s of one \
command (training 300 s, decoding 300 s): make it smaller
    """
    total = sum(phases.values())
    if total > cap:
        parts = ", ".join(f"{k} {v:.0f} s" for k, v in phases.items())
        raise ConfigError(
            f"the plan is estimated at {total:.0f} s, over the {cap:.0f} s of one command "
            f"({parts}): make it smaller"
        )
