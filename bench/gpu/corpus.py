"""The corpus a mode trains on: its ``config.yaml``, synthesis and ESPnet's statistics.

Responsible for :func:`set_up`, what every mode starts from: resolve the device count and job
count, write the plan's training YAML and build (or reuse) the synthesized corpus with
``common.build_corpus`` (espeak-ng and flite voices, test voices and sentences held out). Not
responsible for the corpus tools themselves (``espnet_ddp.tools.synth_corpus``) nor for test-set
merging for decoding (:mod:`gpu.decoding`).
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import NamedTuple

from common import Corpus, build_corpus, log

from .plan import Plan


class Setup(NamedTuple):
    """What every mode's run starts from (see :func:`set_up`)."""

    ngpu: int
    nj: int
    corpus: Corpus
    started: float  # time.perf_counter() just before the corpus was built


def set_up(plan: Plan, out: Path, ngpu: int | None = None, nj: int | None = None) -> Setup:
    """Resolve ``--ngpu`` and ``--nj``; write ``out/config.yaml``; build the corpus ``out/corpus``.

    ``ngpu`` None: 1 with CUDA, else 0; ``nj`` None or 0: the CPU count. The corpus has
    ``plan``'s sizes (``num_test`` per test set; none when 0) and is reused when already built.
    """
    if ngpu is None:
        import torch

        ngpu = 1 if torch.cuda.is_available() else 0
    nj = nj or max(1, os.cpu_count() or 2)
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.yaml").write_text(plan.config())
    started = time.perf_counter()
    corpus = build_corpus(
        out / "corpus", num_train=plan.num_train, num_dev=plan.num_dev, num_test=plan.num_test,
        nj=nj, config=out / "config.yaml", num_test_indomain=plan.num_test_indomain,
        heldout_sets=plan.heldout_sets,
    )  # fmt: skip
    log(f"corpus: {corpus.hours():.2f} h of training speech")
    return Setup(ngpu, nj, corpus, started)
