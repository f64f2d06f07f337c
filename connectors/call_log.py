"""A broker's rate limits held in SQL: every process on the database counts every other's calls
of the same client (a quote session in one worker, the orders of the account's owner in
another, `pinewire reconcile`), and a restarted process counts the calls made before it. An
hourly or daily limit the broker counts is then never exceeded because a process restarted.

A call is recorded first and counted after: each process sees every call committed before its
count, so two processes racing for the last place may both wait, but never both call."""
from __future__ import annotations

import asyncio
import time
from typing import Callable

from sqlalchemy import Engine, and_, delete, insert, select

from connectors.ratelimit import Window, wait_needed
from schemas import sql

PRUNE_EVERY_S = 60.0


class CallsInSql:
    """The calls of one broker's clients, in the broker_calls table."""

    def __init__(self, engine: Callable[[], Engine], broker: str, keep_s: float) -> None:
        """keep_s: the longest window of any kind (older rows are pruned)."""
        self.engine, self.broker, self.keep_s = engine, broker, keep_s
        self.pruned_at = 0.0

    async def take(self, client: str, kind: str, limits: Window, now: float) -> float:
        return await asyncio.to_thread(self._take, client, kind, limits, now)

    def _take(self, client: str, kind: str, limits: Window, now: float) -> float:
        t = sql.broker_calls
        key = and_(t.c.broker == self.broker, t.c.client == client, t.c.kind == kind)
        longest = max(window for _, window in limits)
        with self.engine().begin() as conn:
            mine = conn.execute(insert(t).values(broker=self.broker, client=client, kind=kind,
                                                 at_ms=int(now * 1000))).inserted_primary_key[0]
        with self.engine().begin() as conn:
            earlier = conn.execute(
                select(t.c.at_ms).where(key, t.c.id != mine,
                                        t.c.at_ms > int((now - longest - 1) * 1000))
                .order_by(t.c.at_ms)).scalars().all()
            wait = wait_needed((ms / 1000 for ms in earlier), limits, now)
            if wait > 0:
                conn.execute(delete(t).where(t.c.id == mine))
            if time.monotonic() - self.pruned_at > PRUNE_EVERY_S:
                self.pruned_at = time.monotonic()
                conn.execute(delete(t).where(t.c.broker == self.broker,
                                             t.c.at_ms < int((now - self.keep_s - 1) * 1000)))
        return wait
