"""Per-utterance error counts of one decoded set: what a paired bootstrap resamples.

Responsible for the record of one utterance (substitutions, deletions, insertions and reference
tokens), its tab-separated file ``per_utt.tsv`` (written next to ``result.txt`` by
``espnet_ddp.tools.score_asr``) and for reading sclite's ``pralign`` report into such records.
Not responsible for aligning (sclite, or :mod:`espnet_ddp.tools.edit_distance`) nor for any
statistics (:mod:`espnet_ddp.core.bootstrap`).

>>> rows = {"u1": UttErrors(sub=1, dels=0, ins=2, ref=5), "u2": UttErrors(0, 1, 0, 4)}
>>> import tempfile, pathlib
>>> path = pathlib.Path(tempfile.mkdtemp()) / "per_utt.tsv"
>>> write_tsv(path, rows)
>>> read_tsv(path) == rows, rows["u1"].errors
(True, 3)
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

HEADER = "utt\tsub\tdel\tins\tref"
FILE_NAME = "per_utt.tsv"


@dataclass(frozen=True)
class UttErrors:
    """One utterance's alignment: substituted, deleted, inserted and reference tokens."""

    sub: int
    dels: int
    ins: int
    ref: int

    @property
    def errors(self) -> int:
        return self.sub + self.dels + self.ins


def write_tsv(path: str | Path, rows: Mapping[str, UttErrors]) -> None:
    """``per_utt.tsv``: a header, then one line per utterance, sorted by id."""
    lines = [HEADER]
    lines += [f"{u}\t{e.sub}\t{e.dels}\t{e.ins}\t{e.ref}" for u, e in sorted(rows.items())]
    Path(path).write_text("\n".join(lines) + "\n", encoding="utf-8")


def read_tsv(path: str | Path) -> dict[str, UttErrors]:
    """Utterance id -> its counts; raises ``ValueError`` naming the file and line when bad."""
    out: dict[str, UttErrors] = {}
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            fields = line.rstrip("\n").split("\t")
            if n == 1 and line.startswith("utt\t"):
                continue
            if not line.strip():
                continue
            try:
                if len(fields) != 5:
                    raise ValueError("5 tab-separated fields expected")
                out[fields[0]] = UttErrors(*(int(x) for x in fields[1:]))
            except ValueError as err:
                raise ValueError(f"{path}:{n}: {err}: {line.rstrip()!r}") from None
    return out


_ID = re.compile(r"^id:\s*\((?P<id>.+)\)\s*$")
_SCORES = re.compile(r"^Scores:\s*\(#C #S #D #I\)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)")


def parse_pralign(text: str) -> dict[str, UttErrors]:
    """sclite's ``pralign`` report (``-o pralign``) -> sclite id -> counts.

    >>> report = '''id: (spk1-utt1)
    ... Scores: (#C #S #D #I) 3 1 0 2
    ... REF:  a b c d
    ... id: (spk1-utt2)
    ... Scores: (#C #S #D #I) 4 0 1 0
    ... '''
    >>> parse_pralign(report)["spk1-utt1"]
    UttErrors(sub=1, dels=0, ins=2, ref=4)
    """
    out: dict[str, UttErrors] = {}
    current = None
    for line in text.splitlines():
        if match := _ID.match(line.strip()):
            current = match["id"]
        elif current is not None and (match := _SCORES.match(line.strip())):
            c, s, d, i = (int(x) for x in match.groups())
            out[current] = UttErrors(sub=s, dels=d, ins=i, ref=c + s + d)
            current = None
    return out
