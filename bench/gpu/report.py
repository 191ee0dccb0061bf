"""Pieces every mode's Markdown report shares: number cells, ratios, the smoke-run banner, and
the sentence that describes the corpus and the model.

Responsible for formatting only; each mode's table is in its ``*_report`` module
(:mod:`gpu.quick_report`, :mod:`gpu.sweep_report`, :mod:`gpu.full_report`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

MISSING = "n/a"


def cell(value: float | None, spec: str) -> str:
    """``value`` formatted with ``spec``, or ``n/a``.

    >>> cell(1.234, ".2f"), cell(None, ".2f")
    ('1.23', 'n/a')
    """
    return MISSING if value is None else format(value, spec)


def ratio(base: float | None, value: float | None) -> float | None:
    """``base / value`` (how many times faster than the base), None when either is unknown."""
    return None if not base or not value else base / value


def banner(small: bool, what: str) -> list[str]:
    """The warning lines over a CPU ``--small`` report (none for a real run)."""
    if not small:
        return []
    return [f"> **CPU `--small` figures**: a smoke run of the pipeline; {what}.", ""]


def model_sentence(
    plan: Mapping[str, Any], params_m: float | None = None, amp: bool = False
) -> str:
    """Model, optimizer and batching of a plan (``dataclasses.asdict(Plan)``), one sentence.

    >>> from gpu.plan import SMALL
    >>> import dataclasses
    >>> model_sentence(dataclasses.asdict(SMALL), 0.08)
    'Model: conformer 1x32 (FFN 64, kernel 7), transformer decoder 1x64, CTC weight 0.3; \
0.08 M parameters. Adam 0.002, warm-up 20 steps, numel batches of 150,000 bins, accum_grad 1.'
    """
    params = "" if params_m is None else f"; {params_m} M parameters"
    return (
        f"Model: conformer {plan['blocks']}x{plan['dim']} (FFN {plan['ffn']}, kernel "
        f"{plan['kernel']}), transformer decoder {plan['dec_blocks']}x{plan['dec_ffn']}, CTC "
        f"weight 0.3{params}. Adam {plan['lr']}, warm-up {plan['warmup']} steps, numel batches "
        f"of {plan['batch_bins']:,} bins, accum_grad 1" + (", AMP" if amp else "") + "."
    )


def sets_phrase(test_sets: list[str], per_set: int) -> str:
    """``test_espeak (150), test_flite (150)``."""
    return ", ".join(f"{t} ({per_set})" for t in test_sets)
