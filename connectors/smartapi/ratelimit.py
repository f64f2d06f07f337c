"""Sliding-window rate limits per client code, as Angel One counts them (smartapi.md)."""
from __future__ import annotations

import asyncio
import time
from collections import deque

LIMITS = {
    "order": ((9, 1.0), (500, 60.0), (1000, 3600.0)),   # place + modify + cancel, combined
    "book": ((1, 1.0),),                                  # orderBook, tradeBook, position
    "login": ((1, 1.0),),
    "token": ((1, 1.0),),
    "profile": ((3, 1.0),),
    "candles": ((3, 1.0), (180, 60.0)),                   # getCandleData
}
# a little under the broker's own count, so clock skew between us and it never costs a 403
MARGIN_S = 0.05


def wait_needed(calls: deque, limits: tuple, now: float) -> float:
    """Seconds until one more call fits every window (0 when it fits now)."""
    wait = 0.0
    for limit, window in limits:
        recent = [t for t in calls if now - t < window + MARGIN_S]
        if len(recent) >= limit:
            wait = max(wait, recent[-limit] + window + MARGIN_S - now)
    return wait


class RateLimiter:
    def __init__(self, limits: dict = LIMITS, clock=time.monotonic):
        self.limits, self.clock = limits, clock
        self.calls: dict[tuple[str, str], deque] = {}
        self.locks: dict[tuple[str, str], asyncio.Lock] = {}

    async def acquire(self, client: str, kind: str) -> None:
        key = (client, kind)
        calls = self.calls.setdefault(key, deque(maxlen=max(n for n, _ in self.limits[kind])))
        async with self.locks.setdefault(key, asyncio.Lock()):
            while (wait := wait_needed(calls, self.limits[kind], self.clock())) > 0:
                await asyncio.sleep(wait)
            calls.append(self.clock())


LIMITER = RateLimiter()   # one per process: every session of a client code shares its limits
