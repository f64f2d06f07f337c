"""The bad-tick guard (flash crash / bad print fail-safe), pure.

A tick that jumps more than the band from the last accepted tick is held, not acted on. The
next tick confirms it when it lies within the band of the held tick: then it is accepted (a real
gap exits one tick later, at the confirming price). A next tick back within the band of the last
accepted one discards the held spike: a one-tick spike exits nothing.
"""
from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

ACCEPTED, HELD, CONFIRMED, DISCARDED = "ACCEPTED", "HELD", "CONFIRMED", "DISCARDED"


@dataclass(frozen=True)
class Guarded:
    verdict: str                 # ACCEPTED | HELD | CONFIRMED | DISCARDED (the tick is accepted
    last_accepted: int | None    # in every case but HELD)
    held: int | None

    @property
    def accepted(self) -> bool:
        return self.verdict != HELD


def _within(price: int, reference: int, band: Fraction) -> bool:
    return abs(price - reference) <= band * reference


def guard(band: Fraction | None, last_accepted: int | None, held: int | None,
          price: int) -> Guarded:
    if band is None or last_accepted is None or _within(price, last_accepted, band):
        return Guarded(DISCARDED if held is not None else ACCEPTED, price, None)
    if held is not None and _within(price, held, band):
        return Guarded(CONFIRMED, price, None)
    return Guarded(HELD, last_accepted, price)
