"""A live account against its broker: what pinewire holds on it (the ledger's live positions)
against the broker's net positions, holdings and order book, decided by reconciliation.decide.
At `pinewire up` (pinewire/reconcile.py), and during the session by the worker that holds the
account's session: every PINEWIRE_RECONCILE_EVERY_S within PINEWIRE_MARKET_HOURS, and at once
when an order pinewire did not place completes on the account (the broker's own square-off, a
trader closing by hand). What the broker shows flat is closed (a RECONCILE command, decided by
the position's owner, which closes only an OPEN position with no order of its own out); what
differs otherwise is reported, never traded."""
from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Awaitable, Callable

from sqlalchemy import Engine, select

from agents import reconciliation
from connectors.order_updates import OrderUpdates
from connectors.placement import PlacingBroker
from schemas import ids, instruments, market_time, sql
from schemas.records import Command

log = logging.getLogger(__name__)


def live_positions(eng: Engine, account_id: str) -> list[dict]:
    """The account's live (not paper) positions in the ledger."""
    p = sql.positions.c
    with eng.connect() as conn:
        rows = conn.execute(select(sql.positions).where(
            p.account_id == account_id, p.state.in_(("PENDING", "OPEN", "EXITING"))))
        return [dict(r._mapping) for r in rows if not (r.snapshot or {}).get("paper")]


async def compare(broker: PlacingBroker, updates: OrderUpdates,
                  rows: list[dict]) -> reconciliation.Report:
    """The broker's view against these positions (ledger rows)."""
    held = [reconciliation.Held(r["id"], r["token"], r["symbol"], r["side"],
                                (r["entry_qty"] or 0) - (r["exit_qty"] or 0), r["state"],
                                protected=bool((r["snapshot"] or {}).get("rule_id")))
            for r in rows]
    net = await broker.net_positions()
    holdings = await broker.holdings()
    orders = await updates.book()
    expected = {h.token for h in held}
    at_broker = {t: net.get(t, 0) + (holdings.get(t, 0) if t in expected else 0)
                 for t in set(net) | (set(holdings) & expected)}
    symbols = {t: inst.symbol for t in at_broker if (inst := instruments.by_token(t))}
    return reconciliation.decide(held, at_broker, orders, symbols)


def commands(report: reconciliation.Report, rows: list[dict], now_ms: int) -> list[Command]:
    """A RECONCILE command per position the broker shows flat (idempotent by its version)."""
    by_id = {r["id"]: r for r in rows}
    return [Command(command_id=ids.event_id("reconcile", c.position_id,
                                            by_id[c.position_id]["version"]),
                    kind="RECONCILE", position_id=c.position_id, at_ms=now_ms,
                    token=by_id[c.position_id]["token"],
                    position={"price_paise": c.price_paise,
                              "broker_order_id": c.broker_order_id, "note": c.note})
            for c in report.closes]


def record(eng: Engine, account: dict, at_ms: int, closed: list[str],
           lines: list[str]) -> dict:
    """The report, in the ledger (the status page shows it) and the log."""
    row = dict(at_ms=at_ms, kind="broker", restored=0, account_id=account["id"],
               user_id=account.get("user_id"), closed=len(closed), reported=len(lines),
               detail=json.dumps({"closed": closed, "report": lines}))
    with eng.begin() as conn:
        conn.execute(sql.reconciliations.insert().values(**row))
    for line in closed + lines:
        log.warning("account %s: %s", account["name"], line)
    if not closed and not lines:
        log.info("account %s agrees with the broker", account["name"])
    return {"account": account["name"], "closed": closed, "report": lines}


def closed_lines(report: reconciliation.Report, rows: list[dict]) -> list[str]:
    by_id = {r["id"]: r for r in rows}
    return [f"closed {by_id[c.position_id]['symbol']} {c.position_id}: {c.note}"
            for c in report.closes]


async def watch(eng: Engine, account: dict, broker: PlacingBroker, updates: OrderUpdates,
                send: Callable[[Command], Awaitable[None]], every_s: float, hours: str) -> None:
    """Forever, for an account whose session this worker holds: compare, close what the
    broker shows flat, report a new disagreement once."""
    wake, last = asyncio.Event(), None
    updates.on_untagged = lambda order: wake.set()
    while True:
        try:
            await asyncio.wait_for(wake.wait(), every_s)
        except asyncio.TimeoutError:
            pass
        wake.clear()
        now = int(time.time() * 1000)
        if not market_time.in_window(hours, now):
            continue
        try:
            rows = await asyncio.to_thread(live_positions, eng, account["id"])
            if not rows:
                continue
            report = await compare(broker, updates, rows)
            for command in commands(report, rows, now):
                await send(command)
            seen = (closed_lines(report, rows), report.lines)
            if seen != last and (report.closes or report.lines):
                await asyncio.to_thread(record, eng, account, now, *seen)
            last = seen
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - the next look tries again
            log.warning("account %s: checking it against the broker failed: %s",
                        account["name"], type(exc).__name__)
