"""Thin agents that hand records to the ledger, one per topic, in batches: what arrived within
50 ms (up to 500 records) is written in one transaction, in a thread, so the event loop keeps
serving ticks meanwhile and each agent still writes in record order. A record that cannot be
written goes to the dead-letter topic; the others are written."""
from __future__ import annotations

import asyncio
import logging

from agents import app as A
from agents import ledger
from schemas import sql

log = logging.getLogger(__name__)
engine = sql.engine(A.S.sql_url)
BATCH, WITHIN_S = 500, 0.05


def _ledger_agent(topic, record) -> None:
    name = f"ledger_{record.__name__}"

    async def agent(stream):
        async for events in stream.take_events(BATCH, within=WITHIN_S):
            values = [event.value for event in events]
            for index, exc in await asyncio.to_thread(ledger.write, engine, record, values):
                log.error("%s failed on %r: %s", name, values[index], exc)
                await A.dead_letter(name, events[index], exc)
    agent.__name__ = agent.__qualname__ = name
    A.app.agent(topic, name=f"agents.ledger.{record.__name__}", concurrency=1)(agent)


for _topic, _record in ((A.alerts_topic, ledger.record_alert), (A.events_topic, ledger.record_event),
                        (A.orders_topic, ledger.record_order), (A.fills_topic, ledger.record_fill)):
    _ledger_agent(_topic, _record)
