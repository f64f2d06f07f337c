"""The Faust app: topics from the registry, changelog-backed tables, and the worker's memory.

All pipeline topics have the same partition count and records about a position go to its
instrument's partition, so a worker owns a position, its alerts, fills and ticks together.
"""
from __future__ import annotations

import asyncio
import inspect
import logging

import faust
from faust.transport import producer as faust_producer
from faust.transport.drivers import aiokafka as faust_aiokafka

from agents import metrics
from pinewire import kafka
from pinewire.settings import settings
from schemas import records
from schemas import topics as registry

S = settings()
log = logging.getLogger(__name__)


class _ConsumerThread(faust_aiokafka.AIOKafkaConsumerThread):
    """Faust fixes its consumer's fetch wait at 1.5 s. The embedded broker answers a waiting
    fetch late when a record arrives meanwhile (measured: seen after ~140 ms with a 500 ms
    wait, 3 ms with 50 ms), and every hop of the pipeline paid it."""

    def _create_worker_consumer(self, transport):
        consumer = super()._create_worker_consumer(transport)
        consumer._fetch_max_wait_ms = S.fetch_wait_ms   # read when the consumer starts
        log.info("consumer fetch wait %d ms", S.fetch_wait_ms)
        return consumer


faust_aiokafka.Consumer._new_consumer_thread = \
    lambda consumer: _ConsumerThread(consumer, loop=consumer.loop, beacon=consumer.beacon)


class _ContiguousReads:
    """After a rebalance Faust's fetcher can hand over records from where it was before, past
    the committed offset it has just seeked to; Faust takes the jump for a compacted topic's
    hole, marks the records in between as done and commits past them: they are never read
    (found by the chaos test: ticks of a partition skipped after a worker was killed). The
    pipeline's topics are not compacted, so a jump is never a hole: the records before it
    are read again, in order, before anything after it."""

    topics = {registry.topic_name(S.namespace, spec) for spec in registry.ALL
              if not spec.compacted}
    expected: dict = {}          # assigned topic partition -> the offset to read next
    reread: dict = {}            # topic partition -> the offset it was sent back to
    getmany = faust_aiokafka.Consumer.getmany
    perform_seek = faust_aiokafka.Consumer.perform_seek

    @classmethod
    async def getmany_in_order(cls, consumer, timeout: float):
        rereading = set()
        async for tp, message in cls.getmany(consumer, timeout):
            if tp.topic in cls.topics:
                if tp in rereading or tp not in cls.expected:
                    continue        # fetched before this assignment's seek: read again after it
                expected = cls.expected[tp]
                if expected is not None and message.offset > expected:
                    if cls.reread.get(tp) != expected:     # once: the records may be gone
                        log.warning("%s: offset %d fetched where %d is next: reading from %d "
                                    "again", tp, message.offset, expected, expected)
                        cls.reread[tp] = expected
                        await consumer.seek(tp, expected)
                        rereading.add(tp)
                        continue
                    log.error("%s: records %d to %d are not in the topic (retention?)", tp,
                              expected, message.offset - 1)
                cls.expected[tp] = max(expected or 0, message.offset + 1)
            yield tp, message

    @classmethod
    async def seek_to_committed(cls, consumer) -> None:
        await cls.perform_seek(consumer)
        # None: no offset committed yet, reading starts where the reset policy says
        cls.expected = {tp: consumer._committed_offset.get(tp) for tp in consumer.assignment()
                        if tp.topic in cls.topics}


_broker_highwaters = faust_aiokafka.Consumer.highwaters


async def _exact_highwaters(consumer, *partitions):
    """Where a table's changelog ends, for its recovery: the embedded broker counts a batch
    as one record, and a worker getting a partition back took its own table for ahead of the
    changelog (Faust's ConsistencyError) or read too little of it."""
    return await kafka.past_last_record(S.bootstrap,
                                        await _broker_highwaters(consumer, *partitions))


faust_aiokafka.Consumer.highwaters = _exact_highwaters
faust_aiokafka.Consumer.getmany = \
    lambda consumer, timeout: _ContiguousReads.getmany_in_order(consumer, timeout)
faust_aiokafka.Consumer.perform_seek = \
    lambda consumer: _ContiguousReads.seek_to_committed(consumer)


class _ProducerBuffer(faust_producer.ProducerBuffer):
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


faust_producer.ProducerBuffer = _ProducerBuffer    # what Faust's Producer builds its buffer of

app = faust.App(
    S.namespace,
    broker=f"kafka://{S.bootstrap}",
    store="memory://",
    datadir=str(S.data_dir / "worker"),
    topic_partitions=S.partitions,
    topic_replication_factor=S.replication_factor,     # the tables' changelogs
    table_standby_replicas=0,
    broker_session_timeout=S.session_timeout_s,
    broker_rebalance_timeout=S.session_timeout_s,
    broker_heartbeat_interval=max(0.5, S.session_timeout_s / 6),
    broker_commit_interval=1.0,
    consumer_group_instance_id=S.worker_name,
    consumer_auto_offset_reset="earliest",
    producer_acks=-1,
    # a position is ~1 KB in its changelog: a 16 KB batch (the default) holds 15 of them
    producer_max_batch_size=1 << 20,
    web_enabled=False,
)


def _topic(spec: registry.TopicSpec, value_type):
    return app.topic(registry.topic_name(S.namespace, spec), key_type=str, value_type=value_type,
                     partitions=S.partitions, internal=False)


alerts_topic = _topic(registry.ALERTS, records.Alert)
orders_topic = _topic(registry.ORDERS, records.OrderIntent)
fills_topic = _topic(registry.FILLS, records.Fill)
events_topic = _topic(registry.EVENTS, records.Event)
commands_topic = _topic(registry.COMMANDS, records.Command)
ticks_topic = _topic(registry.TICKS, records.Ticks)
subscriptions_topic = _topic(registry.SUBSCRIPTIONS, records.Subscription)
workers_topic = _topic(registry.WORKERS, records.WorkerHeartbeat)
dead_letters_topic = _topic(registry.DEAD_LETTERS, records.DeadLetter)
exposure_topic = _topic(registry.EXPOSURE, records.Exposure)

# position id -> Position.to_dict()
positions = app.Table("positions", default=None, partitions=S.partitions)
# "link|token" -> id of the live position on that slot
slots = app.Table("slots", default=None, partitions=S.partitions)
# dedupe key -> {"alert_id", "at_ms"}
dedupe = app.Table("dedupe", default=None, partitions=S.partitions)
# client order id -> the fills the broker gave it (the executor's idempotency)
executions = app.Table("executions", default=None, partitions=S.partitions)
# instrument token -> paper orders resting until its next tick
paper_book = app.Table("paper_book", default=None, partitions=S.partitions)
# "<sweep kind>:<partition>" -> the IST trading day last swept (EOD, MIS_SQUAREOFF)
sweeps = app.Table("sweeps", default=None, partitions=S.partitions)



async def consume(stream, handler, on_error=None, *, events: bool = False) -> None:
    """Each record to handler (the whole event with events=True: its offset matters). One
    that fails is logged, handed to on_error and written to the dead-letter topic with its
    error; the stream goes on."""
    async for event in stream.events():
        await handle(event, handler, on_error, events=events)


async def handle(event, handler, on_error=None, *, events: bool = False) -> None:
    """One record of consume()."""
    record = event if events else event.value
    try:
        result = handler(record)
        if inspect.isawaitable(result):
            await result
    except Exception as exc:  # noqa: BLE001
        name = getattr(handler, "__name__", str(handler))
        log.exception("%s failed on %r", name, event.value)
        if on_error is not None:
            await on_error(record, exc)
        await dead_letter(name, event, exc)


async def dead_letter(agent: str, event, exc: Exception) -> None:
    metrics.DEAD_LETTERS.labels(agent).inc()
    message, value = event.message, event.value
    await dead_letters_topic.send(key=agent, value=records.DeadLetter.of(
        agent, message.topic, message.partition, message.offset,
        str(event.key) if event.key is not None else None,
        value.asdict() if hasattr(value, "asdict") else None, exc))
