"""A seeded random walk per instrument, on the instrument's tick size, from a realistic level."""
from __future__ import annotations

import random

from schemas.instruments import Instrument


class RandomWalk:
    def __init__(self, instrument: Instrument, seed: int, volatility_bps: float):
        self.instrument = instrument
        self.price = instrument.reference_paise
        self.volatility = volatility_bps / 10_000
        self.rng = random.Random(f"{seed}:{instrument.token}")

    def step(self) -> int:
        # Prices are generated, not accounted: a float step rounded onto the tick grid is fine.
        tick = self.instrument.tick_size_paise
        moved = self.price * (1 + self.rng.gauss(0, self.volatility))
        self.price = max(tick, int(round(moved / tick)) * tick)
        return self.price
