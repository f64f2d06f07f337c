"""The interface every broker adapter presents to the executor."""
from __future__ import annotations

from typing import Protocol

from schemas import ids
from schemas.records import Fill, OrderIntent


class Broker(Protocol):
    async def execute(self, intent: OrderIntent, last_price_paise: int | None, now_ms: int,
                      maybe_placed: bool = False) -> list[Fill]:
        """Place the order, once; the fills (or the rejection) known now. A broker whose fills
        come later produces them on the fills topic itself. maybe_placed: an earlier attempt
        may have reached the broker, so look for the order before placing it."""


# how an exit's rejection says that the position's broker-side rule may still be live
RULE_STILL_ACTIVE = "the broker's stop rule could not be cancelled"


def protected(intent: OrderIntent, rule_id: str, now_ms: int) -> Fill:
    """The answer to a PROTECT order: the broker's stop rule is in place (its id)."""
    return Fill(fill_id=ids.fill_id(intent.client_order_id, "protected"),
                position_id=intent.position_id, client_order_id=intent.client_order_id,
                token=intent.token, side=intent.side, at_ms=now_ms, status="PROTECTED",
                quantity=0, price_paise=0, broker_order_id=rule_id)


# the answer to an exit whose position's broker-side rule fired first: its order exits
RULE_FIRED = "RULE_FIRED"


def rule_fired(intent: OrderIntent, now_ms: int) -> Fill:
    """The exit was not placed: the position's broker-side rule fired first."""
    return Fill(fill_id=ids.fill_id(intent.client_order_id, "rule-fired"),
                position_id=intent.position_id, client_order_id=intent.client_order_id,
                token=intent.token, side=intent.side, at_ms=now_ms, status=RULE_FIRED,
                quantity=0, price_paise=0, broker_order_id=intent.cancel_rule_id)


def rejection(intent: OrderIntent, text: str, now_ms: int) -> Fill:
    """The answer to an order that will not be placed or was refused: nothing filled."""
    return Fill(fill_id=ids.fill_id(intent.client_order_id, "rejected"),
                position_id=intent.position_id, client_order_id=intent.client_order_id,
                token=intent.token, side=intent.side, at_ms=now_ms, status="REJECTED",
                quantity=0, price_paise=0, text=text)
