"""The ESPnet calls whose form differs between the releases the plugin supports (202412-202611).

Responsible for: building the training dataset (``AbsTask.build_dataset`` exists from ESPnet
202506 on), ``--min_batch_size`` (an option from 202509 on; earlier samplers used 1), and
loading the trainer's own ``checkpoint.pth`` on resume in full, as ESPnet did up to 202511.
ESPnet 202412 calls ``torch.load`` without ``weights_only``, which torch >= 2.6 sets to ``True``
and which then refuses the reporter's statistics (numpy scalars); ESPnet 202609 and later load
with ``weights_only=True`` through ``safe_torch_load``, which refuses a checkpoint written by
202511 or earlier (the same numpy scalars) unless ``ESPNET_ALLOW_UNSAFE_TORCH_LOAD=1``. Not
responsible for anything the supported releases agree on: the rest of the glue calls ESPnet
directly. ``docs/COMPATIBILITY.md`` lists what was checked; :mod:`version_check` says which
release runs.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import os
import re
from importlib.metadata import PackageNotFoundError, version


def build_training_dataset(task, args: argparse.Namespace, iter_options):
    """The dataset over all training utterances, as the task's sequence factory builds it."""
    build = getattr(task, "build_dataset", None)
    if build is not None:  # ESPnet >= 202506
        return build(args, iter_options)
    from espnet2.train.dataset import ESPnetDataset, ESPnetMultiTaskDataset

    dataset_class = (
        ESPnetMultiTaskDataset if getattr(args, "multi_task_dataset", False) else ESPnetDataset
    )
    dataset = dataset_class(
        iter_options.data_path_and_name_and_type,
        float_dtype=args.train_dtype,
        preprocess=iter_options.preprocess_fn,
        max_cache_size=iter_options.max_cache_size,
        max_cache_fd=iter_options.max_cache_fd,
        allow_multi_rates=iter_options.allow_multi_rates,
    )
    task.check_task_requirements(dataset, args.allow_variable_data_keys, train=iter_options.train)
    return dataset


def min_batch_size(args: argparse.Namespace) -> int:
    """``--min_batch_size`` where ESPnet has it (>= 202509), else the 1 its samplers used."""
    return int(getattr(args, "min_batch_size", 1))


@functools.cache
def espnet_release(text: str | None = None) -> int:
    """The installed ESPnet's release as a number (``202412``); 0 when it cannot be read.

    >>> espnet_release("202412"), espnet_release("202506.post1"), espnet_release("0.10.6")
    (202412, 202506, 0)
    """
    if text is None:
        try:
            text = version("espnet")
        except PackageNotFoundError:
            return 0
    match = re.match(r"(\d{6})(?!\d)", text)
    return int(match.group(1)) if match else 0


SAFE_LOAD_RELEASE = 202609  # the first release whose Trainer.resume uses safe_torch_load
UNSAFE_LOAD_OPT_IN = "ESPNET_ALLOW_UNSAFE_TORCH_LOAD"  # safe_torch_load's documented opt-in


def resume_needs_full_load(release: int | None = None) -> bool:
    """Whether ``Trainer.resume`` needs :func:`full_checkpoint_load` to read a checkpoint whose
    reporter holds numpy scalars (everything ESPnet <= 202511 wrote).

    True before 202506 (``torch.load`` without ``weights_only``: torch >= 2.6 says ``True``) and
    from :data:`SAFE_LOAD_RELEASE` on (``weights_only=True``); 202506-202511 pass ``False``.

    >>> [resume_needs_full_load(r) for r in (202412, 202506, 202511, 202609, 202611, 0)]
    [True, False, False, True, True, False]
    """
    release = espnet_release() if release is None else release
    return 0 < release < 202506 or release >= SAFE_LOAD_RELEASE


@contextlib.contextmanager
def full_checkpoint_load():
    """Inside: ``torch.load`` defaults to ``weights_only=False`` (an explicit value still wins),
    and ESPnet's ``safe_torch_load`` (>= 202609) may load in full once its ``weights_only=True``
    attempt has failed (:data:`UNSAFE_LOAD_OPT_IN` set to 1, restored on leaving).

    Only around ``Trainer.resume``, which ESPnet calls with the run's own
    ``<output_dir>/checkpoint.pth`` (written by this training, so trusted, as ESPnet up to
    202511 trusted it); torch < 2.6 behaved like the first part already. A checkpoint that
    202609 or later wrote loads on the first, ``weights_only=True``, attempt.
    """
    import torch

    original = torch.load
    opt_in = os.environ.get(UNSAFE_LOAD_OPT_IN)

    @functools.wraps(original)
    def load(*args, **kwargs):
        kwargs.setdefault("weights_only", False)
        return original(*args, **kwargs)

    torch.load = load
    os.environ[UNSAFE_LOAD_OPT_IN] = "1"
    try:
        yield
    finally:
        torch.load = original
        if opt_in is None:
            os.environ.pop(UNSAFE_LOAD_OPT_IN, None)
        else:
            os.environ[UNSAFE_LOAD_OPT_IN] = opt_in
