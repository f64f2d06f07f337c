"""Broker order states become Fill records, whatever the broker: one per filled increment, a
REJECTED one (with the broker's text) when an order ends without filling in full. From the
broker's order-update stream, or from order-book polls while the stream is down.

Fill ids are derived from the broker order id and the cumulative filled quantity, so the same
state seen twice (socket and poll, two workers, a restart) is the same fill. An adapter maps its
own order rows to OrderState and says how to open its stream (connectors/<broker>/orders.py).
"""
from __future__ import annotations

import asyncio
import logging
import re
import time
from dataclasses import dataclass
from decimal import Decimal
from typing import AsyncIterator, Awaitable, Callable

from connectors.credentials import AccountError
from schemas import ids
from schemas.records import Fill

log = logging.getLogger(__name__)
# pinewire's own orders (E, X) and, tagged here, the order a broker-side stop rule placed (B)
PIPELINE_TAG = re.compile(r"^(?P<position>[0-9a-f]{16})[EXB]\d+$")
ENDED_SHORT = {"rejected", "cancelled"}


@dataclass(frozen=True)
class OrderState:
    """One order as the broker reports it now; status lowercased (open, complete, cancelled,
    rejected, ...)."""
    order_id: str
    tag: str                 # the pipeline's client order id, when the broker kept it
    token: str
    side: str
    quantity: int
    filled: int
    average_price: Decimal   # rupees
    status: str
    text: str = ""


def new_fills(order: OrderState, seen: tuple[int, int],
              now_ms: int) -> tuple[list[Fill], tuple[int, int]]:
    """New fills of an order, given (filled qty, filled value in paise) seen before."""
    tag = PIPELINE_TAG.match(order.tag)
    if not tag:
        return [], seen
    value = int((order.average_price * 100 * order.filled).to_integral_value())
    common = dict(client_order_id=order.tag, position_id=tag["position"], token=order.token,
                  side=order.side, at_ms=now_ms, broker_order_id=order.order_id)
    fills = []
    if order.filled > seen[0]:
        qty = order.filled - seen[0]
        fills.append(Fill(fill_id=ids.fill_id(order.tag, order.order_id, order.filled),
                          status="FILLED", quantity=qty, price_paise=round((value - seen[1]) / qty),
                          order_filled=order.filled, order_value_paise=value, **common))
        seen = (order.filled, value)
    if order.status in ENDED_SHORT and order.filled < order.quantity:
        fills.append(Fill(fill_id=ids.fill_id(order.tag, order.order_id, order.status),
                          status="REJECTED", quantity=0, price_paise=0,
                          text=order.text or order.status, **common))
    return fills, seen


class OrderUpdates:
    """Forever: the broker's order stream while it is up, order-book polls while it is not.
    Subclasses give `stream()` (connect, then yield OrderStates as they come) and `book()`."""

    def __init__(self, emit: Callable[[Fill], Awaitable[None]], poll_interval_s: float = 1.0):
        self.emit, self.poll_interval_s = emit, poll_interval_s
        self.seen: dict[str, tuple[int, int]] = {}
        self.ended: set[str] = set()
        self.connected = asyncio.Event()
        # told of each order pinewire did not place once it has filled (a square-off by the
        # broker, a trader's order by hand): the account may no longer hold what pinewire thinks
        self.on_untagged: Callable[[OrderState], None] | None = None

    def stream(self) -> AsyncIterator[OrderState]:
        raise NotImplementedError

    async def book(self) -> list[OrderState]:
        raise NotImplementedError

    async def handle(self, order: OrderState) -> None:
        if not order.order_id or order.order_id in self.ended:
            return
        if self.on_untagged and order.status == "complete" and order.filled > 0 and \
                not PIPELINE_TAG.match(order.tag):
            self.on_untagged(order)
        fills, self.seen[order.order_id] = new_fills(order, self.seen.get(order.order_id, (0, 0)),
                                                     int(time.time() * 1000))
        for fill in fills:
            await self.emit(fill)
        if order.status in ENDED_SHORT | {"complete"}:
            self.ended.add(order.order_id)

    async def poll_once(self) -> None:
        for order in await self.book():
            await self.handle(order)

    async def run(self) -> None:
        poller = asyncio.create_task(self._poll_while_down())
        try:
            attempt = 0
            while True:
                try:
                    async for order in self.stream():
                        if order is None:          # connected: catch up on what was missed
                            self.connected.set()
                            attempt = 0
                            await self.poll_once()
                        else:
                            await self.handle(order)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # noqa: BLE001 - any failure: reconnect with backoff
                    log.warning("order-update stream down (%s); polling the order book",
                                type(exc).__name__)
                finally:
                    self.connected.clear()
                attempt += 1
                await asyncio.sleep(min(30.0, 0.5 * 2 ** min(attempt, 6)))
        finally:
            poller.cancel()

    async def _poll_while_down(self) -> None:
        while True:
            if not self.connected.is_set():
                try:
                    await self.poll_once()
                except AccountError:
                    pass   # the session reports its own health; nothing to poll without it
                except Exception as exc:  # noqa: BLE001
                    log.warning("order-book poll failed: %s", type(exc).__name__)
            await asyncio.sleep(self.poll_interval_s)
