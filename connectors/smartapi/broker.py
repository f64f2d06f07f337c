"""The SmartAPI broker: MARKET/LIMIT orders with the pipeline's client order id as `ordertag`,
placed exactly once (connectors.placement). Fills arrive later from the order-update stream
(orders.py). Retried: 5xx, timeouts, non-JSON answers, rate-limit pages, AB1004 and AB2001;
never a rejection."""
from __future__ import annotations

import requests

from connectors.placement import PlacingBroker, Rejected, Retry
from connectors.smartapi.sdk import sdk
from connectors.smartapi.session import Session, error_code
from schemas.records import OrderIntent

RETRY_LATER = {"AB1004", "AB2001"}


def order_params(intent: OrderIntent) -> dict:
    return {"variety": "NORMAL", "tradingsymbol": intent.symbol, "symboltoken": intent.token,
            "transactiontype": intent.side, "exchange": intent.exchange,
            "ordertype": intent.order_type, "producttype": intent.product_type,
            "duration": "DAY", "price": "0" if intent.order_type == "MARKET" else
            str(intent.reference_price_paise / 100), "quantity": str(intent.quantity),
            "ordertag": intent.client_order_id}


class SmartApiBroker(PlacingBroker):
    broker_name = "SmartAPI"
    tag_field = "ordertag"

    def __init__(self, session: Session, attempts: int = 8):
        self.session, self.attempts = session, attempts

    async def _call(self, kind: str, method: str, *args):
        """The SDK's answer; Retry when the call failed on the way (maybe placed, unless the
        broker said it was over its rate limit)."""
        try:
            return await self.session.call(kind, method, *args)
        except requests.Timeout as exc:
            raise Retry(f"timed out ({type(exc).__name__})", maybe_placed=True) from None
        except requests.ConnectionError as exc:
            raise Retry(f"connection failed ({type(exc).__name__})", maybe_placed=True) from None
        except sdk().exceptions.DataException as exc:
            limited = "exceeding rate limit" in str(exc)
            raise Retry("rate limited" if limited else "answer was not JSON (5xx?)",
                        maybe_placed=not limited) from None

    async def _place(self, intent: OrderIntent) -> str:
        response = await self._call("order", "placeOrderFullResponse", order_params(intent))
        code = error_code(response)
        if code is None:
            return response["data"]["orderid"]
        if code in RETRY_LATER:
            raise Retry(f"broker said try later ({code})", maybe_placed=False)
        raise Rejected(f"{response.get('message', 'rejected')} ({code})")

    async def _book(self) -> list[dict]:
        response = await self._call("book", "orderBook")
        if error_code(response) is not None:
            raise Retry(f"order book refused ({error_code(response)})", maybe_placed=False)
        return response.get("data") or []

    async def _cancel(self, order: dict) -> str:
        response = await self._call("order", "cancelOrder", order["orderid"],
                                    order.get("variety") or "NORMAL")
        code = error_code(response)
        if code is not None:
            raise Rejected(f"{response.get('message', 'refused')} ({code})")
        return "ok"

    async def _rows(self, method: str) -> list[dict]:
        response = await self._call("book", method)
        if error_code(response) is not None:
            raise Retry(f"{method} refused ({error_code(response)})", maybe_placed=False)
        data = response.get("data") or []
        return data.get("holdings") or [] if isinstance(data, dict) else data

    async def net_positions(self) -> dict[str, int]:
        net: dict[str, int] = {}
        for row in await self._rows("position"):
            token = str(row.get("symboltoken"))
            net[token] = net.get(token, 0) + int(row.get("netqty") or 0)
        return net

    async def holdings(self) -> dict[str, int]:
        held: dict[str, int] = {}
        for row in await self._rows("holding"):
            token = str(row.get("symboltoken"))
            held[token] = held.get(token, 0) + int(row.get("quantity") or 0) + \
                int(row.get("t1quantity") or 0)
        return held
