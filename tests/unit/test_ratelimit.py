"""The rate limiter's turns in one process: an exit's call (URGENT set in its task) goes
before entries' calls that waited longer (after the one holding the turn), and a caller cancelled while waiting (or just as
its turn came) never blocks the ones behind it."""
import asyncio

from connectors.ratelimit import URGENT, RateLimiter

LIMITS = {"order": ((1, 0.2),)}          # one call in any 0.2 s
KEY = ("A1", "order")


async def _until_waiting(limiter: RateLimiter, count: int) -> None:
    """Until `count` callers wait for the turn (one more holds it)."""
    async def waiting():
        while len([t for *_, t in limiter.waiting.get(KEY, []) if not t.done()]) < count:
            await asyncio.sleep(0.001)
    await asyncio.wait_for(waiting(), 5)


def test_an_exits_call_goes_before_entries_that_waited_longer():
    async def run():
        limiter, order = RateLimiter(LIMITS), []

        async def call(name: str, urgent: bool):
            URGENT.set(urgent)
            await limiter.acquire("A1", "order")
            order.append(name)
        first = asyncio.create_task(call("entry-1", False))
        await asyncio.wait_for(first, 5)          # entry-1 has called
        # entry-2 holds the turn, waiting for the window; entry-3 waits for the turn
        waiting = [asyncio.create_task(call("entry-2", False)),
                   asyncio.create_task(call("entry-3", False))]
        await _until_waiting(limiter, 1)
        waiting.append(asyncio.create_task(call("exit", True)))
        await asyncio.wait_for(asyncio.gather(first, *waiting), 5)
        return order
    assert asyncio.run(run()) == ["entry-1", "entry-2", "exit", "entry-3"]


def test_a_caller_cancelled_while_waiting_does_not_block_the_next():
    async def run():
        limiter, done = RateLimiter(LIMITS), []

        async def call(name: str):
            await limiter.acquire("A1", "order")
            done.append(name)
        await call("first")                       # its call fills the window a while
        held = asyncio.create_task(call("held"))  # holds the turn, waiting for the window
        gone, last = asyncio.create_task(call("gone")), asyncio.create_task(call("last"))
        await _until_waiting(limiter, 2)
        gone.cancel()
        await asyncio.wait_for(asyncio.gather(held, last), 5)
        return done
    assert asyncio.run(run()) == ["first", "held", "last"]
