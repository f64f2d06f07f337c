"""The orders a broker-side stop rule placed when it triggered (a link's --broker-stop gtt):
they carry no tag of pinewire's, so the order-update stream cannot tell whose they are. While
an account has protected live positions, its triggered rules are looked at every few seconds;
the order of a rule that fired becomes, once it has ended, a fill of its position with client
order id <position>B0 (exit reason BROKER_STOP). Which rule protects which position is in the
ledger (each PROTECT order's answer); fill ids come from the broker's order id, so a fill seen
again — after a restart, say — is the same fill."""
from __future__ import annotations

import asyncio
import logging
import time

from sqlalchemy import Engine, select

from connectors.order_updates import ENDED_SHORT, OrderState, OrderUpdates, new_fills
from connectors.placement import PlacingBroker
from schemas import ids, sql

log = logging.getLogger(__name__)
EVERY_S = 2.0


def protected_positions(eng: Engine, account_id: str) -> dict[str, str]:
    """rule id -> position id, for the account's live positions with a broker-side rule."""
    f, p = sql.fills.c, sql.positions.c
    with eng.connect() as conn:
        rows = conn.execute(select(f.broker_order_id, p.id).join(
            sql.positions, p.id == f.position_id).where(
            f.status == "PROTECTED", p.account_id == account_id,
            p.state.in_(("PENDING", "OPEN", "EXITING")))).all()
    return {row.broker_order_id: row.id for row in rows if row.broker_order_id}


async def watch(eng: Engine, account_id: str, broker: PlacingBroker, updates: OrderUpdates,
                emit_fill, every_s: float = EVERY_S) -> None:
    done: set[str] = set()          # the rule orders already turned into fills here
    while True:
        await asyncio.sleep(every_s)
        try:
            protecting = await asyncio.to_thread(protected_positions, eng, account_id)
            if not protecting:
                continue
            fired = {r.order_id: protecting[r.rule_id] for r in await broker.rules()
                     if r.status == "triggered" and r.order_id and r.rule_id in protecting
                     and r.order_id not in done}
            if not fired:
                continue
            for order in await updates.book():
                if order.order_id in fired and order.status in ENDED_SHORT | {"complete"}:
                    await _emit(order, fired[order.order_id], emit_fill)
                    done.add(order.order_id)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - the next look tries again
            log.warning("account %s: looking at its broker stop rules failed: %s", account_id,
                        type(exc).__name__)


async def _emit(order: OrderState, position_id: str, emit_fill) -> None:
    tagged = OrderState(**{**order.__dict__,
                           "tag": ids.client_order_id(position_id, "BROKER_STOP")})
    fills, _ = new_fills(tagged, (0, 0), int(time.time() * 1000))
    for fill in fills:
        log.info("position %s: its broker stop rule's order %s %s %d @ %d", position_id,
                 order.order_id, fill.status, fill.quantity, fill.price_paise)
        await emit_fill(fill)
