"""The worker's reading order on partitions whose offsets have no holes, and a table recovery
that receives nothing, the JSON codec (agents.faust_fixes)."""
import asyncio
import json
from types import SimpleNamespace

import pytest
from faust.types import TP

from agents.faust_fixes import (SEEKS_BACK, ContiguousReads, Read, StaleAcks, StuckRecovery,
                                read_verdict)


def test_the_next_record_is_taken():
    assert read_verdict(41, 41, 0) is Read.TAKE


def test_nothing_known_yet_takes_what_comes():
    assert read_verdict(None, 900, 0) is Read.TAKE


def test_a_record_read_before_goes_to_faust_which_drops_it():
    assert read_verdict(41, 37, 0) is Read.TAKE


def test_a_jump_past_the_next_record_reads_from_it_again():
    assert read_verdict(41, 57, 0) is Read.AGAIN
    assert read_verdict(41, 42, SEEKS_BACK - 1) is Read.AGAIN


def test_a_jump_after_every_seek_back_means_the_records_are_gone():
    assert read_verdict(41, 57, SEEKS_BACK) is Read.LOST


# -- the seek after an assignment (ContiguousReads), on a consumer that records its seeks ---------
TICKS = "ns.ticks"


def tp(partition: int) -> TP:
    return TP(TICKS, partition)


class RecordingThread:
    def __init__(self):
        self.sought, self.from_beginning = {}, []

    async def seek_wait(self, offsets):
        self.sought.update({t.partition: offset for t, offset in offsets.items()})

    async def seek_to_beginning(self, *partitions):
        self.from_beginning += [t.partition for t in partitions]


async def nothing() -> None:
    """Faust's part of a call, which these tests leave out."""


@pytest.fixture
def reads(monkeypatch):
    monkeypatch.setattr(ContiguousReads, "topics", {TICKS})
    monkeypatch.setattr(ContiguousReads, "next_offset", {})
    monkeypatch.setattr(ContiguousReads, "on_partitions_assigned",
                        lambda consumer, assigned, generation_id: nothing())
    return ContiguousReads


def consumer(committed: dict, assigned: list):
    return SimpleNamespace(_committed_offset=committed, _thread=RecordingThread(),
                           assignment=lambda: assigned)


def test_after_the_seek_each_partition_reads_from_its_committed_offset(reads, monkeypatch):
    p1, p2 = tp(1), tp(2)
    c = consumer({p1: 40}, [p1, p2])

    async def run():
        await reads.assigned(c, {p1, p2})
        reads.held.add(p1)                       # a record of p1 came before the seek
        monkeypatch.setattr(reads, "perform_seek", lambda consumer: nothing())
        await reads.seek_to_committed(c)
    asyncio.run(run())
    assert reads.unsought == set() and reads.next_offset == {p1: 40}
    assert c._thread.sought == {1: 40} and c._thread.from_beginning == [2]


def test_a_seek_that_ends_after_a_newer_assignment_leaves_it_alone(reads, monkeypatch):
    old, new = tp(1), tp(4)
    c = consumer({old: 40}, [old])

    async def run():
        await reads.assigned(c, {old})

        async def slow_seek(consumer):           # Faust's seek while its flow is stopped
            await reads.assigned(c, {old, new})  # ... outlasts the next assignment
            c.assignment = lambda: [old, new]
        monkeypatch.setattr(reads, "perform_seek", slow_seek)
        await reads.seek_to_committed(c)
    asyncio.run(run())
    assert reads.unsought == {old, new}          # held back until their own seek
    assert reads.next_offset == {} and c._thread.from_beginning == []


def app_of(c, *, rebalancing: bool, active: bool):
    """The consumer's app, as far as the reading order looks at it."""
    c.app = SimpleNamespace(rebalancing=rebalancing, consumer=c, consumer_generation_id=7,
                            flow_control=SimpleNamespace(is_active=lambda: active))
    return c.app


def test_records_are_held_back_until_the_rebalance_has_ended(reads, monkeypatch):
    """Faust's streams run from the recovery's start, but their resume after the seek empties
    their queues: what came between was dropped."""
    p1 = tp(1)
    c = consumer({p1: 40}, [p1])
    app = app_of(c, rebalancing=True, active=True)

    async def fetched(consumer, timeout):
        for offset in (40, 41):
            yield p1, SimpleNamespace(offset=offset)
    monkeypatch.setattr(reads, "getmany", fetched)
    monkeypatch.setattr(reads, "on_rebalance_end", lambda app: setattr(app, "rebalancing", False))

    async def run():
        await reads.assigned(c, {p1})
        monkeypatch.setattr(reads, "perform_seek", lambda consumer: nothing())
        await reads.seek_to_committed(c)
        held = [m.offset async for _, m in reads.getmany_in_order(c, 1.0)]
        assert c._thread.sought == {}
        await reads.rebalance_ended(app)          # p1 is read again from 40
        return held, [m.offset async for _, m in reads.getmany_in_order(c, 1.0)]
    held, read = asyncio.run(run())
    assert held == [] and c._thread.sought == {1: 40} and read == [40, 41]


def test_records_are_held_back_while_the_streams_are_stopped(reads, monkeypatch):
    p1 = tp(1)
    c = consumer({p1: 40}, [p1])
    app_of(c, rebalancing=False, active=False)

    async def fetched(consumer, timeout):
        yield p1, SimpleNamespace(offset=40)
    monkeypatch.setattr(reads, "getmany", fetched)

    async def run():
        await reads.assigned(c, {p1})
        monkeypatch.setattr(reads, "perform_seek", lambda consumer: nothing())
        await reads.seek_to_committed(c)
        return [m.offset async for _, m in reads.getmany_in_order(c, 1.0)]
    assert asyncio.run(run()) == [] and reads.held == {p1}


def test_a_partition_held_back_with_no_offset_known_is_read_from_its_beginning(reads, monkeypatch):
    p3 = tp(3)
    c = consumer({}, [p3])
    app = app_of(c, rebalancing=True, active=True)
    monkeypatch.setattr(reads, "on_rebalance_end", lambda app: None)

    async def run():
        await reads.assigned(c, {p3})
        reads.held.add(p3)                      # held back, and nothing was ever committed
        await reads.rebalance_ended(app)
    asyncio.run(run())
    assert c._thread.from_beginning == [3] and reads.held == set()


# -- acks (StaleAcks) ------------------------------------------------------------------------------
@pytest.mark.parametrize("generation, active, counted", [(7, True, True), (6, True, False),
                                                         (7, False, False)])
def test_a_record_counts_for_the_commit_only_when_processed_by_running_streams(
        monkeypatch, generation, active, counted):
    """Skipped by Faust's streams (fetched before the rebalance, or met while it has them
    stopped), a record is let go without its offset: the next owner reads it again."""
    c = SimpleNamespace(_unacked_messages=set())
    app_of(c, rebalancing=not active, active=active)
    message = Message(generation)
    c._unacked_messages.add(message)
    monkeypatch.setattr(StaleAcks, "ack", lambda consumer, m: True)   # Faust's own ack
    assert StaleAcks.ack_current(c, message) is counted
    if not counted:
        assert message.acked and message not in c._unacked_messages


class Message:
    def __init__(self, generation_id: int):
        self.generation_id, self.acked = generation_id, False


# -- a table recovery that receives nothing (StuckRecovery) ------------------------------------
def test_a_recovery_that_receives_nothing_for_a_while_is_sought_back_to_where_it_stands(
        monkeypatch):
    monkeypatch.setattr(StuckRecovery, "verify", lambda recovery, now, stats: nothing())
    changelog = [TP("ns-positions-changelog", n) for n in range(3)]
    sought = {}

    async def seek_wait(offsets):
        sought.update({t.partition: offset for t, offset in offsets.items()})
    recovery = SimpleNamespace(
        _recovery_started_at=100.0, in_recovery=True,
        _active_events_received_at={changelog[1]: 108.0},     # partition 1: an event at 108
        active_offsets={changelog[0]: 41, changelog[1]: 7, changelog[2]: -1},
        active_highwaters={changelog[0]: 90, changelog[1]: 9, changelog[2]: 5},
        app=SimpleNamespace(consumer=SimpleNamespace(seek_wait=seek_wait,
                                                     _paused_partitions=set())))
    stats = dict.fromkeys(changelog)
    asyncio.run(StuckRecovery.verify_then_unstick(recovery, 105.0, stats))
    assert sought == {}                                     # 5 s: not yet
    asyncio.run(StuckRecovery.verify_then_unstick(recovery, 112.0, stats))
    assert sought == {0: 41, 2: 0}        # nothing since the start; partition 1 had one at 108
    asyncio.run(StuckRecovery.verify_then_unstick(recovery, 115.0, stats))
    assert sought == {0: 41, 2: 0}        # sought back at 112: waited on again from there


def test_the_json_codec_encodes_fast_and_keeps_big_integers_exact():
    from decimal import Decimal

    from agents import positions
    from agents.faust_fixes import Json
    pos = positions.open_position(
        alert_id="a1", link_id="l1", token="3045", symbol="SBIN-EQ", exchange="NSE",
        side="LONG", quantity=2**40, paper=True, sl_pct="1", target_pct="2", trail_pct=None,
        trail_activation_pct=None, slippage_bps=0, reference_price_paise=None, partition=3,
        now_ms=1)
    assert json.loads(Json.dumps(pos)) == pos.to_dict()      # a table's value: the position
    pos = pos.to_dict()
    assert json.loads(Json.dumps(pos)) == pos
    huge = {"quantity": 2**70, "price": Decimal("1.5")}   # orjson refuses it: stdlib's turn
    assert Json.loads(Json.dumps(huge)) == {"quantity": 2**70, "price": "1.5"}
    # decoded by the standard library: an integer beyond 64 bits stays an integer (orjson
    # would make it a float, which a range check on integers lets through)
    assert Json.loads(b'{"quantity": 123456789012345678901234567890}') == \
        {"quantity": 123456789012345678901234567890}
