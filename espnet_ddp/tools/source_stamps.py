"""Stamps of the sources stage 3 formatted: a rerun notices a source that changed or is gone.

A stamp is a hash of an utterance's ``wav.scp`` entry, the sampling rate it was formatted to, and
the size and modification time (ns) of every file the entry reads: the file itself, or for a pipe
(``cmd |``) each word of the command that names an existing file. They are kept as
``<formatted file name> <stamp>`` lines (``<utt>.flac <stamp>``) in ``<audio_dir>/source_stamps``,
written atomically. Responsible for computing, reading and
writing stamps. Not responsible for what a changed stamp means (``format_audio`` formats the
utterance again; a plain source file that is gone stops it, naming the utterance and file).

>>> import tempfile
>>> d = Path(tempfile.mkdtemp())
>>> _ = (d / "a.wav").write_bytes(b"RIFF")
>>> s = source_stamp(str(d / "a.wav"), 16000)
>>> s == source_stamp(str(d / "a.wav"), 16000), s == source_stamp(str(d / "a.wav"), 8000)
(True, False)
>>> _ = (d / "a.wav").write_bytes(b"RIFF....")  # the source changed: so does its stamp
>>> s == source_stamp(str(d / "a.wav"), 16000)
False
>>> entry_files(f"sox {d / 'a.wav'} -t wav - speed 0.9 |") == [str(d / "a.wav")]
True
"""

from __future__ import annotations

import hashlib
import os
import shlex
from pathlib import Path

from espnet_ddp.core.atomic_io import write_text_atomic
from espnet_ddp.tools.audio_io import is_pipe
from espnet_ddp.tools.datadir import read_kv

STAMPS = "source_stamps"


def entry_files(entry: str) -> list[str]:
    """The files a ``wav.scp`` entry reads: itself, or the words of a pipe that name files."""
    if not is_pipe(entry):
        return [entry]
    command = entry.rstrip()[:-1]
    try:
        words = shlex.split(command)
    except ValueError:  # unbalanced quotes: the shell will complain when it runs
        words = command.split()
    return [w for w in words if os.path.isfile(w)]


def source_stamp(entry: str, fs: int) -> str:
    """The stamp of one entry formatted to ``fs`` Hz; ``FileNotFoundError`` when the entry is a
    file that does not exist."""
    h = hashlib.sha256(f"{fs}\0{entry}".encode())
    for path in entry_files(entry):
        st = os.stat(path)
        h.update(f"\0{path}\0{st.st_size}\0{st.st_mtime_ns}".encode())
    return h.hexdigest()[:32]


def read_stamps(audio_dir: str | Path) -> dict[str, str]:
    """The stamps recorded in ``audio_dir`` (none, or an unreadable file: empty, so every
    utterance is formatted again)."""
    try:
        return read_kv(Path(audio_dir) / STAMPS)
    except (OSError, ValueError):
        return {}


def write_stamps(audio_dir: str | Path, stamps: dict[str, str]) -> None:
    """Replace the stamps of ``audio_dir`` (atomically)."""
    text = "".join(f"{u} {stamps[u]}\n" for u in sorted(stamps))
    write_text_atomic(Path(audio_dir) / STAMPS, text)
