"""Kite order states (the ticker websocket's `{"type": "order"}` messages, the order book) as
OrderStates (connectors.order_updates turns them into fills). The order-update socket is a
ticker connection with no instruments subscribed."""
from __future__ import annotations

import json
from decimal import Decimal

import websockets

from connectors.kite.master import Master
from connectors.kite.session import KiteSession
from connectors.order_updates import OrderState, OrderUpdates


def socket_url(ws_root: str, session: KiteSession) -> str:
    """Contains the access token: never log it."""
    return f"{ws_root}?api_key={session.creds.api_key}&access_token={session.access_token}"


async def order_state(row: dict, master: Master) -> OrderState:
    inst = await master.by_kite_token(row.get("instrument_token") or 0)
    return OrderState(order_id=str(row.get("order_id") or ""), tag=str(row.get("tag") or ""),
                      token=inst.exchange_token if inst else str(row.get("instrument_token")),
                      side=row.get("transaction_type"), quantity=int(row.get("quantity") or 0),
                      filled=int(row.get("filled_quantity") or 0),
                      average_price=Decimal(str(row.get("average_price") or 0)),
                      status=str(row.get("status") or "").lower(),
                      text=row.get("status_message") or "")


class KiteOrderUpdates(OrderUpdates):
    def __init__(self, session: KiteSession, master: Master, ws_root: str, emit,
                 poll_interval_s: float = 1.0):
        super().__init__(emit, poll_interval_s)
        self.session, self.master, self.ws_root = session, master, ws_root

    async def book(self) -> list[OrderState]:
        return [await order_state(row, self.master)
                for row in await self.session.call("other", "orders")]

    async def stream(self):
        await self.session.ensure()
        async with websockets.connect(socket_url(self.ws_root, self.session), ping_interval=10,
                                      open_timeout=10) as ws:
            yield None
            async for message in ws:
                if isinstance(message, bytes):
                    continue            # heartbeats and market data: not for this socket
                try:
                    data = json.loads(message)
                except ValueError:
                    continue
                if data.get("type") == "order" and data.get("data"):
                    yield await order_state(data["data"], self.master)
