"""The rate limiter's turns in one process: an exit's call (URGENT set in its task) goes
before entries' calls that waited longer (after the one holding the turn), and a caller cancelled while waiting (or just as
its turn came) never blocks the ones behind it."""
import asyncio

from connectors.ratelimit import URGENT, RateLimiter

LIMITS = {"order": ((1, 0.2),)}          # one call in any 0.2 s


def test_an_exits_call_goes_before_entries_that_waited_longer():
    async def run():
        limiter, order = RateLimiter(LIMITS), []

        async def call(name: str, urgent: bool):
            URGENT.set(urgent)
            await limiter.acquire("A1", "order")
            order.append(name)
        first = asyncio.create_task(call("entry-1", False))
        await asyncio.sleep(0.01)       # entry-1 has called; entry-2 holds the turn, waiting
        # for the window, entry-3 waits for the turn
        waiting = [asyncio.create_task(call("entry-2", False)),
                   asyncio.create_task(call("entry-3", False))]
        await asyncio.sleep(0.01)
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
        first = asyncio.create_task(call("first"))
        await asyncio.sleep(0.01)
        gone, last = asyncio.create_task(call("gone")), asyncio.create_task(call("last"))
        await asyncio.sleep(0.01)
        gone.cancel()
        await asyncio.wait_for(asyncio.gather(first, last), 5)
        return done
    assert asyncio.run(run()) == ["first", "last"]
