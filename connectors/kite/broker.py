"""The Kite broker: MARKET/LIMIT orders with the pipeline's client order id as Kite's `tag`,
placed exactly once (connectors.placement). Fills arrive later from the order updates
(orders.py).

Errors, as the kiteconnect SDK raises them: a timeout, a dropped connection, a non-JSON answer
(DataException: a gateway's 5xx page) or a 5xx error may have placed the order: retried after
looking in the order book. 429 "Too many requests" placed nothing: retried. InputException,
OrderException and PermissionException are the broker refusing the order: never retried."""
from __future__ import annotations

import requests
from kiteconnect import exceptions as kex

from connectors.kite.master import Master
from connectors.kite.session import KiteSession
from connectors.placement import PlacingBroker, Rejected, Retry
from schemas.records import OrderIntent

PRODUCTS = {"INTRADAY": "MIS", "DELIVERY": "CNC", "CARRYFORWARD": "NRML", "MARGIN": "NRML"}


def order_params(intent: OrderIntent, tradingsymbol: str) -> dict:
    params = dict(variety="regular", exchange=intent.exchange, tradingsymbol=tradingsymbol,
                  transaction_type=intent.side, quantity=intent.quantity,
                  product=PRODUCTS.get(intent.product_type, intent.product_type),
                  order_type=intent.order_type, validity="DAY", tag=intent.client_order_id)
    if intent.order_type == "MARKET":
        params["market_protection"] = -1       # the exchange's own protection band
    else:
        params["price"] = intent.reference_price_paise / 100
    return params


class KiteBroker(PlacingBroker):
    tag_field = "tag"

    def __init__(self, session: KiteSession, master: Master, attempts: int = 8):
        self.session, self.master, self.attempts = session, master, attempts

    async def _call(self, kind: str, method: str, *args, **kwargs):
        try:
            return await self.session.call(kind, method, *args, **kwargs)
        except requests.Timeout as exc:
            raise Retry(f"timed out ({type(exc).__name__})", maybe_placed=True) from None
        except requests.ConnectionError as exc:
            raise Retry(f"connection failed ({type(exc).__name__})", maybe_placed=True) from None
        except kex.NetworkException as exc:
            if exc.code == 429:
                raise Retry("rate limited (429)", maybe_placed=False) from None
            raise Retry(f"network error at the broker ({exc.code})", maybe_placed=True) from None
        except (kex.DataException, kex.GeneralException) as exc:
            raise Retry(f"broken answer ({type(exc).__name__}, {exc.code})",
                        maybe_placed=True) from None
        except (kex.InputException, kex.OrderException, kex.PermissionException) as exc:
            raise Rejected(str(exc)) from None

    async def _place(self, intent: OrderIntent) -> str:
        symbol = await self.master.tradingsymbol(intent.exchange, intent.token, intent.symbol)
        if symbol is None:
            raise Rejected(f"{intent.exchange}:{intent.symbol} is not in Kite's instrument list")
        return await self._call("order", "place_order", **order_params(intent, symbol))

    async def _book(self) -> list[dict]:
        return await self._call("other", "orders")

    async def _cancel(self, order: dict) -> str:
        await self._call("order", "cancel_order", order.get("variety") or "regular",
                         order["order_id"])
        return "ok"

    async def _by_exchange_token(self, rows: list[dict], *fields: str) -> dict[str, int]:
        out: dict[str, int] = {}
        for row in rows:
            inst = await self.master.by_kite_token(row["instrument_token"])
            token = inst.exchange_token if inst else str(row["instrument_token"])
            out[token] = out.get(token, 0) + sum(int(row.get(f) or 0) for f in fields)
        return out

    async def net_positions(self) -> dict[str, int]:
        return await self._by_exchange_token((await self._call("other", "positions"))["net"],
                                             "quantity")

    async def holdings(self) -> dict[str, int]:
        return await self._by_exchange_token(await self._call("other", "holdings"),
                                             "quantity", "t1_quantity")
