"""Sliding-window rate limits per client, as brokers count them: no more than N calls in any
window of W seconds. Each broker's own limits are in connectors/<broker>/ratelimit.py.

A leaky bucket (aiolimiter) lets a full burst through and then one call per 1/rate: the burst
and the next call land in the same broker window, and the broker refuses it. Counting calls in
the window itself is what keeps every call accepted."""
from __future__ import annotations

import asyncio
import time
from collections import deque

# a little under the broker's own count, so clock skew between us and it never costs a refusal
MARGIN_S = 0.05

Limits = dict[str, tuple[tuple[int, float], ...]]   # kind of call -> ((calls, window s), ...)


def wait_needed(calls: deque, limits: tuple, now: float) -> float:
    """Seconds until one more call fits every window (0 when it fits now)."""
    wait = 0.0
    for limit, window in limits:
        recent = [t for t in calls if now - t < window + MARGIN_S]
        if len(recent) >= limit:
            wait = max(wait, recent[-limit] + window + MARGIN_S - now)
    return wait


class RateLimiter:
    def __init__(self, limits: Limits, clock=time.monotonic):
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
