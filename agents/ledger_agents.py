"""Thin agents that hand each record to the ledger, one per topic. The SQL runs in a thread:
the event loop keeps serving ticks meanwhile, and each agent still writes in record order."""
from __future__ import annotations

import asyncio

from agents import app as A
from agents import ledger
from schemas import sql

engine = sql.engine(A.S.sql_url)


def _ledger_agent(topic, record) -> None:
    async def agent(stream):
        async def write(value):
            await asyncio.to_thread(record, engine, value)
        write.__name__ = f"ledger_{record.__name__}"
        await A.consume(stream, write)
    agent.__name__ = agent.__qualname__ = f"ledger_{record.__name__}"
    A.app.agent(topic, name=f"agents.ledger.{record.__name__}", concurrency=1)(agent)


for _topic, _record in ((A.alerts_topic, ledger.record_alert), (A.events_topic, ledger.record_event),
                        (A.orders_topic, ledger.record_order), (A.fills_topic, ledger.record_fill)):
    _ledger_agent(_topic, _record)
