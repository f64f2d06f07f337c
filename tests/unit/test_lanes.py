"""Order lanes: accounts side by side, one account's orders one at a time with exits first, and a
position's own orders never reordered."""
import asyncio
import functools

import pytest

from agents.lanes import Lane, OrderLanes, next_turn
from schemas.records import OrderIntent


def intent(position: str, purpose: str, n: int = 0) -> OrderIntent:
    return OrderIntent(client_order_id=f"{position}{purpose[0]}{n}", position_id=position,
                       link_id="l", purpose=purpose, side="BUY", quantity=1, token="1",
                       symbol="X", exchange="NSE", paper=False, created_at_ms=0,
                       account_id="a")


@pytest.mark.parametrize("waiting, chosen", [
    ([], None),
    ([("p", "ENTRY")], 0),
    ([("p", "ENTRY"), ("q", "ENTRY")], 0),
    ([("p", "ENTRY"), ("q", "EXIT")], 1),                  # an exit goes before another's entry
    ([("p", "ENTRY"), ("p", "EXIT")], 0),                  # never before its own entry
    ([("p", "ENTRY"), ("p", "EXIT"), ("q", "EXIT")], 2),
    ([("q", "EXIT"), ("p", "ENTRY"), ("p", "EXIT")], 0),   # exits keep their arrival order
])
def test_next_turn(waiting, chosen):
    assert next_turn([intent(p, purpose) for p, purpose in waiting]) == chosen


def test_a_lane_runs_one_at_a_time_exits_first():
    async def scenario():
        lane, ran = Lane(), []
        first = intent("p", "ENTRY")
        waiting = [intent("q", "ENTRY"), intent("r", "ENTRY"), intent("r", "EXIT"),
                   intent("s", "EXIT")]
        turns = [lane.join(first)] + [lane.join(i) for i in waiting]
        assert [t.done() for t in turns] == [True, False, False, False, False]
        for _ in turns:
            [(index, turn)] = [(k, t) for k, t in enumerate(turns) if t.done() and k not in ran]
            ran.append(index)
            lane.leave(turn)
        return ran
    # p's entry was placing; then s's exit, then the entries, r's exit after r's entry
    assert asyncio.run(scenario()) == [0, 4, 1, 2, 3]


def test_a_waiter_cancelled_before_its_turn_leaves_the_lane():
    async def scenario():
        lane = Lane()
        running, gone, next_ = (lane.join(intent(p, "ENTRY")) for p in "pqr")
        gone.cancel()
        lane.leave(gone)
        lane.leave(running)
        return next_.done(), lane.waiting, len(lane.running)
    assert asyncio.run(scenario()) == (True, [], 1)


@pytest.mark.parametrize("running, waiting, chosen", [
    ({"p"}, [("p", "EXIT"), ("q", "ENTRY")], 1),        # p's exit waits for p's entry running
    ({"p"}, [("p", "EXIT")], None),
    ({"p", "q"}, [("p", "EXIT"), ("q", "EXIT"), ("r", "ENTRY"), ("s", "EXIT")], 3),
])
def test_next_turn_skips_positions_with_an_order_running(running, waiting, chosen):
    assert next_turn([intent(p, purpose) for p, purpose in waiting], frozenset(running)) == \
        chosen


def logged(log: list, name: str, gate: asyncio.Event | None = None, done=None):
    """Work that logs its start and end, waiting for `gate` between them."""
    async def run():
        log.append(f"start {name}")
        if gate:
            await gate.wait()
        log.append(f"end {name}")
        if done is not None:
            done.set()
    return run


def test_a_hung_order_holds_only_its_own_position():
    """Two in flight: p's entry hangs; q's exit and r's entry go meanwhile, p's exit waits for
    p's entry."""
    async def scenario():
        lanes, log, hang = OrderLanes(limit=10, in_flight=2), [], asyncio.Event()
        r_done = asyncio.Event()
        work = functools.partial(logged, log)
        await lanes.submit("A", intent("p", "ENTRY"), work("p entry", hang))
        await lanes.submit("A", intent("p", "EXIT"), work("p exit"))
        await lanes.submit("A", intent("q", "EXIT"), work("q exit"))
        await lanes.submit("A", intent("r", "ENTRY"), work("r entry", done=r_done))
        await asyncio.wait_for(r_done.wait(), 5)
        before = list(log)
        hang.set()
        await asyncio.wait_for(asyncio.gather(*lanes.tasks), 5)
        return before, log
    before, log = asyncio.run(scenario())
    assert before == ["start p entry", "start q exit", "end q exit", "start r entry",
                      "end r entry"]
    assert log[-2:] == ["start p exit", "end p exit"]


def test_accounts_run_side_by_side_and_an_account_waits_for_its_own():
    async def scenario():
        lanes, log = OrderLanes(limit=10), []
        release_a = asyncio.Event()

        b1_ended = asyncio.Event()
        await lanes.submit("A", intent("a1", "ENTRY"), logged(log, "a1", release_a))
        await lanes.submit("A", intent("a2", "EXIT"), logged(log, "a2"))
        await lanes.submit("B", intent("b1", "EXIT"), logged(log, "b1", done=b1_ended))
        await asyncio.wait_for(b1_ended.wait(), 5)
        assert "start a2" not in log            # A's second order waits for its first
        release_a.set()
        await asyncio.wait_for(asyncio.gather(*lanes.tasks), 5)
        return log
    assert asyncio.run(scenario()) == ["start a1", "start b1", "end b1", "end a1", "start a2",
                                       "end a2"]


def test_submit_waits_for_a_free_place():
    async def scenario():
        lanes, gate = OrderLanes(limit=1), asyncio.Event()

        async def held():
            await gate.wait()
        await lanes.submit("A", intent("a1", "ENTRY"), held)
        trying = asyncio.Event()

        async def submit_second():
            trying.set()     # runs on into submit() until it waits for a place, or returns
            await lanes.submit("B", intent("b1", "ENTRY"), held)
        second = asyncio.create_task(submit_second())
        await trying.wait()
        blocked = not second.done()
        gate.set()
        await asyncio.wait_for(second, 5)
        await asyncio.wait_for(asyncio.gather(*lanes.tasks), 5)
        return blocked
    assert asyncio.run(scenario())

