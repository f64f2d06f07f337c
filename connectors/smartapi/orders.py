"""SmartAPI order states (order-update websocket, order book) as OrderStates
(connectors.order_updates turns them into fills)."""
from __future__ import annotations

import json
from decimal import Decimal

import websockets

from connectors.order_updates import OrderState, OrderUpdates
from connectors.smartapi.session import Session, error_code


def order_state(row: dict) -> OrderState:
    return OrderState(order_id=str(row.get("orderid") or ""), tag=str(row.get("ordertag") or ""),
                      token=str(row.get("symboltoken")), side=row.get("transactiontype"),
                      quantity=int(row.get("quantity") or 0),
                      filled=int(row.get("filledshares") or 0),
                      average_price=Decimal(str(row.get("averageprice") or 0)),
                      status=str(row.get("status") or row.get("orderstatus") or "").lower(),
                      text=row.get("text") or "")


class SmartApiOrderUpdates(OrderUpdates):
    def __init__(self, session: Session, ws_url: str, emit, poll_interval_s: float = 1.0):
        super().__init__(emit, poll_interval_s)
        self.session, self.ws_url = session, ws_url

    async def book(self) -> list[OrderState]:
        response = await self.session.call("book", "orderBook")
        if error_code(response) is not None:
            return []
        return [order_state(row) for row in response.get("data") or []]

    async def stream(self):
        await self.session.ensure()
        async with websockets.connect(self.ws_url, additional_headers=self.session.auth_headers(),
                                      ping_interval=10, open_timeout=10) as ws:
            yield None
            async for message in ws:
                if not message or isinstance(message, bytes):
                    continue   # the SDK's pong payloads arrive as empty messages
                try:
                    data = json.loads(message)
                except ValueError:
                    continue
                row = data.get("orderData") or {}
                if data.get("order-status") != "AB00" and row:
                    yield order_state(row)
