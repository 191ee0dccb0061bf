"""Crash-safe file writes: a reader sees the old file or the new one, never half of one.

Responsible for: writing a file through a temporary sibling (``.<name>.<random>.tmp``), flushed
to disk, given the mode a plain ``open`` would give it (``0666`` less the umask; ``mkstemp``
alone makes ``0600``), and renamed onto the target; removing the temporaries that a killed writer
left behind (:func:`remove_stale_temporaries`, called by the writer when it starts again in
that directory); and replacing a whole directory only once its new content is complete
(:func:`staged_directory`). Not responsible for what is written, nor for locking: one writer
per file is the caller's rule.

>>> import tempfile
>>> d = Path(tempfile.mkdtemp())
>>> write_text_atomic(d / "a.txt", "one\\n")
>>> (d / ".a.txt.k3j_x9z0.tmp").write_text("half")  # what a kill during a write leaves
4
>>> [p.name for p in remove_stale_temporaries(d, "a.txt")], sorted(p.name for p in d.iterdir())
(['.a.txt.k3j_x9z0.tmp'], ['a.txt'])
>>> oct(file_mode(d / "a.txt")) == oct(0o666 & ~current_umask())
True
"""

from __future__ import annotations

import contextlib
import fnmatch
import json
import os
import re
import shutil
import stat
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

TMP_SUFFIX = ".tmp"
# mkstemp's names: prefix, 8 characters of [a-z0-9_], suffix
_TEMP_NAME = re.compile(r"^\.(?P<name>.+)\.[a-z0-9_]{8}\.tmp$")


def current_umask() -> int:
    """The process's umask, read without changing it where Linux shows it (``/proc``); else
    by setting and restoring it (a brief window in which other threads would see 0)."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def file_mode(path: str | Path) -> int:
    """The permission bits of ``path``."""
    return stat.S_IMODE(os.stat(path).st_mode)


def _fsync_directory(directory: Path) -> None:
    """Make a rename in ``directory`` durable (best effort: not every filesystem allows it)."""
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def write_bytes_atomic(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same directory and a rename.

    The temporary file is fsynced and given the mode ``0666 & ~umask`` before the rename; on
    any error it is removed and ``path`` keeps its old content.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=TMP_SUFFIX, dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fchmod(f.fileno(), 0o666 & ~current_umask())
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_directory(path.parent)


def write_text_atomic(path: str | Path, text: str) -> None:
    """:func:`write_bytes_atomic` of ``text`` encoded as UTF-8."""
    write_bytes_atomic(path, text.encode("utf-8"))


def write_json_atomic(path: str | Path, obj: Any) -> None:
    """Atomically write ``obj`` as JSON (floats round-trip exactly)."""
    write_text_atomic(path, json.dumps(obj, indent=1, sort_keys=False, allow_nan=True) + "\n")


def remove_stale_temporaries(
    directory: str | Path, names: str | Callable[[str], bool] = "*"
) -> list[Path]:
    """Remove the temporaries of :func:`write_bytes_atomic` (``.<name>.<8 chars>.tmp``) whose
    target name matches ``names`` (a glob, or a test of the name); returns them. Call it when
    the only writer of those files starts: a temporary that exists then was left by a writer
    that was killed."""
    directory = Path(directory)
    if not directory.is_dir():
        return []
    wanted = names if callable(names) else lambda name: fnmatch.fnmatchcase(name, names)
    stale = []
    for p in sorted(directory.iterdir()):
        m = _TEMP_NAME.match(p.name)
        if m and wanted(m["name"]) and p.is_file() and not p.is_symlink():
            p.unlink(missing_ok=True)
            stale.append(p)
    return stale


def _aside(dst: Path) -> Path:
    """Where :func:`staged_directory` keeps the previous ``dst`` during the swap."""
    return dst.with_name(f".{dst.name}.old")


def recover_directory(dst: str | Path) -> list[Path]:
    """Undo what a kill during :func:`staged_directory` left: the previous directory, set aside
    and not yet replaced, goes back to ``dst``; unfinished new ones are removed. Returns the
    paths removed or moved back."""
    dst = Path(dst)
    done = []
    old = _aside(dst)
    if old.exists() or old.is_symlink():
        if dst.exists() or dst.is_symlink():
            _remove(old)
        else:
            old.rename(dst)
        done.append(old)
    if dst.parent.is_dir():
        for p in sorted(dst.parent.iterdir()):
            m = _TEMP_NAME.match(p.name)
            if m and m["name"] == dst.name and p.is_dir() and not p.is_symlink():
                shutil.rmtree(p)
                done.append(p)
    return done


@contextlib.contextmanager
def staged_directory(dst: str | Path) -> Iterator[Path]:
    """Yield an empty temporary sibling of ``dst`` to fill; when the block ends without an
    error it replaces ``dst`` (the previous one is set aside, the new one renamed in, the old
    one removed), otherwise it is removed and ``dst`` stays as it was.

    A kill between the two renames leaves the previous directory complete under ``.<name>.old``;
    :func:`recover_directory`, which this calls first, puts it back.
    """
    dst = Path(dst)
    dst.parent.mkdir(parents=True, exist_ok=True)
    recover_directory(dst)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dst.name}.", suffix=TMP_SUFFIX, dir=dst.parent))
    try:
        os.chmod(tmp, 0o777 & ~current_umask())  # mkdtemp makes 0700
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    old = _aside(dst)
    if dst.exists() or dst.is_symlink():
        dst.rename(old)
    tmp.rename(dst)
    _fsync_directory(dst.parent)
    if old.exists() or old.is_symlink():
        _remove(old)


def _remove(path: Path) -> None:
    """Remove a directory tree, or a file or link."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)
