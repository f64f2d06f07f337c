"""Where Faust's consumer and producer fall short of what the pipeline needs, corrected before
the app is built (`apply`). Each fault was measured or found by a test, named in its class.
Written against faust-streaming 0.15."""
from __future__ import annotations

import asyncio
import logging

from faust.transport import producer as faust_producer
from faust.transport.drivers import aiokafka as faust_aiokafka

from pinewire import kafka
from pinewire.settings import Settings

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


def apply(settings: Settings) -> None:
    FetchWait.wait_ms = settings.fetch_wait_ms
    ExactHighwaters.bootstrap = settings.bootstrap
    consumer = faust_aiokafka.Consumer
    consumer._new_consumer_thread = \
        lambda c: FetchWait(c, loop=c.loop, beacon=c.beacon)
    consumer.highwaters = lambda c, *partitions: ExactHighwaters.exact(c, *partitions)
    faust_producer.ProducerBuffer = ProducerBuffer   # what Faust's Producer builds its buffer of
