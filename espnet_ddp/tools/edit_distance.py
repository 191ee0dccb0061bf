"""Word (or character) alignment counts, as NIST sclite computes them.

Minimum-cost alignment with sclite's default weights (correct 0, substitution 4, insertion 3,
deletion 3), case-insensitive. Used by ``score_asr`` when sclite is not installed.

>>> align_counts("the cat sat".split(), "the bat sat sat".split())
Counts(corr=2, sub=1, dels=0, ins=1)
"""

from __future__ import annotations

from dataclasses import dataclass

SUB, INS, DEL = 4, 3, 3


@dataclass
class Counts:
    """Correct, substituted, deleted and inserted tokens."""

    corr: int = 0
    sub: int = 0
    dels: int = 0
    ins: int = 0

    def __iadd__(self, other: Counts) -> Counts:
        self.corr += other.corr
        self.sub += other.sub
        self.dels += other.dels
        self.ins += other.ins
        return self

    @property
    def errors(self) -> int:
        return self.sub + self.dels + self.ins


def align_counts(ref: list[str], hyp: list[str]) -> Counts:
    """Counts of the minimum-cost alignment of ``hyp`` against ``ref``."""
    r = [w.lower() for w in ref]
    h = [w.lower() for w in hyp]
    n, m = len(r), len(h)
    cost = [[0] * (m + 1) for _ in range(n + 1)]
    for i in range(1, n + 1):
        cost[i][0] = i * DEL
    for j in range(1, m + 1):
        cost[0][j] = j * INS
    for i in range(1, n + 1):
        ri, row, prev = r[i - 1], cost[i], cost[i - 1]
        for j in range(1, m + 1):
            diag = prev[j - 1] + (0 if ri == h[j - 1] else SUB)
            row[j] = min(diag, prev[j] + DEL, row[j - 1] + INS)
    c = Counts()
    i, j = n, m
    while i > 0 or j > 0:
        if i > 0 and j > 0:
            same = r[i - 1] == h[j - 1]
            if cost[i][j] == cost[i - 1][j - 1] + (0 if same else SUB):
                if same:
                    c.corr += 1
                else:
                    c.sub += 1
                i, j = i - 1, j - 1
                continue
        if i > 0 and cost[i][j] == cost[i - 1][j] + DEL:
            c.dels += 1
            i -= 1
        else:
            c.ins += 1
            j -= 1
    return c
