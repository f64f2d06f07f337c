"""The live broker: places MARKET/LIMIT orders on SmartAPI with the pipeline's client order id
as `ordertag`, never twice. Fills arrive later from the order-update stream (orders.py).

Retries with exponential backoff and full jitter on 5xx, timeouts, non-JSON answers, rate-limit
pages and AB1004, never on a rejection. Whenever a placement may have reached the broker (a
timeout, a broken answer, a redelivered intent), the order book is searched by ordertag first.
"""
from __future__ import annotations

import asyncio
import logging
import random

import requests

from connectors.broker import rejection
from connectors.smartapi.sdk import sdk
from connectors.smartapi.session import Session, error_code
from schemas.records import Fill, OrderIntent

log = logging.getLogger(__name__)
RETRY_LATER = {"AB1004", "AB2001"}
REDELIVERY_AGE_MS = 10_000   # an intent this old may have been placed before a crash


class Retry(Exception):
    """The placement did not happen, or may have: wait and try again."""

    def __init__(self, reason: str, maybe_placed: bool):
        super().__init__(reason)
        self.maybe_placed = maybe_placed


def backoff_s(attempt: int, base: float = 0.25, cap: float = 8.0) -> float:
    return random.uniform(0, min(cap, base * 2 ** attempt))


def order_params(intent: OrderIntent) -> dict:
    return {"variety": "NORMAL", "tradingsymbol": intent.symbol, "symboltoken": intent.token,
            "transactiontype": intent.side, "exchange": intent.exchange,
            "ordertype": intent.order_type, "producttype": intent.product_type,
            "duration": "DAY", "price": "0" if intent.order_type == "MARKET" else
            str(intent.reference_price_paise / 100), "quantity": str(intent.quantity),
            "ordertag": intent.client_order_id}


class SmartApiBroker:
    def __init__(self, session: Session, attempts: int = 8):
        self.session, self.attempts = session, attempts

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
                         intent.client_order_id, found["orderid"])
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

    async def _place(self, intent: OrderIntent) -> str:
        try:
            response = await self.session.call("order", "placeOrderFullResponse",
                                               order_params(intent))
        except requests.Timeout as exc:
            raise Retry(f"timed out ({type(exc).__name__})", maybe_placed=True) from None
        except requests.ConnectionError as exc:
            raise Retry(f"connection failed ({type(exc).__name__})", maybe_placed=True) from None
        except sdk().exceptions.DataException as exc:
            limited = "exceeding rate limit" in str(exc)
            raise Retry("rate limited" if limited else "answer was not JSON (5xx?)",
                        maybe_placed=not limited) from None
        code = error_code(response)
        if code is None:
            return response["data"]["orderid"]
        if code in RETRY_LATER:
            raise Retry(f"broker said try later ({code})", maybe_placed=False)
        raise Rejected(f"{response.get('message', 'rejected')} ({code})")

    async def cancel_rest(self, client_order_id: str) -> None:
        """An entry still open at the broker when its exit is sent is cancelled first: the exit
        covers what filled, and nothing more may fill after it. The cancellation reaches the
        position through the order stream (an 'ended short' rejection of the rest)."""
        order = await self.find(client_order_id)
        status = str((order or {}).get("status", "")).lower()
        if order is None or status in ("complete", "cancelled", "rejected"):
            return
        try:
            response = await self.session.call("order", "cancelOrder", order["orderid"],
                                               order.get("variety") or "NORMAL")
        except (requests.RequestException, sdk().exceptions.DataException) as exc:
            log.warning("cancelling the rest of %s failed: %s", client_order_id,
                        type(exc).__name__)
            return
        log.info("cancelled the rest of entry %s (%s) before its exit", client_order_id,
                 error_code(response) or "ok")

    async def find(self, client_order_id: str) -> dict | None:
        """The broker's order carrying this ordertag, if any (order book, 1 request/s)."""
        for attempt in range(self.attempts):
            try:
                response = await self.session.call("book", "orderBook")
            except (requests.RequestException, sdk().exceptions.DataException):
                await asyncio.sleep(backoff_s(attempt))
                continue
            if error_code(response) is None:
                rows = response.get("data") or []
                return next((r for r in rows if r.get("ordertag") == client_order_id), None)
            await asyncio.sleep(backoff_s(attempt))
        raise RuntimeError(f"the order book could not be read to look for {client_order_id}")


class Rejected(Exception):
    pass
