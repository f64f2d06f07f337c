"""Order lanes: the executor places the orders of different broker accounts at the same time,
and up to `in_flight` orders of one account at once (a call the broker holds, or that waits out
its timeout, holds only its own intent), exits first. A position's own orders keep their order
and never run together: an exit never overtakes the entry it closes. The brokers' rate limits
are the adapters' (connectors/<broker>/ratelimit.py)."""
from __future__ import annotations

import asyncio
from typing import Awaitable, Callable, Hashable, Sequence

from schemas.records import OrderIntent


def next_turn(waiting: Sequence[OrderIntent], running: frozenset[str] = frozenset()
              ) -> int | None:
    """Which waiting intent goes next: the first exit whose position has no intent running and
    none waiting ahead of it, else the first intent of that kind; None when every waiting
    intent's position has one running or ahead."""
    ahead, first = set(running), None
    for index, intent in enumerate(waiting):
        if intent.position_id not in ahead:
            if intent.closing:
                return index
            first = index if first is None else first
        ahead.add(intent.position_id)
    return first


class Lane:
    """Up to `in_flight` at a time, in the order next_turn gives."""

    def __init__(self, in_flight: int = 1) -> None:
        self.in_flight = in_flight
        self.waiting: list[tuple[OrderIntent, asyncio.Future]] = []
        self.running: dict[asyncio.Future, str] = {}     # turn -> its position

    def join(self, intent: OrderIntent) -> asyncio.Future:
        """Call in arrival order; the future resolves when the intent's turn comes."""
        turn = asyncio.get_running_loop().create_future()
        self.waiting.append((intent, turn))
        self._start_next()
        return turn

    def leave(self, turn: asyncio.Future) -> None:
        """The intent is done, or was cancelled before or during its turn."""
        if self.running.pop(turn, None) is None:
            self.waiting = [(i, t) for i, t in self.waiting if t is not turn]
        self._start_next()

    def _start_next(self) -> None:
        self.waiting = [(i, t) for i, t in self.waiting if not t.cancelled()]
        while len(self.running) < self.in_flight and self.waiting:
            index = next_turn([intent for intent, _ in self.waiting],
                              frozenset(self.running.values()))
            if index is None:
                return
            intent, turn = self.waiting.pop(index)
            self.running[turn] = intent.position_id
            turn.set_result(None)


class OrderLanes:
    """Runs work(intent) in the intent's lane, each in its own task (created in arrival order,
    so it carries the stream's current event). At most `limit` intents wait or run at once:
    submit() waits for a free place, which holds the stream back rather than buffering without
    bound."""

    def __init__(self, limit: int, in_flight: int = 1) -> None:
        self.in_flight = in_flight
        self.lanes: dict[Hashable, Lane] = {}
        self.places = asyncio.Semaphore(limit)
        self.tasks: set[asyncio.Task] = set()

    async def submit(self, lane: Hashable, intent: OrderIntent,
                     work: Callable[[], Awaitable[None]]) -> None:
        await self.places.acquire()
        line = self.lanes.setdefault(lane, Lane(self.in_flight))
        turn = line.join(intent)
        task = asyncio.create_task(self._run(line, turn, work),
                                   name=f"order:{intent.client_order_id}")
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _run(self, line: Lane, turn: asyncio.Future, work) -> None:
        try:
            await turn
            await work()
        finally:
            line.leave(turn)
            self.places.release()
