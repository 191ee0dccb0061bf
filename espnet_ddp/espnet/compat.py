"""The ESPnet calls whose form differs between the releases the plugin supports (202412-202511).

Responsible for: building the training dataset (``AbsTask.build_dataset`` exists from ESPnet
202506 on), ``--min_batch_size`` (an option from 202509 on; earlier samplers used 1), and
loading the trainer's ``checkpoint.pth`` on resume with the torch of the day (ESPnet 202412
calls ``torch.load`` without ``weights_only``, which torch >= 2.6 sets to ``True`` and which then
refuses the reporter's statistics). Not responsible for anything the supported releases agree
on: the rest of the glue calls ESPnet directly. ``docs/COMPATIBILITY.md`` lists what was checked.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
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


def resume_needs_full_load(release: int | None = None) -> bool:
    """ESPnet before 202506 loads ``checkpoint.pth`` without ``weights_only`` (torch's default)."""
    release = espnet_release() if release is None else release
    return 0 < release < 202506


@contextlib.contextmanager
def full_checkpoint_load():
    """Inside: ``torch.load`` defaults to ``weights_only=False`` (an explicit value still wins).

    Only around ESPnet 202412's ``Trainer.resume``, which loads the run's own ``checkpoint.pth``
    (written by this training, so trusted); torch < 2.6 already behaved this way.
    """
    import torch

    original = torch.load

    @functools.wraps(original)
    def load(*args, **kwargs):
        kwargs.setdefault("weights_only", False)
        return original(*args, **kwargs)

    torch.load = load
    try:
        yield
    finally:
        torch.load = original
