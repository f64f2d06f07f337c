"""Broker order states become Fill records: one per filled increment, a REJECTED one (with the
broker's text) when an order ends without filling in full. From the order-update websocket,
or from order-book polls (within its 1 request/s limit) while the socket is down.

Fill ids are derived from the broker order id and the cumulative filled quantity, so the same
state seen twice (socket and poll, two workers, a restart) is the same fill.
"""
from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from decimal import Decimal
from typing import Awaitable, Callable

import websockets

from connectors.smartapi.session import LoginFailed, Session, error_code
from schemas import ids
from schemas.records import Fill

log = logging.getLogger(__name__)
PIPELINE_TAG = re.compile(r"^(?P<position>[0-9a-f]{16})[EX]\d+$")
ENDED_SHORT = {"rejected", "cancelled"}


def fills_from_row(row: dict, seen: tuple[int, int], now_ms: int) -> tuple[list[Fill],
                                                                            tuple[int, int]]:
    """New fills in an order-book row, given (filled qty, filled value in paise) seen before."""
    tag = PIPELINE_TAG.match(str(row.get("ordertag") or ""))
    if not tag:
        return [], seen
    filled = int(row.get("filledshares") or 0)
    value = int((Decimal(str(row.get("averageprice") or 0)) * 100 * filled).to_integral_value())
    common = dict(client_order_id=row["ordertag"], position_id=tag["position"],
                  token=str(row.get("symboltoken")), side=row.get("transactiontype"),
                  at_ms=now_ms, broker_order_id=row.get("orderid"))
    fills = []
    if filled > seen[0]:
        qty = filled - seen[0]
        fills.append(Fill(fill_id=ids.fill_id(row["orderid"], filled), status="FILLED",
                          quantity=qty, price_paise=round((value - seen[1]) / qty), **common))
        seen = (filled, value)
    status = str(row.get("status") or row.get("orderstatus") or "").lower()
    if status in ENDED_SHORT and filled < int(row.get("quantity") or 0):
        fills.append(Fill(fill_id=ids.fill_id(row["orderid"], status), status="REJECTED",
                          quantity=0, price_paise=0, text=row.get("text") or status, **common))
    return fills, seen


class OrderUpdates:
    def __init__(self, session: Session, ws_url: str, emit: Callable[[Fill], Awaitable[None]],
                 poll_interval_s: float = 1.0):
        self.session, self.ws_url, self.emit = session, ws_url, emit
        self.poll_interval_s = poll_interval_s
        self.seen: dict[str, tuple[int, int]] = {}
        self.ended: set[str] = set()
        self.connected = asyncio.Event()

    async def handle(self, row: dict) -> None:
        order_id = row.get("orderid")
        if not order_id or order_id in self.ended:
            return
        fills, self.seen[order_id] = fills_from_row(row, self.seen.get(order_id, (0, 0)),
                                                    int(time.time() * 1000))
        for fill in fills:
            await self.emit(fill)
        if str(row.get("status", "")).lower() in ENDED_SHORT | {"complete"}:
            self.ended.add(order_id)

    async def poll_once(self) -> None:
        response = await self.session.call("book", "orderBook")
        if error_code(response) is None:
            for row in response.get("data") or []:
                await self.handle(row)

    async def run(self) -> None:
        """Forever: the socket when it is up, order-book polls while it is not."""
        poller = asyncio.create_task(self._poll_while_down())
        try:
            attempt = 0
            while True:
                try:
                    await self.session.ensure()
                    async with websockets.connect(self.ws_url,
                                                  additional_headers=self.session.auth_headers(),
                                                  ping_interval=10, open_timeout=10) as ws:
                        self.connected.set()
                        attempt = 0
                        await self.poll_once()   # whatever changed while the socket was down
                        async for message in ws:
                            await self._on_message(message)
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

    async def _on_message(self, message) -> None:
        if not message or isinstance(message, bytes):
            return   # the SDK's pong payloads arrive as empty messages
        try:
            data = json.loads(message)
        except ValueError:
            return
        row = data.get("orderData") or {}
        if data.get("order-status") != "AB00" and row:
            await self.handle(row)

    async def _poll_while_down(self) -> None:
        while True:
            if not self.connected.is_set():
                try:
                    await self.poll_once()
                except LoginFailed:
                    pass   # the session reports its own health; nothing to poll without it
                except Exception as exc:  # noqa: BLE001
                    log.warning("order-book poll failed: %s", type(exc).__name__)
            await asyncio.sleep(self.poll_interval_s)
