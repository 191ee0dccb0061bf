"""The per-rank digest file ``rank<R>.digests``: one ``<epoch> <digest>`` line per epoch.

Responsible for its format and for keeping it one line per epoch of the run as it now stands:
recording epoch N keeps the lines of the earlier epochs, sets N's (a different digest recorded
before for N is replaced, and returned so the caller can say so) and drops the lines of later
epochs (they belong to a run that was resumed from an earlier epoch or started again). The file
is rewritten atomically. Not responsible for computing digests or comparing ranks
(:mod:`espnet_ddp.espnet.pruning_run`).

>>> import tempfile
>>> path = Path(tempfile.mkdtemp()) / "rank0.digests"
>>> [record_digest(path, e, d).replaced for e, d in ((1, "aa"), (2, "bb"), (2, "bb"))]
[None, None, None]
>>> record_digest(path, 2, "cc")  # epoch 2 planned again, differently
DigestChange(replaced='bb', dropped_epochs=[], malformed=[])
>>> print(path.read_text(), end="")
1 aa
2 cc
>>> record_digest(path, 1, "aa"), read_digests(path)  # started again: epoch 2 is not this run's
(DigestChange(replaced=None, dropped_epochs=[2], malformed=[]), {1: 'aa'})
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from espnet_ddp.core.atomic_io import write_text_atomic


@dataclass
class DigestChange:
    """What recording a digest changed besides adding its line: the different digest recorded
    before for the epoch, the later epochs whose lines were dropped, malformed lines dropped."""

    replaced: str | None = None
    dropped_epochs: list[int] = field(default_factory=list)
    malformed: list[str] = field(default_factory=list)


def parse_digests(text: str) -> tuple[dict[int, str], list[str]]:
    """(epoch -> digest, malformed lines) of a digest file's text. Files of earlier versions,
    appended to, may hold an epoch twice: the last line wins.

    >>> parse_digests("1 aa\\n2 bb\\n1 cc\\n3\\n")
    ({1: 'cc', 2: 'bb'}, ['3'])
    """
    out: dict[int, str] = {}
    malformed = []
    for line in text.splitlines():
        parts = line.split()
        if not parts:
            continue
        if len(parts) != 2 or not parts[0].isdigit():
            malformed.append(line)
            continue
        out[int(parts[0])] = parts[1]
    return out, malformed


def read_digests(path: str | Path) -> dict[int, str]:
    """Epoch -> digest of a digest file (none: empty); ``ValueError`` names a malformed line."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return {}
    digests, malformed = parse_digests(text)
    if malformed:
        raise ValueError(f"{path}: malformed line {malformed[0]!r} (expected '<epoch> <digest>')")
    return digests


def format_digests(digests: dict[int, str]) -> str:
    """The file's text: one ``<epoch> <digest>`` line per epoch, by epoch."""
    return "".join(f"{e} {digests[e]}\n" for e in sorted(digests))


def record_digest(path: str | Path, epoch: int, digest: str) -> DigestChange:
    """Record ``digest`` for ``epoch`` (see the module) and say what else changed."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        text = ""
    digests, malformed = parse_digests(text)
    before = digests.get(epoch)
    kept = {e: d for e, d in digests.items() if e < epoch}
    kept[epoch] = digest
    new_text = format_digests(kept)
    if new_text != text:
        write_text_atomic(path, new_text)
    return DigestChange(
        replaced=before if before is not None and before != digest else None,
        dropped_epochs=sorted(e for e in digests if e > epoch),
        malformed=malformed,
    )
