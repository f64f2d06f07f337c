"""Sliding-window rate limits per client, as brokers count them: no more than N calls in any
window of W seconds. Each broker's own limits are in connectors/<broker>/ratelimit.py.

A leaky bucket (aiolimiter) lets a full burst through and then one call per 1/rate: the burst
and the next call land in the same broker window, and the broker refuses it. Counting calls in
the window itself is what keeps every call accepted."""
from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import random
import time
from collections import deque
from contextvars import ContextVar
from typing import Iterable, Protocol

# a little under the broker's own count, so clock skew between us and it never costs a refusal
MARGIN_S = 0.05

Window = tuple[tuple[int, float], ...]               # ((calls, window s), ...)
# set (in its own task) by whatever places an exit: its calls go before the others waiting
URGENT: ContextVar[bool] = ContextVar("urgent_broker_call", default=False)
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
    wait their turn in this process, urgent ones (URGENT: an exit's) first; `calls` says which
    other processes' calls count too (connectors.call_log: every process on the database, and
    the calls before a restart)."""

    def __init__(self, limits: Limits, clock=time.time, calls: Calls | None = None):
        self.limits, self.clock = limits, clock
        self.calls: Calls = calls or CallsInMemory()
        self.waiting: dict[tuple[str, str], list] = {}   # heap: (0 urgent | 1, arrival, turn)
        self.busy: set[tuple[str, str]] = set()
        self.arrivals = itertools.count()

    async def acquire(self, client: str, kind: str) -> None:
        async with self._turn((client, kind)):
            while (wait := await self.calls.take(client, kind, self.limits[kind],
                                                 self.clock())) > 0:
                # another process may be waiting for the same moment: not in step with it
                await asyncio.sleep(wait + random.uniform(0, 0.02))

    @contextlib.asynccontextmanager
    async def _turn(self, key: tuple[str, str]):
        if key in self.busy:
            turn = asyncio.get_running_loop().create_future()
            heapq.heappush(self.waiting.setdefault(key, []),
                           (0 if URGENT.get() else 1, next(self.arrivals), turn))
            try:
                await turn
            except asyncio.CancelledError:
                if turn.done() and not turn.cancelled():   # given the turn, then cancelled
                    self._pass_on(key)
                raise
        else:
            self.busy.add(key)
        try:
            yield
        finally:
            self._pass_on(key)

    def _pass_on(self, key: tuple[str, str]) -> None:
        waiting = self.waiting.get(key, [])
        while waiting:
            turn = heapq.heappop(waiting)[2]
            if not turn.done():
                turn.set_result(None)
                return
        self.busy.discard(key)
