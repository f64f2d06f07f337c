"""The orders a broker-side stop rule placed when it triggered (a link's --broker-stop gtt):
they carry no tag of pinewire's, so the order-update stream cannot tell whose they are. While
an account has protected live positions, its triggered rules are looked at every few seconds;
the order of a rule that fired becomes, once it has ended, a fill of its position with client
order id <position>B0 (exit reason BROKER_STOP). Which rule protects which position is in the
ledger (each PROTECT order's answer); fill ids come from the broker's order id, so a fill seen
again — after a restart, say — is the same fill.

Where the broker does not name the order a fired rule placed (Angel One; Upstox once it has
forgotten a completed rule), it is the newest untagged order in today's book on the rule's
instrument, side and quantity that no rule has taken before (here, or in the ledger: a
position's rule order recorded earlier). An order the trader placed by hand with exactly those
could be taken for it; the position then closes at that order's price."""
from __future__ import annotations

import asyncio
import logging
import time
from typing import NamedTuple

from sqlalchemy import Engine, select

from connectors.order_updates import (ENDED_SHORT, PIPELINE_TAG, OrderState, OrderUpdates,
                                      new_fills)
from connectors.placement import ENDED, PlacingBroker, Rejected, Retry, RuleState, order_id_of
from schemas import ids, sql

log = logging.getLogger(__name__)
EVERY_S = 2.0


class Protected(NamedTuple):
    """A live position's broker-side rule, as its last PROTECT order set it."""
    position_id: str
    token: str
    side: str                # of the order the rule places
    quantity: int


def protected_positions(eng: Engine, account_id: str) -> dict[str, Protected]:
    """rule id -> what it protects, for the account's live positions with a broker-side
    rule."""
    f, o, p = sql.fills.c, sql.orders.c, sql.positions.c
    with eng.connect() as conn:
        rows = conn.execute(select(f.broker_order_id, p.id, o.token, o.side, o.quantity).join(
            sql.positions, p.id == f.position_id).join(
            sql.orders, o.client_order_id == f.client_order_id).where(
            f.status == "PROTECTED", p.account_id == account_id,
            p.state.in_(("PENDING", "OPEN", "EXITING"))).order_by(o.created_at_ms)).all()
    return {row.broker_order_id: Protected(row.id, row.token, row.side, row.quantity)
            for row in rows if row.broker_order_id}


def rule_orders_taken(eng: Engine, account_id: str) -> set[str]:
    """The broker orders already recorded as some position's rule order, on this account."""
    f, p = sql.fills.c, sql.positions.c
    with eng.connect() as conn:
        return {row.broker_order_id for row in conn.execute(
            select(f.broker_order_id).join(sql.positions, p.id == f.position_id).where(
                p.account_id == account_id, f.client_order_id.like("%B0"),
                f.broker_order_id.is_not(None)))}


def rule_orders(fired: list[RuleState], protecting: dict[str, Protected],
                book: list[OrderState], taken: set[str]) -> dict[str, str]:
    """order id -> position id, for the fired rules' orders that have ended: the order a rule
    names, or else the newest untagged order in the book (the brokers' order ids grow with
    time) on its instrument, side and quantity not `taken` by another rule, here or before."""
    out: dict[str, str] = {}
    newest_first = sorted(book, key=lambda o: (len(o.order_id), o.order_id), reverse=True)
    for rule in fired:
        want = protecting[rule.rule_id]
        order = next((o for o in book if o.order_id == rule.order_id), None) \
            if rule.order_id else \
            next((o for o in newest_first if o.order_id not in taken and o.order_id not in out
                  and not PIPELINE_TAG.match(o.tag) and o.token == want.token
                  and o.side == want.side and o.quantity == want.quantity), None)
        if order and order.order_id not in taken and \
                order.status in ENDED_SHORT | {"complete"}:
            out[order.order_id] = want.position_id
    return out


async def watch(eng: Engine, account_id: str, broker: PlacingBroker, updates: OrderUpdates,
                emit_fill, every_s: float = EVERY_S) -> None:
    done: set[str] = set()          # the rule orders already turned into fills here
    while True:
        await asyncio.sleep(every_s)
        try:
            protecting = await asyncio.to_thread(protected_positions, eng, account_id)
            if not protecting:
                continue
            listed = {r.rule_id: r for r in await broker.rules() if r.rule_id in protecting}
            for rule_id in protecting.keys() - listed.keys():     # a rule the list leaves out
                listed[rule_id] = await broker.rule_state(rule_id)
            fired = [r for r in listed.values() if r.status == "triggered"]
            if not fired:
                continue
            if any(r.order_id is None for r in fired):     # found by matching: not twice
                done |= await asyncio.to_thread(rule_orders_taken, eng, account_id)
            book = await updates.book()
            for order_id, position_id in rule_orders(fired, protecting, book, done).items():
                await _emit(next(o for o in book if o.order_id == order_id), position_id,
                            emit_fill)
                done.add(order_id)
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


def fired_rule_order(state: RuleState, token: str, side: str, quantity: int,
                     book: list[OrderState]) -> OrderState | None:
    """The order a fired rule placed: the one it names, else the newest untagged order in the
    book on its instrument, side and quantity (as rule_orders finds an ended one)."""
    if state.order_id:
        return next((o for o in book if o.order_id == state.order_id), None)
    newest_first = sorted(book, key=lambda o: (len(o.order_id), o.order_id), reverse=True)
    return next((o for o in newest_first if not PIPELINE_TAG.match(o.tag) and o.token == token
                 and o.side == side and o.quantity == quantity), None)


async def take_over(broker: PlacingBroker, updates: OrderUpdates, intent) -> int:
    """Before pinewire's own exit replaces a fired rule's order that has not filled in time:
    that order cancelled if it is still open. The quantity pinewire's exit must then sell:
    what the rule's order did not fill (0 when it filled in full: its fill closes the
    position). Rejected when the order cannot be found: placing another could sell twice."""
    state = await broker.rule_state(intent.cancel_rule_order)
    expected = intent.quantity + intent.rule_filled_counted       # what the rule was to sell
    order = fired_rule_order(state, intent.token, intent.side, expected, await updates.book())
    if order is None:
        raise Rejected(f"the order of the fired broker stop rule {intent.cancel_rule_order} is "
                       "not in today's order book: pinewire places no exit of its own (two "
                       "could sell); check the account at the broker")
    if order.status not in ENDED:
        row = next((r for r in await broker._book() if order_id_of(r) == order.order_id), None)
        if row is not None:
            log.info("position %s: cancelling the fired rule's unfilled order %s",
                     intent.position_id, order.order_id)
            try:
                await broker._cancel(row)
            except Rejected:
                pass                 # it may have filled meanwhile: the book tells
        order = next((o for o in await updates.book() if o.order_id == order.order_id), order)
        if order.status not in ENDED:
            raise Retry(f"the fired rule's order {order.order_id} is still {order.status}",
                        maybe_placed=False)
    if order.status == "complete" and order.filled >= expected:
        return 0
    return max(0, intent.quantity - max(0, order.filled - intent.rule_filled_counted))
