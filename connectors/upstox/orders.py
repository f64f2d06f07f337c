"""Upstox order states (the portfolio stream's order updates, the order book) as OrderStates
(connectors.order_updates turns them into fills). The stream's address comes from its
authorize call, with a one-time code in it."""
from __future__ import annotations

import json
from decimal import Decimal

import upstox_client
import websockets

from connectors.order_updates import OrderState, OrderUpdates
from connectors.upstox.master import Master
from connectors.upstox.session import API_VERSION, UpstoxSession


async def order_state(row: dict, master: Master) -> OrderState:
    inst = await master.by_instrument_key(row.get("instrument_token") or "")
    return OrderState(order_id=str(row.get("order_id") or ""), tag=str(row.get("tag") or ""),
                      token=inst.exchange_token if inst else str(row.get("instrument_token")),
                      side=row.get("transaction_type"), quantity=int(row.get("quantity") or 0),
                      filled=int(row.get("filled_quantity") or 0),
                      average_price=Decimal(str(row.get("average_price") or 0)),
                      status=str(row.get("status") or "").lower(),
                      text=row.get("status_message") or "")


async def authorized_url(session: UpstoxSession, method: str, *args) -> str:
    """A feed's one-time address. Contains a secret code: never log it."""
    answer = await session.api("other", upstox_client.WebsocketApi, method, *args)
    return answer.data.authorized_redirect_uri


class UpstoxOrderUpdates(OrderUpdates):
    def __init__(self, session: UpstoxSession, master: Master, emit,
                 poll_interval_s: float = 1.0):
        super().__init__(emit, poll_interval_s)
        self.session, self.master = session, master

    async def book(self) -> list[OrderState]:
        answer = await self.session.api("other", upstox_client.OrderApi, "get_order_book",
                                        API_VERSION)
        return [await order_state(row.to_dict(), self.master) for row in answer.data or []]

    async def stream(self):
        url = await authorized_url(self.session, "get_portfolio_stream_feed_authorize",
                                   API_VERSION)
        async with websockets.connect(url, ping_interval=10, open_timeout=10) as ws:
            yield None
            async for message in ws:
                try:
                    data = json.loads(message)
                except ValueError:
                    continue
                if data.get("update_type") == "order" and data.get("order_id"):
                    yield await order_state(data, self.master)
