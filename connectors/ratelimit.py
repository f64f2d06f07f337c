"""Sliding-window rate limits per client, as brokers count them: no more than N calls in any
window of W seconds. Each broker's own limits are in connectors/<broker>/ratelimit.py.

A leaky bucket (aiolimiter) lets a full burst through and then one call per 1/rate: the burst
and the next call land in the same broker window, and the broker refuses it. Counting calls in
the window itself is what keeps every call accepted."""
from __future__ import annotations

import asyncio
import random
import time
from collections import deque
from typing import Iterable, Protocol

# a little under the broker's own count, so clock skew between us and it never costs a refusal
MARGIN_S = 0.05

Window = tuple[tuple[int, float], ...]               # ((calls, window s), ...)
Limits = dict[str, Window]                           # kind of call -> its windows


def wait_needed(calls: Iterable[float], limits: Window, now: float) -> float:
    """Seconds until one more call fits every window (0 when it fits now). `calls`: the times
    of earlier calls, oldest first."""
    calls = list(calls)
    wait = 0.0
    for limit, window in limits:
        recent = [t for t in calls if now - t < window + MARGIN_S]
        if len(recent) >= limit:
            wait = max(wait, recent[-limit] + window + MARGIN_S - now)
    return wait


class Calls(Protocol):
    """Where a limiter counts calls. take() records a call at `now` when it fits every window
    and answers 0, or answers the seconds to wait and records nothing."""
    async def take(self, client: str, kind: str, limits: Window, now: float) -> float: ...


class CallsInMemory:
    """This process's calls only (tests, and processes without the database)."""

    def __init__(self) -> None:
        self.calls: dict[tuple[str, str], deque] = {}

    async def take(self, client: str, kind: str, limits: Window, now: float) -> float:
        calls = self.calls.setdefault((client, kind), deque(maxlen=max(n for n, _ in limits)))
        wait = wait_needed(calls, limits, now)
        if wait == 0:
            calls.append(now)
        return wait


class RateLimiter:
    """acquire() returns once the call fits the broker's windows. Calls of one client and kind
    wait their turn in this process; `calls` says which other processes' calls count too
    (connectors.call_log: every process on the database, and the calls before a restart)."""

    def __init__(self, limits: Limits, clock=time.time, calls: Calls | None = None):
        self.limits, self.clock = limits, clock
        self.calls: Calls = calls or CallsInMemory()
        self.locks: dict[tuple[str, str], asyncio.Lock] = {}

    async def acquire(self, client: str, kind: str) -> None:
        async with self.locks.setdefault((client, kind), asyncio.Lock()):
            while (wait := await self.calls.take(client, kind, self.limits[kind],
                                                 self.clock())) > 0:
                # another process may be waiting for the same moment: not in step with it
                await asyncio.sleep(wait + random.uniform(0, 0.02))
