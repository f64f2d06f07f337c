"""Placing an order exactly once, whatever the broker: the part every live adapter shares.

An adapter says how to place one order (`_place`: the broker's order id, or Retry / Rejected),
how to read its order book (found by the pipeline's client order id, its tag at the broker),
how to cancel what is left of one, and — where the broker has them — how to keep a stop rule
(protect, rule_state, delete_rule, rules, find_rule). This module decides when to retry
(exponential backoff with full jitter), when a placement may already have reached the broker
(a timeout, a broken answer, a redelivered intent) and must be looked for first, and that an
exit cancels its position's rule before it is placed, and is not placed if the rule fired.
"""
from __future__ import annotations

import asyncio
import logging
import random
from dataclasses import dataclass

from connectors.broker import RULE_STILL_ACTIVE, protected, rejection, rule_fired
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


@dataclass(frozen=True)
class RuleState:
    """A broker-side stop rule: active, triggered (with the order it placed, where the broker
    names it), or gone."""
    rule_id: str
    status: str                  # active | triggered | gone
    order_id: str | None = None


RULE_BEYOND_PCT = 1   # a rule's order is a limit this far beyond its trigger: fills in a rush
TICK_PAISE = 5        # NSE's tick: rule triggers and their limits sit on it


def rule_limit_paise(trigger_paise: int, side: str) -> int:
    """The limit price of the order a rule places when `trigger_paise` is reached: 1 % beyond
    it, on the tick, so that it fills in a fast market and never at an absurd price."""
    sell = side == "SELL"
    beyond = trigger_paise * (100 - RULE_BEYOND_PCT if sell else 100 + RULE_BEYOND_PCT) / 100
    ticks = beyond // TICK_PAISE if sell else -(-beyond // TICK_PAISE)
    return int(ticks) * TICK_PAISE


def backoff_s(attempt: int, base: float = 0.25, cap: float = 8.0) -> float:
    return random.uniform(0, min(cap, base * 2 ** attempt))


class PlacingBroker:
    """The Broker interface (connectors.broker) for brokers whose fills come later, from their
    order-update stream."""
    attempts = 8
    broker_name = "this broker"
    tag_field = "tag"      # the order book's column holding the client order id
    status_field = "status"
    # True where the broker refuses to delete a rule that has fired: a deletion that went
    # through then proves the rule had not fired, whatever a later read shows
    deleting_proves_unfired = False

    async def _place(self, intent: OrderIntent) -> str:
        """Place once: the broker's order id; Retry or Rejected otherwise."""
        raise NotImplementedError

    async def _book(self) -> list[dict]:
        """The account's order book today; Retry when it cannot be read now."""
        raise NotImplementedError

    async def _cancel(self, order: dict) -> str:
        """Cancel this open order of the book; what the broker answered, in a word."""
        raise NotImplementedError

    async def last_price(self, token: str, symbol: str, exchange: str) -> int | None:
        """The instrument's last traded price over REST, in paise (None: the broker has none)."""
        raise NotImplementedError

    async def net_positions(self) -> dict[str, int]:
        """Today's net quantity per instrument token at the broker (long +, short -)."""
        raise NotImplementedError

    async def holdings(self) -> dict[str, int]:
        """Quantity per instrument token held in the demat account (delivery from earlier
        days, settled or not)."""
        raise NotImplementedError

    # -- broker-side stop rules (a link's --broker-stop gtt) -------------------------------
    async def protect(self, intent: OrderIntent) -> str:
        """Place the stop/target rule of intent (or move intent.rule_id): its id."""
        raise Rejected(f"broker-side stop rules are not available on {self.broker_name}")

    async def rules(self) -> list[RuleState]:
        """The account's stop rules at the broker."""
        return []

    async def rule_state(self, rule_id: str) -> RuleState:
        raise NotImplementedError

    async def delete_rule(self, rule_id: str) -> None:
        raise NotImplementedError

    async def find_rule(self, intent: OrderIntent) -> str | None:
        """An active rule already at intent's levels, from a placement that may have reached
        the broker."""
        return None

    async def cancel_rule(self, rule_id: str) -> str:
        """Before pinewire's own exit: 'cancelled' (or gone already), or 'triggered' (the rule
        fired first: its order exits, pinewire's must not). Rejected when it cannot be told."""
        for attempt in range(self.attempts):
            try:
                state = await self.rule_state(rule_id)
                if state.status == "active":
                    try:
                        await self.delete_rule(rule_id)
                        if self.deleting_proves_unfired:
                            return "cancelled"
                    except Rejected:
                        pass               # it may have fired meanwhile: its state tells
                    state = await self.rule_state(rule_id)
                if state.status != "active":
                    return "triggered" if state.status == "triggered" else "cancelled"
            except Retry:
                pass
            await asyncio.sleep(backoff_s(attempt))
        raise Rejected(f"{RULE_STILL_ACTIVE} (rule {rule_id})")

    async def _protect(self, intent: OrderIntent, now_ms: int, maybe_placed: bool) -> list[Fill]:
        for attempt in range(self.attempts):
            try:
                found = None if intent.rule_id or not maybe_placed else \
                    await self.find_rule(intent)
                rule_id = found or await self.protect(intent)
                log.info("broker stop rule %s for %s (stop %s, target %s)", rule_id,
                         intent.position_id, intent.stop_paise, intent.target_paise)
                return [protected(intent, rule_id, now_ms)]
            except Retry as retry:
                maybe_placed = maybe_placed or retry.maybe_placed
                await asyncio.sleep(backoff_s(attempt))
            except Rejected as rejected:
                return [rejection(intent, str(rejected), now_ms)]
        return [rejection(intent, f"not placed after {self.attempts} attempts", now_ms)]

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
        if intent.purpose == "PROTECT":
            return await self._protect(intent, now_ms, check_first)
        if intent.purpose == "CANCEL":      # its outcome comes on the order stream
            await self.cancel_rest(intent.cancel_client_order_id)
            return []
        if intent.cancel_rule_id:
            try:
                if await self.cancel_rule(intent.cancel_rule_id) == "triggered":
                    log.info("%s: the broker's stop rule %s fired first; its order exits",
                             intent.client_order_id, intent.cancel_rule_id)
                    return [rule_fired(intent, now_ms)]
            except Rejected as rejected:
                return [rejection(intent, str(rejected), now_ms)]
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
