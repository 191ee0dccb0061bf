"""Reads error rates from ESPnet's ``RESULTS.md`` (written by the recipe's scoring stage).

Responsible for the tables under ``### WER`` / ``### CER`` / ``### TER`` headings, whose rows
name ``<decode_tag>/<test_set>``. Not responsible for choosing between decode tags beyond
:func:`pick_decode_tag`.

>>> scores = parse_results_md(Path("exp/asr_x/RESULTS.md").read_text())  # doctest: +SKIP
>>> scores[-1].metric, scores[-1].test_set, scores[-1].err  # doctest: +SKIP
('CER', 'test_clean', 4.2)
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

METRICS = ("WER", "CER", "TER")
_METRIC_HEADING = re.compile(r"^#{3,}\s*(WER|CER|TER)\b", re.IGNORECASE)
_SECTION_HEADING = re.compile(r"^#{1,2}\s+(.*\S)\s*$")
_DECODE_PREFIXES = ("decode", "inference")


@dataclass(frozen=True)
class Score:
    """One row of a scoring table; ``err`` is the error rate in percent."""

    decode_tag: str
    test_set: str
    metric: str
    err: float
    sentences: int | None = None
    words: int | None = None


def _cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip().strip("|").split("|")]


def _split_name(name: str, section_tag: str) -> tuple[str, str]:
    parts = [p for p in name.split("/") if p]
    if len(parts) >= 2:
        tag, rest = parts[0], parts[1:]
    else:
        tag, rest = section_tag, parts
    if len(rest) > 1 and rest[0] == "org":
        rest = rest[1:]
    return tag, "/".join(rest)


def _section_tag(heading: str) -> str:
    last = heading.strip("[]()`").rstrip("/").split("/")[-1]
    return last if last.startswith(_DECODE_PREFIXES) else ""


def _int(text: str) -> int | None:
    try:
        return int(float(text))
    except ValueError:
        return None


def parse_results_md(text: str) -> list[Score]:
    """Returns every score row found, in file order; malformed rows are skipped."""
    scores: list[Score] = []
    metric, section_tag, columns = None, "", None
    for line in text.splitlines():
        stripped = line.strip()
        if heading := _METRIC_HEADING.match(stripped):
            metric, columns = heading[1].upper(), None
            continue
        if heading := _SECTION_HEADING.match(stripped):
            section_tag, metric, columns = _section_tag(heading[1]), None, None
            continue
        if metric is None or not stripped.startswith("|"):
            continue
        cells = _cells(stripped)
        if cells and cells[0].lower() == "dataset":
            columns = {c.lower(): i for i, c in enumerate(cells)}
            continue
        if columns is None or "err" not in columns or set("".join(cells)) <= set("-: "):
            continue
        try:
            err = float(cells[columns["err"]])
        except (IndexError, ValueError):
            continue
        tag, test_set = _split_name(cells[0], section_tag)
        snt = _int(cells[columns["snt"]]) if "snt" in columns else None
        wrd = _int(cells[columns["wrd"]]) if "wrd" in columns else None
        scores.append(Score(tag, test_set, metric, err, snt, wrd))
    return scores


def read_results_md(path: Path) -> list[Score]:
    """Reads and parses ``path``."""
    return parse_results_md(Path(path).read_text(encoding="utf-8", errors="replace"))


def pick_decode_tag(scores: list[Score], wanted: str | None = None) -> str | None:
    """The decode tag to report: ``wanted`` (exact, else the last tag containing it) or the last.

    Returns None when nothing matches.
    """
    tags = list(dict.fromkeys(s.decode_tag for s in scores))
    if not tags:
        return None
    if wanted is None:
        return tags[-1]
    if wanted in tags:
        return wanted
    matching = [t for t in tags if wanted in t]
    return matching[-1] if matching else None
