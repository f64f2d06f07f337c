"""Thin agents that hand each record to the ledger."""
from __future__ import annotations

from agents import app as A
from agents import ledger
from schemas import sql

engine = sql.engine(A.S.sql_url)


@A.app.agent(A.alerts_topic, concurrency=1)
async def ledger_alerts(stream):
    async for alert in stream:
        ledger.record_alert(engine, alert)


@A.app.agent(A.events_topic, concurrency=1)
async def ledger_events(stream):
    async for ev in stream:
        ledger.record_event(engine, ev)


@A.app.agent(A.orders_topic, concurrency=1)
async def ledger_orders(stream):
    async for order in stream:
        ledger.record_order(engine, order)


@A.app.agent(A.fills_topic, concurrency=1)
async def ledger_fills(stream):
    async for fill in stream:
        ledger.record_fill(engine, fill)
