"""Placing an order exactly once, whatever the broker: the part every live adapter shares.

An adapter says how to place one order (`_place`: the broker's order id, or Retry / Rejected),
how to find an order by the pipeline's client order id (its tag at the broker), and how to
cancel what is left of one. This module decides when to retry (exponential backoff with full
jitter), when a placement may already have reached the broker (a timeout, a broken answer, a
redelivered intent), and then looks in the order book before placing again.
"""
from __future__ import annotations

import asyncio
import logging
import random

from connectors.broker import rejection
from schemas.records import Fill, OrderIntent

log = logging.getLogger(__name__)
REDELIVERY_AGE_MS = 10_000   # an intent this old may have been placed before a crash
ENDED = {"complete", "cancelled", "rejected"}   # order states, lowercased, that move no more


class Retry(Exception):
    """The placement did not happen, or may have: wait and try again."""

    def __init__(self, reason: str, maybe_placed: bool):
        super().__init__(reason)
        self.maybe_placed = maybe_placed


class Rejected(Exception):
    """The broker refused the order: never retried; the text is the broker's."""


def backoff_s(attempt: int, base: float = 0.25, cap: float = 8.0) -> float:
    return random.uniform(0, min(cap, base * 2 ** attempt))


class PlacingBroker:
    """The Broker interface (connectors.broker) for brokers whose fills come later, from their
    order-update stream."""
    attempts = 8

    tag_field = "tag"      # the order book's column holding the client order id
    status_field = "status"

    async def _place(self, intent: OrderIntent) -> str:
        """Place once: the broker's order id; Retry or Rejected otherwise."""
        raise NotImplementedError

    async def _book(self) -> list[dict]:
        """The account's order book today; Retry when it cannot be read now."""
        raise NotImplementedError

    async def _cancel(self, order: dict) -> str:
        """Cancel this open order of the book; what the broker answered, in a word."""
        raise NotImplementedError

    async def net_positions(self) -> dict[str, int]:
        """Today's net quantity per instrument token at the broker (long +, short -)."""
        raise NotImplementedError

    async def holdings(self) -> dict[str, int]:
        """Quantity per instrument token held in the demat account (delivery from earlier
        days, settled or not)."""
        raise NotImplementedError

    async def find(self, client_order_id: str) -> dict | None:
        """The broker's order carrying this client order id, if any."""
        for attempt in range(self.attempts):
            try:
                rows = await self._book()
            except Retry:
                await asyncio.sleep(backoff_s(attempt))
                continue
            return next((r for r in rows if r.get(self.tag_field) == client_order_id), None)
        raise RuntimeError(f"the order book could not be read to look for {client_order_id}")

    async def cancel_rest(self, client_order_id: str) -> None:
        """An entry still open at the broker when its exit is sent is cancelled first: the exit
        covers what filled, and nothing more may fill after it. The cancellation reaches the
        position through the order stream (an 'ended short' rejection of the rest)."""
        order = await self.find(client_order_id)
        if order is None or str(order.get(self.status_field, "")).lower() in ENDED:
            return
        try:
            answer = await self._cancel(order)
        except (Retry, Rejected) as exc:
            log.warning("cancelling the rest of %s failed: %s", client_order_id, exc)
            return
        log.info("cancelled the rest of entry %s (%s) before its exit", client_order_id, answer)

    async def execute(self, intent: OrderIntent, last_price_paise: int | None, now_ms: int,
                      maybe_placed: bool = False) -> list[Fill]:
        """[] once the order is at the broker (its fills come from the order stream), or a
        REJECTED fill when the broker refused it."""
        check_first = maybe_placed or now_ms - intent.created_at_ms > REDELIVERY_AGE_MS
        if intent.cancel_client_order_id:
            await self.cancel_rest(intent.cancel_client_order_id)
        for attempt in range(self.attempts):
            if check_first and (found := await self.find(intent.client_order_id)):
                log.info("order %s already at the broker as %s; not placing again",
                         intent.client_order_id, order_id_of(found))
                return []
            try:
                order_id = await self._place(intent)
                log.info("placed %s as broker order %s", intent.client_order_id, order_id)
                return []
            except Retry as retry:
                check_first = check_first or retry.maybe_placed
                delay = backoff_s(attempt)
                log.warning("placing %s: %s; retrying in %.2fs", intent.client_order_id, retry,
                            delay)
                await asyncio.sleep(delay)
            except Rejected as rejected:
                return [rejection(intent, str(rejected), now_ms)]
        if check_first and await self.find(intent.client_order_id):
            return []
        return [rejection(intent, f"not placed after {self.attempts} attempts", now_ms)]


def order_id_of(row: dict) -> str:
    return str(row.get("orderid") or row.get("order_id") or "?")
