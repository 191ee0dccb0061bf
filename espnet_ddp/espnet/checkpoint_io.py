"""Checkpoints that a kill or a full disk cannot destroy, and a resume that says what is wrong.

ESPnet's trainer writes ``checkpoint.pth``, ``<N>epoch.pth`` and the averaged models with
``torch.save`` straight into the experiment directory: a kill during the write leaves half a
file where the last good one was. Responsible for:

- :func:`atomic_torch_saves`: while a training runs, every ``torch.save`` to a path goes to a
  temporary file in the same directory, is flushed to disk, gets the directory's usual mode, and
  replaces the target by a rename; a failed write (a full disk) leaves the previous file intact
  and raises an error naming the file and the free space; temporaries left by an earlier kill
  are removed when the next run starts;
- :func:`check_resumable`: before a resume, ``checkpoint.pth`` and every ``<N>epoch.pth`` must
  be readable archives, or the run stops naming the damaged file;
- :func:`ensure_epoch_model`: after a resume, the model file of the checkpoint's epoch exists
  (a kill between the two writes of an epoch leaves ``checkpoint.pth`` without it, and ESPnet's
  model averaging would fail at the very end);
- :func:`keep_branch_states`: a ``--lr_fit wsd`` run with ``branch_budgets`` keeps its state at
  each branch epoch, ``cooldown_states/epoch<K>/``, that :mod:`espnet_ddp.tools.cooldown_branch`
  resumes from.

Not responsible for what is saved (ESPnet's trainer) nor for the plugin's own records
(:mod:`espnet_ddp.core.atomic_io`).
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path

import torch

TMP_PREFIX, TMP_SUFFIX = ".", ".tmp"
_TORCH_SAVE = torch.save  # the real one, whatever atomic_torch_saves has patched in


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def remove_stale_temporaries(directory: Path) -> list[Path]:
    """Remove ``.<name>.pth.*.tmp`` files that a killed write left in ``directory``."""
    stale = sorted(directory.glob(f"{TMP_PREFIX}*.pth.*{TMP_SUFFIX}"))
    for path in stale:
        path.unlink(missing_ok=True)
    if stale:
        logging.warning(f"espnet_ddp: removed {len(stale)} unfinished checkpoint write(s) in "
                        f"{directory}: {', '.join(p.name for p in stale)}")  # fmt: skip
    return stale


def atomic_save(save, obj, path: Path, *args, **kwargs) -> None:
    """``save(obj, tmp)``, fsync, chmod to the umask's mode, rename onto ``path``."""
    fd, tmp = tempfile.mkstemp(prefix=f"{TMP_PREFIX}{path.name}.", suffix=TMP_SUFFIX,
                               dir=path.parent)  # fmt: skip
    os.close(fd)
    try:
        save(obj, tmp, *args, **kwargs)
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException as err:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(err, RuntimeError | OSError):
            free = shutil.disk_usage(path.parent).free
            raise RuntimeError(
                f"espnet_ddp: could not write {path}: {err} ({free / 2**20:.0f} MiB free on its "
                f"disk); the previous {path.name}, if there was one, is intact"
            ) from err
        raise


@contextlib.contextmanager
def atomic_torch_saves(output_dir: Path) -> Iterator[None]:
    """Make every ``torch.save`` to a path atomic while the block runs (see the module)."""
    output_dir = Path(output_dir)
    if output_dir.is_dir():
        remove_stale_temporaries(output_dir)
    original = _TORCH_SAVE

    def save(obj, f, *args, **kwargs):
        if not isinstance(f, str | os.PathLike):
            return original(obj, f, *args, **kwargs)
        return atomic_save(original, obj, Path(f), *args, **kwargs)

    torch.save = save
    try:
        yield
    finally:
        torch.save = original


STATES = "cooldown_states"


def state_dir(output_dir: Path, epoch: int) -> Path:
    """Where a WSD run keeps its full training state after ``epoch``: ``checkpoint.pth``, the
    ``<N>epoch.pth`` files ESPnet kept by then (what a branch's model averaging can pick) and
    the plugin's records (``data_pruning/``)."""
    return Path(output_dir) / STATES / f"epoch{epoch}"


def _link_or_copy(source: Path, target: Path) -> None:
    try:
        os.link(source, target)  # the files are replaced by rename, never rewritten in place
    except OSError:
        shutil.copyfile(source, target)


def keep_branch_states(config, output_dir: Path, epoch: int, max_epoch: int) -> Path | None:
    """At the start of ``epoch``: when epoch - 1 is a branch epoch of ``config`` (an
    :class:`~espnet_ddp.core.lr_fit.LRFitConfig`), keep the state after it (see
    :func:`state_dir`), written into a temporary folder and renamed whole."""
    from espnet_ddp.core.lr_fit import branch_epoch
    from espnet_ddp.core.rounding import round_half_up

    if config.decay != "wsd" or not config.branch_budgets or epoch < 2:
        return None
    wanted = {branch_epoch(max_epoch, max(1, round_half_up(b * max_epoch)), config.decay_share)
              for b in config.branch_budgets}  # fmt: skip
    output_dir = Path(output_dir)
    target = state_dir(output_dir, epoch - 1)
    if epoch - 1 not in wanted or target.exists() or not (output_dir / "checkpoint.pth").is_file():
        return None
    partial = target.with_name(target.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    files = [output_dir / "checkpoint.pth"]
    files += [p for p in sorted(output_dir.glob("*epoch.pth")) if not p.is_symlink()]
    for source in files:
        _link_or_copy(source, partial / source.name)
    records = output_dir / "data_pruning"  # the plugin's records of epochs 1 .. epoch - 1
    if records.is_dir():
        (partial / records.name).mkdir()
        for source in sorted(p for p in records.iterdir() if p.is_file()):
            if source.name.startswith("."):
                continue  # an unfinished atomic write
            if source.suffix == ".digests":  # appended to in place: a copy, not a link
                shutil.copyfile(source, partial / records.name / source.name)
            else:
                _link_or_copy(source, partial / records.name / source.name)
    partial.rename(target)
    logging.info(f"espnet_ddp: kept the state after epoch {epoch - 1} for cooldown branches: "
                 f"{target} ({len(files)} files)")  # fmt: skip
    return target


def damaged(path: Path) -> bool:
    """True when ``path`` is not a complete torch archive (its zip directory is missing)."""
    return not zipfile.is_zipfile(path)


def check_resumable(checkpoint: Path) -> None:
    """Raise naming the first damaged file: ``checkpoint`` or any ``<N>epoch.pth`` beside it."""
    checkpoint = Path(checkpoint)
    bad = [p for p in [checkpoint, *sorted(checkpoint.parent.glob("*epoch.pth"))]
           if p.is_file() and not p.is_symlink() and damaged(p)]  # fmt: skip
    if bad:
        names = ", ".join(str(p) for p in bad)
        raise RuntimeError(
            f"espnet_ddp: cannot resume: {names} damaged (not a complete torch archive: a write "
            "cut short, by a kill or a full disk, before the plugin's atomic checkpoints). "
            f"Move {'it' if len(bad) == 1 else 'them'} away and resume: without checkpoint.pth "
            "the run starts again from epoch 1; without an <N>epoch.pth, restore it or start "
            "again, since model averaging needs it"
        )


def ensure_epoch_model(output_dir: Path, epoch: int, model: torch.nn.Module) -> Path | None:
    """Write ``<epoch>epoch.pth`` from ``model`` when the resumed checkpoint's epoch has none."""
    path = Path(output_dir) / f"{epoch}epoch.pth"
    if epoch < 1 or path.exists():
        return None
    core = model.module if hasattr(model, "module") else model
    atomic_save(_TORCH_SAVE, core.state_dict(), path)
    logging.warning(f"espnet_ddp: {path} was missing (a kill between the two writes of epoch "
                    f"{epoch}): written from checkpoint.pth's model")  # fmt: skip
    return path
