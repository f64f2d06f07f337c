"""The worker's reading order on partitions whose offsets have no holes (agents.faust_fixes)."""
import asyncio
from types import SimpleNamespace

import pytest
from faust.types import TP

from agents.faust_fixes import SEEKS_BACK, ContiguousReads, Read, read_verdict


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


def test_records_are_held_back_until_faust_resumes_its_streams(reads, monkeypatch):
    p1 = tp(1)
    flow = SimpleNamespace(active=False)
    c = consumer({p1: 40}, [p1])
    c.app = SimpleNamespace(flow_control=SimpleNamespace(is_active=lambda: flow.active))

    async def fetched(consumer, timeout):
        for offset in (40, 41):
            yield p1, SimpleNamespace(offset=offset)
    monkeypatch.setattr(reads, "getmany", fetched)
    monkeypatch.setattr(reads, "resume_flow", lambda consumer: None)

    async def run():
        await reads.assigned(c, {p1})
        monkeypatch.setattr(reads, "perform_seek", lambda consumer: nothing())
        await reads.seek_to_committed(c)
        held = [m.offset async for _, m in reads.getmany_in_order(c, 1.0)]
        reads.flow_resumed(c)                    # its consumer first, streams still stopped
        assert c._thread.sought == {}
        flow.active = True                       # then its streams and the consumer again:
        await reads.flow_resumed(c)              # p1 is read again from 40
        return held, [m.offset async for _, m in reads.getmany_in_order(c, 1.0)]
    held, read = asyncio.run(run())
    assert held == [] and c._thread.sought == {1: 40} and read == [40, 41]


def test_a_partition_held_back_with_no_offset_known_is_read_from_its_beginning(reads, monkeypatch):
    p3 = tp(3)
    c = consumer({}, [p3])
    c.app = SimpleNamespace(flow_control=SimpleNamespace(is_active=lambda: True))
    monkeypatch.setattr(reads, "resume_flow", lambda consumer: None)

    async def run():
        await reads.assigned(c, {p3})
        reads.held.add(p3)                      # held back, and nothing was ever committed
        await reads.flow_resumed(c)
    asyncio.run(run())
    assert c._thread.from_beginning == [3] and reads.held == set()
