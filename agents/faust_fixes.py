"""Where Faust's consumer and producer fall short of what the pipeline needs, corrected before
the app is built (`apply`). Each fault was measured or found by a test, named in its class.
Written against faust-streaming 0.15."""
from __future__ import annotations

import asyncio
import enum
import json
import logging

import faust
import orjson
from aiokafka import TopicPartition
from faust.tables import recovery as faust_recovery
from faust.transport import producer as faust_producer
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.utils import json as faust_json

from connectors import kafka
from schemas import topics as registry
from schemas.settings import Settings

log = logging.getLogger(__name__)


class FetchWait(faust_aiokafka.AIOKafkaConsumerThread):
    """Faust fixes its consumer's fetch wait at 1.5 s. The embedded broker answers a waiting
    fetch late when a record arrives meanwhile (measured: seen after ~140 ms with a 500 ms
    wait, 3 ms with 50 ms), and every hop of the pipeline paid it."""

    wait_ms = 20

    def _create_worker_consumer(self, transport):
        consumer = super()._create_worker_consumer(transport)
        consumer._fetch_max_wait_ms = self.wait_ms   # read when the consumer starts
        log.info("consumer fetch wait %d ms", self.wait_ms)
        return consumer


class Read(enum.Enum):
    TAKE = "take"            # the next record, or one Faust sorts out itself (read before)
    AGAIN = "again"          # past the next record: seek back to it
    LOST = "lost"            # past it after every seek back: the records are gone


SEEKS_BACK = 3   # to the same offset, before its records are taken for gone


def read_verdict(next_offset: int | None, offset: int, seeks: int) -> Read:
    """What to do with a record of a partition whose offsets have no holes, given the offset
    it reads next (None: not known) and how often it was sought back to that offset."""
    if next_offset is None or offset <= next_offset:
        return Read.TAKE
    return Read.LOST if seeks >= SEEKS_BACK else Read.AGAIN


class ContiguousReads:
    """Each pipeline partition read in offset order from where its assignment starts. Faust
    falls short of it after a rebalance in two ways (found by the chaos test: a killed
    worker's partitions skipped ticks and exits came late):
    - it resumes a newly assigned partition before seeking it to its committed offset, so
      records from wherever the fetcher stood were processed first, and the older ones after
      them were taken for replays;
    - a fetch in flight across the rebalance can hand over records past the committed offset,
      and Faust takes the jump for a compacted topic's hole and commits past the records in
      between.
    The pipeline's topics are neither compacted nor transactional, so their offsets have no
    holes: records of a partition assigned but not yet sought are held back (the seek reads
    them again; without a committed offset, from the partition's beginning), and at a jump the
    partition is sought back to the offset it reads next. Nothing waits on more than the
    assignment's own seek.
    Faust also seeks when records arrive while its flow is stopped (during a revocation); such
    a seek can end after the next assignment began, and its offsets are the old assignment's.
    A seek counts only for the assignment it started in. Before, one that ended after a newer
    assignment began let the new partitions be read with no offset known for them (found by
    the chaos test: a partition taken over was read from wherever the fetcher stood, and the
    ticks it skipped were committed as read).
    Records are also held back until the rebalance has ended: Faust resumes its streams after
    the seek, and resuming empties their queues, also when they were running already (they
    are, since the recovery started). A record handed over between the seek and that resume
    was dropped unseen (found by the chaos test: a tick read between the seek and the
    worker's "ready" never reached the exit monitor, and the ticks after it were applied; and
    by the scale-out test, whose one tick was never acted on). A partition whose records were
    held back then is sought back when the rebalance ends."""

    topics: set[str] = set()     # the pipeline's topics that are not compacted
    assignments = 0              # how many the worker has had
    unsought: set = set()        # topic partitions assigned, not yet sought
    held: set = set()            # ... of which records were held back
    next_offset: dict = {}       # topic partition -> the offset it reads next
    sought: dict = {}            # topic partition -> (offset sought back to, how often)
    getmany = faust_aiokafka.Consumer.getmany
    perform_seek = faust_aiokafka.Consumer.perform_seek
    on_partitions_assigned = faust_aiokafka.Consumer.on_partitions_assigned
    on_rebalance_end = faust.App.on_rebalance_end

    @classmethod
    async def assigned(cls, consumer, assigned, generation_id: int = 0) -> None:
        cls.assignments += 1
        cls.unsought = {tp for tp in assigned if tp.topic in cls.topics}
        cls.held, cls.next_offset = set(), {}
        await cls.on_partitions_assigned(consumer, assigned, generation_id)

    @classmethod
    async def getmany_in_order(cls, consumer, timeout: float):
        sent_back, app = set(), consumer.app
        async for tp, message in cls.getmany(consumer, timeout):
            if tp.topic in cls.topics:
                if tp in sent_back:
                    continue
                if tp in cls.unsought or app.rebalancing or not app.flow_control.is_active():
                    cls.held.add(tp)
                    continue
                expected = cls.next_offset.get(tp)
                to, seeks = cls.sought.get(tp, (None, 0))
                verdict = read_verdict(expected, message.offset, seeks if to == expected else 0)
                if verdict is Read.AGAIN:
                    log.warning("%s: offset %d fetched where %d is next: reading from %d again",
                                tp, message.offset, expected, expected)
                    cls.sought[tp] = (expected, seeks + 1 if to == expected else 1)
                    sent_back.add(tp)
                    await consumer._thread.seek_wait({tp: expected})
                    continue
                if verdict is Read.LOST:
                    log.error("%s: records %d to %d are not in the topic", tp, expected,
                              message.offset - 1)
                cls.next_offset[tp] = max(expected or 0, message.offset + 1)
            yield tp, message

    @classmethod
    async def seek_to_committed(cls, consumer) -> None:
        assignment = cls.assignments
        await cls.perform_seek(consumer)
        if assignment != cls.assignments:
            return            # a newer assignment began meanwhile: its own seek follows
        committed = consumer._committed_offset
        cls.next_offset = {tp: offset for tp, offset in committed.items()
                           if tp.topic in cls.topics and offset is not None}
        held = [tp for tp in cls.held if tp in cls.next_offset]
        cls.unsought, cls.held = set(), set()
        if held:        # read again from the committed offset
            await consumer._thread.seek_wait({tp: cls.next_offset[tp] for tp in held})
        # No offset committed: Faust seeks nothing, and what it fetched and dropped before
        # (records of partitions still paused) was never read again: a worker restarted
        # before its first commit never read those ticks. Read such a partition from its
        # beginning, as the reset policy says.
        never = [tp for tp in consumer.assignment()
                 if tp.topic in cls.topics and tp not in cls.next_offset]
        if never and assignment == cls.assignments:
            await consumer._thread.seek_to_beginning(
                *(TopicPartition(tp.topic, tp.partition) for tp in never))

    @classmethod
    def rebalance_ended(cls, app) -> asyncio.Future | None:
        """Once Faust's streams run again: the partitions of records held back since the seek
        are sought back (the assignment's own seek does it for those held back before it).
        Returns that seek."""
        cls.on_rebalance_end(app)
        if cls.held:
            back, cls.held = cls.held, set()
            return asyncio.ensure_future(cls._seek_back(app.consumer, back, cls.assignments))
        return None

    @classmethod
    async def _seek_back(cls, consumer, partitions: set, assignment: int) -> None:
        """To the offset each reads next (none known: its beginning). Records fetched before
        the seek and handed over after it are past that offset: read_verdict sends them back."""
        known = {tp: cls.next_offset[tp] for tp in partitions if tp in cls.next_offset}
        if known and assignment == cls.assignments:
            await consumer._thread.seek_wait(known)
        unknown = [TopicPartition(tp.topic, tp.partition) for tp in partitions if tp not in known]
        if unknown and assignment == cls.assignments:
            await consumer._thread.seek_to_beginning(*unknown)


class StaleAcks:
    """Faust's streams skip a record fetched before the latest rebalance (its generation is
    not the consumer's), or met while a rebalance has their flow stopped, and ack it all the
    same: its offset joins those to commit though the record was never processed. The
    partition is read again from its committed offset after the rebalance, but a worker killed
    before that had committed past the record, and the next owner never saw it (found tracing
    the chaos test's skipped ticks). Here such a record is let go without its offset (one
    processed while the flow stopped is read again: the pipeline takes replays)."""

    ack = faust_aiokafka.Consumer.ack

    @classmethod
    def ack_current(cls, consumer, message) -> bool:
        generation, app = message.generation_id, consumer.app
        if (generation is not None and generation != app.consumer_generation_id) or \
                not app.flow_control.is_active():
            message.acked = True
            consumer._unacked_messages.discard(message)
            return False
        return cls.ack(consumer, message)


class ExactHighwaters:
    """Where a table's changelog ends, for its recovery: the embedded broker counts a batch as
    one record, so a worker getting a partition back found its own table ahead of the
    changelog (Faust's ConsistencyError: the worker crashed) or read too little of it."""

    bootstrap = ""
    highwaters = faust_aiokafka.Consumer.highwaters

    @classmethod
    async def exact(cls, consumer, *partitions):
        return await kafka.past_last_record(cls.bootstrap,
                                            await cls.highwaters(consumer, *partitions))


class StuckRecovery:
    """A worker taking partitions over recovers their tables from the changelogs before any
    of its agents runs again. Recovery of a changelog partition that received nothing for
    `after_s` while records remain to read is sought back to where it stands, with what the
    consumer showed logged (found by the cold-start test: after a kill -9 the taking-over
    worker's recovery of two changelog partitions received nothing for over two minutes,
    and the killed worker's positions went unwatched). Faust checks recovery every 5 s."""

    after_s = 10.0
    verify = faust_recovery.Recovery._verify_remaining

    @classmethod
    async def verify_then_unstick(cls, recovery, now: float, stats) -> None:
        await cls.verify(recovery, now, stats)
        started = recovery._recovery_started_at
        if started is None or not recovery.in_recovery:
            return
        received = recovery._active_events_received_at
        stuck = [tp for tp in stats if now - received.get(tp, started) >= cls.after_s]
        if not stuck:
            return
        consumer = recovery.app.consumer
        for tp in stuck:
            log.warning("recovery of %s: nothing received for %.0f s; read to %s of %s, %s: "
                        "reading from %s again", tp, now - received.get(tp, started),
                        recovery.active_offsets.get(tp), recovery.active_highwaters.get(tp),
                        cls._fetching(consumer, tp), max(recovery.active_offsets.get(tp, 0), 0))
        received.update({tp: now for tp in stuck})     # sought back: wait again before the next
        await consumer.seek_wait({tp: max(recovery.active_offsets.get(tp, 0), 0)
                                  for tp in stuck})


    @staticmethod
    def _fetching(consumer, tp) -> str:
        """Where the Kafka consumer stands on a partition, in words (what a log reader needs;
        never a reason to fail)."""
        try:
            states = consumer._thread._ensure_consumer()._fetcher._subscriptions
            state = states.subscription.assignment.state_value(
                TopicPartition(tp.topic, tp.partition))
            return (f"fetch position {state and state._position}, paused "
                    f"{state and state.paused} (in Faust {tp in consumer._paused_partitions})")
        except Exception as exc:  # noqa: BLE001 - a description only
            return f"fetch state unknown ({type(exc).__name__})"


class ProducerBuffer(faust_producer.ProducerBuffer):
    """Table writes wait in this buffer until its task hands them to the Kafka producer.
    Before committing offsets Faust flushes it, but its flush gives up when no message was
    handed over within 0.1 s (a busy machine, a slow broker), and takes the message in hand
    for sent: offsets were committed past table writes still in the buffer, and a worker
    killed then lost them (its positions' best prices, found by the chaos test). Here a flush
    returns once every message put before it is with the producer."""

    in_hand = 0

    async def _send_pending(self, fut) -> None:
        self.in_hand += 1
        try:
            await super()._send_pending(fut)
        finally:
            self.in_hand -= 1

    async def flush(self) -> None:
        while self.size or self.in_hand:
            if self.state != "running":
                raise RuntimeError("Cannot flush: Producer not Running")
            self.message_sent.clear()
            try:
                await asyncio.wait_for(self.message_sent.wait(), timeout=0.1)
            except asyncio.TimeoutError:
                continue        # still sending: wait on, never commit past it


class Json:
    """Faust's JSON codec, encoding with orjson (six times faster on a position) and decoding
    with the standard library, whatever Faust chose at import: orjson decodes an integer
    beyond 64 bits as a float, which would let an out-of-range quantity through as a number.
    What orjson cannot encode (an integer beyond 64 bits) the standard library does."""

    @staticmethod
    def dumps(obj, **_ignored) -> bytes:
        if hasattr(obj, "__json__"):   # a table's position (a named tuple: else a JSON list)
            obj = obj.__json__()
        try:
            return orjson.dumps(obj, default=faust_json.on_default,
                                option=orjson.OPT_NON_STR_KEYS | orjson.OPT_UTC_Z)
        except TypeError:
            return json.dumps(obj, cls=faust_json.JSONEncoder, separators=(",", ":")).encode()

    @staticmethod
    def loads(s, **_ignored):
        return json.loads(s)


def apply(settings: Settings) -> None:
    faust_json.dumps, faust_json.loads = Json.dumps, Json.loads   # what Faust's codec calls
    FetchWait.wait_ms = settings.fetch_wait_ms
    ContiguousReads.topics = {registry.topic_name(settings.namespace, spec)
                              for spec in registry.ALL if not spec.compacted}
    ExactHighwaters.bootstrap = settings.bootstrap
    consumer = faust_aiokafka.Consumer
    consumer._new_consumer_thread = \
        lambda c: FetchWait(c, loop=c.loop, beacon=c.beacon)
    consumer.getmany = lambda c, timeout: ContiguousReads.getmany_in_order(c, timeout)
    consumer.perform_seek = lambda c: ContiguousReads.seek_to_committed(c)
    consumer.on_partitions_assigned = lambda c, assigned, generation_id=0: \
        ContiguousReads.assigned(c, assigned, generation_id)
    faust.App.on_rebalance_end = lambda app: ContiguousReads.rebalance_ended(app)
    consumer.ack = lambda c, message: StaleAcks.ack_current(c, message)
    consumer.highwaters = lambda c, *partitions: ExactHighwaters.exact(c, *partitions)
    faust_producer.ProducerBuffer = ProducerBuffer   # what Faust's Producer builds its buffer of
    faust_recovery.Recovery._verify_remaining = \
        lambda recovery, now, stats: StuckRecovery.verify_then_unstick(recovery, now, stats)
