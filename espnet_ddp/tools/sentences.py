"""A small English sentence generator for the synthetic mini corpus (our own grammar and words).

Responsible for producing varied, upper-case sentences (letters, spaces and apostrophes only) from a
seed, deterministically. Not responsible for splitting them into sets; see ``synth_corpus``.

>>> make_sentences(2, seed=0) == make_sentences(2, seed=0)
True
"""

from __future__ import annotations

import random

NAMES = (
    "ANNA BEN CLARA DAVID ELLA FRANK GRACE HENRY IRIS JACK KATE LEO MAYA NOAH OSCAR RUTH".split()
)
PEOPLE = (
    "DOCTOR TEACHER FARMER DRIVER BAKER SAILOR PILOT NURSE PAINTER SINGER NEIGHBOR CHILD".split()
)
ANIMALS = "DOG CAT HORSE RABBIT FOX GOAT DUCK OWL MOUSE BEAR".split()
THINGS = (
    "BOOK LETTER BOX LAMP CHAIR TABLE WINDOW KEY BOTTLE BASKET CUP CLOCK PENCIL TICKET BLANKET "
    "MAP COAT GARDEN RADIO BICYCLE"
).split()
PLACES = (
    "KITCHEN STATION MARKET LIBRARY HARBOR VILLAGE BRIDGE SCHOOL OFFICE FOREST RIVER HILL "
    "MUSEUM BAKERY"
).split()
ADJECTIVES = (
    "RED GREEN BLUE YELLOW OLD NEW SMALL LARGE QUIET HEAVY BRIGHT DARK WARM COLD SOFT ROUND "
    "EMPTY CLEAN"
).split()
NUMBERS = "TWO THREE FOUR FIVE SIX SEVEN EIGHT NINE TEN TWELVE TWENTY".split()
DAYS = "MONDAY TUESDAY WEDNESDAY THURSDAY FRIDAY SATURDAY SUNDAY".split()
TIMES = ["TODAY", "TOMORROW", "TONIGHT", "YESTERDAY", "THIS MORNING", "AFTER LUNCH", "AT NOON"]
VERBS_PAST = "FOUND CARRIED PAINTED OPENED MOVED CLEANED SOLD BROUGHT DROPPED FIXED".split()
VERBS_BASE = "FIND CARRY PAINT OPEN MOVE CLEAN SELL BRING DROP FIX".split()
MOTION = "WALKED RAN DROVE SWAM RODE HURRIED".split()
PREPOSITIONS = "NEAR BEHIND UNDER BESIDE INSIDE ACROSS".split()
FEELINGS = "HAPPY TIRED HUNGRY READY LATE CALM".split()


def _plural(noun: str) -> str:
    if noun == "MOUSE":
        return "MICE"
    if noun.endswith(("X", "S", "SH", "CH")):
        return noun + "ES"
    return noun + "S"


def _noun_phrase(r: random.Random) -> str:
    noun = r.choice(THINGS + ANIMALS)
    if r.random() < 0.5:
        return f"THE {r.choice(ADJECTIVES)} {noun}"
    det = r.choice(["THE", "A", "THAT", "THIS"])
    if det == "A" and noun[0] in "AEIOU":
        det = "AN"
    return f"{det} {noun}"


def _agent(r: random.Random) -> str:
    x = r.random()
    if x < 0.4:
        return r.choice(NAMES)
    if x < 0.7:
        return f"THE {r.choice(PEOPLE)}"
    return f"{r.choice(NAMES)}'S {r.choice(['BROTHER', 'SISTER', 'FRIEND', 'UNCLE', 'AUNT'])}"


def _sentence(r: random.Random) -> str:
    kind = r.randrange(7)
    if kind == 0:
        return f"{_agent(r)} {r.choice(VERBS_PAST)} {_noun_phrase(r)} {r.choice(TIMES)}"
    if kind == 1:
        place = r.choice(PLACES)
        return f"{_agent(r)} {r.choice(MOTION)} TO THE {place} ON {r.choice(DAYS)}"
    if kind == 2:
        return (
            f"PLEASE {r.choice(VERBS_BASE)} {_noun_phrase(r)} "
            f"{r.choice(PREPOSITIONS)} THE {r.choice(THINGS)}"
        )
    if kind == 3:
        return (
            f"THERE ARE {r.choice(NUMBERS)} {r.choice(ADJECTIVES)} "
            f"{_plural(r.choice(ANIMALS))} {r.choice(PREPOSITIONS)} THE {r.choice(PLACES)}"
        )
    if kind == 4:
        return f"{_agent(r)} WAS {r.choice(FEELINGS)} WHEN THE {r.choice(PEOPLE)} CALLED"
    if kind == 5:
        return (
            f"WILL {_agent(r)} {r.choice(VERBS_BASE)} {r.choice(NUMBERS)} "
            f"{_plural(r.choice(THINGS))} {r.choice(TIMES)}"
        )
    return (
        f"{_noun_phrase(r)} IS {r.choice(PREPOSITIONS)} THE {r.choice(THINGS)} "
        f"IN THE {r.choice(PLACES)}"
    )


def make_sentences(n: int, seed: int = 0, exclude: set[str] | None = None) -> list[str]:
    """``n`` distinct sentences, none of them in ``exclude``; the same for the same seed."""
    r = random.Random(seed)
    seen = set(exclude or ())
    out: list[str] = []
    attempts = 0
    while len(out) < n:
        attempts += 1
        if attempts > 50 * n + 1000:
            raise RuntimeError(f"could not make {n} distinct sentences (got {len(out)})")
        s = " ".join(_sentence(r).split())
        if s not in seen:
            seen.add(s)
            out.append(s)
    return out
