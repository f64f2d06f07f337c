"""The ledger's own process (`pinewire ledger`): alerts, events, orders and fills into SQL.

It reads in a consumer group apart from the workers', so SQL work never takes CPU from the
agents and several ledger processes may split the partitions. Each partition's records of one
poll (up to 500) are written in one transaction, in a thread, in offset order; the offsets are
committed after the write. A record that cannot be decoded or written goes to the dead-letter
topic with its error; the others are written. The ledger converges whatever order the topics
are read in (ledger.py), and replays write the same rows again. The events it reads also go
to the notifier (Telegram messages, agents/notifier.py); the traders' Telegram commands are
read beside it (`pinewire ledger` runs webapp/telegram_commands.py).
"""
from __future__ import annotations

import asyncio
import json
import logging
import os

from aiokafka import AIOKafkaConsumer

from agents import ledger
from agents.notifier import Notifier
from connectors import kafka
from schemas import records, sql, topics as registry
from schemas.settings import Settings

log = logging.getLogger(__name__)
BATCH = 500
WRITERS = {registry.ALERTS: (records.Alert, ledger.record_alert),
           registry.EVENTS: (records.Event, ledger.record_event),
           registry.ORDERS: (records.OrderIntent, ledger.record_order),
           registry.FILLS: (records.Fill, ledger.record_fill)}
assert set(WRITERS) == set(registry.LEDGER)


class LedgerProcess:
    def __init__(self, settings: Settings, beside=None):
        """beside(engine, settings, outbox): a coroutine run alongside until the ledger stops
        (the traders' Telegram commands, replying through the notifier's outbox)."""
        self.settings, self.beside = settings, beside
        self.engine = sql.engine(settings.sql_url)
        self.writers = {registry.topic_name(settings.namespace, spec): writer
                        for spec, writer in WRITERS.items()}
        self.dead_letters = registry.topic_name(settings.namespace, registry.DEAD_LETTERS)

    async def run(self) -> None:
        consumer = AIOKafkaConsumer(
            *self.writers, bootstrap_servers=self.settings.bootstrap,
            group_id=registry.ledger_group(self.settings.namespace),
            enable_auto_commit=False, auto_offset_reset="earliest", max_poll_records=BATCH,
            fetch_max_wait_ms=self.settings.fetch_wait_ms,
            session_timeout_ms=int(self.settings.session_timeout_s * 1000),
            heartbeat_interval_ms=int(max(0.5, self.settings.session_timeout_s / 6) * 1000))
        self.notifier = Notifier(self.engine, self.settings.secret_key,
                                 self.settings.telegram_api, self.settings.partitions)
        beside = asyncio.get_running_loop().create_task(
            self.beside(self.engine, self.settings, self.notifier.outbox)) \
            if self.beside else None
        async with kafka.producing(self.settings.bootstrap) as producer:
            await consumer.start()
            log.info("ledger following %s as group %s", sorted(self.writers),
                     registry.ledger_group(self.settings.namespace))
            try:
                while True:
                    polled = await consumer.getmany(timeout_ms=1000, max_records=BATCH)
                    for messages in polled.values():
                        await self._write(producer, messages)
                    if polled:
                        await consumer.commit()
            finally:
                if beside is not None:
                    beside.cancel()
                    await asyncio.gather(beside, return_exceptions=True)
                await consumer.stop()
                await self.notifier.close()

    async def _write(self, producer, messages) -> None:
        record_type, writer = self.writers[messages[0].topic]
        values, decoded = [], []
        for message in messages:
            try:
                values.append(record_type.from_data(json.loads(message.value),
                                                    preferred_type=record_type))
                decoded.append(message)
            except Exception as exc:  # noqa: BLE001 - recorded with the raw value below
                await self._dead_letter(producer, writer, message, exc)
        failed = await asyncio.to_thread(ledger.write, self.engine, writer, values)
        for index, exc in failed:
            await self._dead_letter(producer, writer, decoded[index], exc)
        if record_type is records.Event:
            for event in values:
                await self.notifier.on_event(event)

    async def _dead_letter(self, producer, writer, message, exc: Exception) -> None:
        agent = f"ledger_{writer.__name__}"
        log.error("%s failed on %s/%d@%d: %s", agent, message.topic, message.partition,
                  message.offset, exc)
        try:
            value = json.loads(message.value)
        except ValueError:
            value = {"raw": message.value.decode(errors="replace")[:2000]}
        key = message.key.decode(errors="replace") if message.key is not None else None
        await producer.send_and_wait(self.dead_letters, kafka.encode(records.DeadLetter.of(
            agent, message.topic, message.partition, message.offset, key,
            value if isinstance(value, dict) else {"raw": value}, exc)), key=agent.encode())


def main(settings: Settings, beside=None) -> None:
    import uvloop
    if settings.ledger_nice:
        os.nice(settings.ledger_nice)
    uvloop.run(LedgerProcess(settings, beside).run())
