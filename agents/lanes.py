"""Order lanes: the executor places the orders of different broker accounts at the same time
and one account's orders one at a time, exits first, so an exit never waits behind another
account's slow order nor behind its own account's entries. A position's own orders keep their
order: an exit never overtakes the entry it closes."""
from __future__ import annotations

import asyncio
from typing import Awaitable, Callable, Hashable, Sequence

from schemas.records import OrderIntent


def next_turn(waiting: Sequence[OrderIntent]) -> int:
    """Which waiting intent goes next: the first exit with no earlier intent of its own
    position still waiting, else the first in arrival order."""
    ahead: set[str] = set()
    for index, intent in enumerate(waiting):
        if intent.purpose == "EXIT" and intent.position_id not in ahead:
            return index
        ahead.add(intent.position_id)
    return 0


class Lane:
    """One at a time, in the order next_turn gives."""

    def __init__(self) -> None:
        self.waiting: list[tuple[OrderIntent, asyncio.Future]] = []
        self.busy = False

    def join(self, intent: OrderIntent) -> asyncio.Future:
        """Call in arrival order; the future resolves when the intent's turn comes."""
        turn = asyncio.get_running_loop().create_future()
        self.waiting.append((intent, turn))
        self._start_next()
        return turn

    def leave(self, turn: asyncio.Future) -> None:
        """The intent is done, or was cancelled before or during its turn."""
        if turn.done() and not turn.cancelled():
            self.busy = False
        else:
            self.waiting = [(i, t) for i, t in self.waiting if t is not turn]
        self._start_next()

    def _start_next(self) -> None:
        while not self.busy and self.waiting:
            _, turn = self.waiting.pop(next_turn([intent for intent, _ in self.waiting]))
            if not turn.cancelled():    # a cancelled waiter leaves on its next step
                self.busy = True
                turn.set_result(None)


class OrderLanes:
    """Runs work(intent) in the intent's lane, each in its own task (created in arrival order,
    so it carries the stream's current event). At most `limit` intents wait or run at once:
    submit() waits for a free place, which holds the stream back rather than buffering without
    bound."""

    def __init__(self, limit: int) -> None:
        self.lanes: dict[Hashable, Lane] = {}
        self.places = asyncio.Semaphore(limit)
        self.tasks: set[asyncio.Task] = set()

    async def submit(self, lane: Hashable, intent: OrderIntent,
                     work: Callable[[], Awaitable[None]]) -> None:
        await self.places.acquire()
        line = self.lanes.setdefault(lane, Lane())
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
