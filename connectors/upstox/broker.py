"""The Upstox broker: MARKET/LIMIT orders with the pipeline's client order id as Upstox's
`tag`, placed exactly once (connectors.placement). Fills arrive later from the portfolio
stream (orders.py).

Errors, as the upstox-python-sdk raises them: a timeout or a dropped connection (urllib3) and
any 5xx may have placed the order: retried after looking in the order book. 429 placed
nothing: retried. Other 4xx answers are Upstox refusing the order: never retried."""
from __future__ import annotations

import upstox_client
from upstox_client.rest import ApiException
from urllib3.exceptions import HTTPError

from connectors.placement import PlacingBroker, Rejected, Retry
from connectors.upstox.master import Master
from connectors.upstox.session import API_VERSION, UpstoxSession, error_text
from schemas.records import OrderIntent

PRODUCTS = {"INTRADAY": "I", "DELIVERY": "D", "CARRYFORWARD": "D", "MARGIN": "D"}


def order_request(intent: OrderIntent, instrument_key: str) -> upstox_client.PlaceOrderRequest:
    limit = intent.order_type == "LIMIT"
    return upstox_client.PlaceOrderRequest(
        quantity=intent.quantity, product=PRODUCTS.get(intent.product_type, "D"),
        validity="DAY", price=intent.reference_price_paise / 100 if limit else 0,
        tag=intent.client_order_id, instrument_token=instrument_key,
        order_type=intent.order_type, transaction_type=intent.side, disclosed_quantity=0,
        trigger_price=0, is_amo=False)


class UpstoxBroker(PlacingBroker):
    broker_name = "Upstox"
    tag_field = "tag"

    def __init__(self, session: UpstoxSession, master: Master, attempts: int = 8):
        self.session, self.master, self.attempts = session, master, attempts

    async def _call(self, kind: str, api: type, method: str, *args, **kwargs):
        try:
            return await self.session.api(kind, api, method, *args, **kwargs)
        except HTTPError as exc:            # timeouts, refused or dropped connections
            raise Retry(f"no answer ({type(exc).__name__})", maybe_placed=True) from None
        except ApiException as exc:
            if exc.status == 429:
                raise Retry("rate limited (429)", maybe_placed=False) from None
            if exc.status is None or exc.status >= 500:
                raise Retry(f"broker error (HTTP {exc.status})", maybe_placed=True) from None
            raise Rejected(error_text(exc)) from None

    async def _place(self, intent: OrderIntent) -> str:
        inst = await self.master.instrument(intent.exchange, intent.token, intent.symbol)
        if inst is None:
            raise Rejected(f"{intent.exchange}:{intent.symbol} is not in Upstox's instrument list")
        answer = await self._call("order", upstox_client.OrderApi, "place_order",
                                  order_request(intent, inst.instrument_key), API_VERSION)
        return answer.data.order_id

    async def _book(self) -> list[dict]:
        answer = await self._call("other", upstox_client.OrderApi, "get_order_book", API_VERSION)
        return [row.to_dict() for row in answer.data or []]

    async def _cancel(self, order: dict) -> str:
        await self._call("order", upstox_client.OrderApi, "cancel_order", order["order_id"],
                         API_VERSION)
        return "ok"

    async def _by_exchange_token(self, rows, *fields: str) -> dict[str, int]:
        out: dict[str, int] = {}
        for row in rows:
            inst = await self.master.by_instrument_key(row.instrument_token)
            token = inst.exchange_token if inst else row.instrument_token
            out[token] = out.get(token, 0) + sum(int(getattr(row, f) or 0) for f in fields)
        return out

    async def net_positions(self) -> dict[str, int]:
        answer = await self._call("other", upstox_client.PortfolioApi, "get_positions",
                                  API_VERSION)
        return await self._by_exchange_token(answer.data or [], "quantity")

    async def holdings(self) -> dict[str, int]:
        answer = await self._call("other", upstox_client.PortfolioApi, "get_holdings",
                                  API_VERSION)
        return await self._by_exchange_token(answer.data or [], "quantity", "t1_quantity")
