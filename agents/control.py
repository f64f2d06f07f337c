"""Commands to a partition's owner: a position restored from the ledger, one the broker shows
flat (startup reconciliation), the end-of-day sweeps (one record per partition, idempotent by
trading day), a paper order that waited too long, the candles whose window has ended, and a
trader's close and adjust (trader_commands.py)."""
from __future__ import annotations

import logging
import re

from agents import app as A
from agents import candle_agent, emit, eod, monitor, positions, risk, trader_commands
from agents.pipeline import brokers, memory, send_fill
from agents.positions import Position
from schemas.money import paise_to_rupees
from schemas.records import Command

log = logging.getLogger(__name__)
EXTRA_HOLIDAYS = eod.parse_holidays(A.S.extra_holidays)
_CONTRACT = re.compile(r"^[A-Z&]+(?P<expiry>\d{2}[A-Z]{3}\d{2})(?P<strike>\d+(?:\.\d+)?)"
                       r"(?P<right>CE|PE)$")


@A.app.agent(A.commands_topic, concurrency=1)
async def on_command(stream):
    await A.consume(stream, handle)


async def handle(command: Command) -> None:
    if command.kind in ("RESTORE", "RESTORE_LOST") and command.position:
        await restore(command)
    elif command.kind == "RECONCILE" and command.position_id and command.position:
        await reconcile(command)
    elif command.kind in (eod.EOD, eod.MIS_SQUAREOFF) and command.partition is not None:
        await sweep(command)
    elif command.kind == "CANDLES" and command.partition is not None:
        await candle_agent.close_due(command)
    elif command.kind in ("CLOSE", "ADJUST") and command.position_id or \
            command.kind == "CLOSE_ALL" and command.partition is not None:
        await trader_commands.handle(command)
    elif command.kind == "PAPER_TIMEOUT" and command.client_order_id and command.token:
        for fill in brokers.paper.expire(command.token or "", command.client_order_id,
                                         emit.now_ms()):
            await send_fill(fill)
    else:
        log.error("malformed command %s (%s)", command.command_id, command.kind)


async def restore(command: Command) -> None:
    """A position from the ledger: after the broker lost its topics (RESTORE), or after a
    handover lost it from this worker's table (RESTORE_LOST: the ticks that passed it by
    meanwhile are applied again, monitor.catch_up)."""
    current = emit.load(command.position_id)
    snapshot = Position.from_dict(command.position)
    if current and current.version >= snapshot.version:
        return
    lost = command.kind == "RESTORE_LOST"
    pos = positions.restored(snapshot, emit.now_ms(), same_ticks=lost)
    emit.save(memory, pos)
    if lost and pos.state == positions.OPEN:
        await monitor.catch_up(pos)
    now = emit.load(pos.id) or pos
    await emit.store(memory, now, current)
    await emit.event("RESTORED", link_id=now.link_id, token=now.token, pos=now,
                     reason="restored from the ledger")
    await emit.subscription(memory, now)
    outstanding = "EXIT" if pos.state == positions.EXITING else \
        "ENTRY" if pos.state == positions.PENDING and positions.entry_outstanding(pos) else None
    if outstanding:      # (an exit the catch-up decided was sent as it was decided)
        await emit.order(pos, outstanding)


async def reconcile(command: Command) -> None:
    """Close a position the broker shows flat, at its closing order's price; only if it is
    still OPEN with no order of its own outstanding (else that order's outcome closes it)."""
    pos = emit.load(command.position_id)
    if pos is None or pos.state != positions.OPEN or pos.entry_open:
        log.info("reconcile %s: %s, left to its own orders", command.position_id,
                 pos.state if pos else "unknown here")
        return
    closed = positions.reconciled(pos, int(command.position["price_paise"]), emit.now_ms(),
                                  command.position["note"])
    await emit.store(memory, closed, pos)
    await emit.event("POSITION", link_id=pos.link_id, token=pos.token, pos=closed,
                     reason=f"RECONCILED: {closed.note}")
    await emit.subscription(memory, closed)


def report_row(pos: Position, last: int, pnl_paise: int, decision: str) -> dict:
    contract = _CONTRACT.match(pos.symbol.upper())
    return {"position_id": pos.id, "link_id": pos.link_id, "user_id": pos.user_id,
            "symbol": pos.symbol,
            "expiry": contract["expiry"] if contract else "",
            "strike": contract["strike"] if contract else "", "side": pos.side,
            "quantity": pos.entry_qty - pos.exit_qty, "entry": paise_to_rupees(pos.entry_price),
            "last": paise_to_rupees(last), "last_paise": last, "pnl_paise": pnl_paise,
            "decision": decision}


async def sweep(command: Command) -> None:
    """The end-of-day routine on one partition, once per trading day."""
    day = risk.ist_day(command.at_ms)
    done_key = f"{command.kind}:{command.partition}"
    if not eod.is_trading_day(day, EXTRA_HOLIDAYS) or A.sweeps.get(done_key) == day.isoformat():
        return
    A.sweeps[done_key] = day.isoformat()
    rows = []
    for pid in memory.live_ids():
        pos = emit.load(pid)
        if pos.partition != command.partition or pos.state != positions.OPEN:
            continue
        link = memory.link(pos.link_id) or {}
        decision, last, unrealized = eod.at_sweep(command.kind, link.get("eod", "close-losers"),
                                                  pos, memory.price(pos.token))
        if decision is None:
            continue
        rows.append(report_row(pos, last, unrealized, decision))
        if decision == eod.CLOSE:
            closing = positions.begin_exit(pos, eod.REASONS[command.kind], emit.now_ms(),
                                           price_paise=last)
            await emit.store(memory, closing, pos)
            await emit.order(closing, "EXIT")
            await emit.event("POSITION", link_id=pos.link_id, token=pos.token, pos=closing,
                             reason=f"{command.kind} {day}: close")
    log.info("%s %s partition %d: %d position(s), %d closed", command.kind, day,
             command.partition, len(rows), sum(r["decision"] == eod.CLOSE for r in rows))
    await emit.event("EOD_REPORT", link_id="", partition=command.partition,
                     key=f"{command.kind}:{day}:{command.partition}",
                     reason=f"{command.kind} {day}: {len(rows)} position(s)",
                     detail={"day": day.isoformat(), "kind": command.kind,
                             "partition": command.partition, "rows": rows})
