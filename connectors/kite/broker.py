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
from connectors.placement import PlacingBroker, Rejected, Retry, RuleState, rule_limit_paise
from schemas.money import rupees_to_paise
from schemas.records import OrderIntent

PRODUCTS = {"INTRADAY": "MIS", "DELIVERY": "CNC", "CARRYFORWARD": "NRML", "MARGIN": "NRML"}


def rule_legs(intent: OrderIntent, tradingsymbol: str) -> tuple[str, list[float], list[dict]]:
    """A GTT for a PROTECT intent: (type, trigger values in rupees, one order per trigger),
    the stop and target as an OCO pair (ascending), or a single trigger."""
    triggers = sorted(v for v in (intent.stop_paise, intent.target_paise) if v is not None)
    orders = [dict(transaction_type=intent.side, quantity=intent.quantity, order_type="LIMIT",
                   product=PRODUCTS.get(intent.product_type, intent.product_type),
                   price=rule_limit_paise(v, intent.side) / 100) for v in triggers]
    return ("two-leg" if len(triggers) == 2 else "single"), [v / 100 for v in triggers], orders


def rule_state(row: dict) -> RuleState:
    rule_id, status = str(row["id"]), row.get("status")
    if status == "active":
        return RuleState(rule_id, "active")
    if status == "triggered":
        placed = [((o.get("result") or {}).get("order_result") or {}).get("order_id")
                  for o in row.get("orders") or []]
        return RuleState(rule_id, "triggered", next((p for p in placed if p), None))
    return RuleState(rule_id, "gone")


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
    broker_name = "Kite"
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

    async def last_price(self, token: str, symbol: str, exchange: str) -> int | None:
        name = await self.master.tradingsymbol(exchange, token, symbol)
        if name is None:
            return None
        quote = (await self._call("quote", "ltp", [f"{exchange}:{name}"])).get(
            f"{exchange}:{name}")
        return rupees_to_paise(str(quote["last_price"])) if quote else None

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

    # -- GTT: the broker-side stop rule ----------------------------------------------------
    async def _legs(self, intent: OrderIntent):
        inst = await self.master.instrument(intent.exchange, intent.token, intent.symbol)
        if inst is None:
            raise Rejected(f"{intent.exchange}:{intent.symbol} is not in Kite's instrument list")
        return inst.tradingsymbol, *rule_legs(intent, inst.tradingsymbol)

    async def protect(self, intent: OrderIntent) -> str:
        symbol, kind, values, orders = await self._legs(intent)
        name = f"{intent.exchange}:{symbol}"
        last = (await self._call("quote", "ltp", name))[name]["last_price"]
        if intent.rule_id:
            await self._call("other", "modify_gtt", int(intent.rule_id), kind, symbol,
                             intent.exchange, values, last, orders)
            return intent.rule_id
        answer = await self._call("other", "place_gtt", kind, symbol, intent.exchange, values,
                                  last, orders)
        return str(answer["trigger_id"])

    async def find_rule(self, intent: OrderIntent) -> str | None:
        symbol, kind, values, orders = await self._legs(intent)
        for row in await self._call("other", "get_gtts"):
            c = row["condition"]
            if row.get("status") == "active" and c["tradingsymbol"] == symbol and \
                    [float(v) for v in c["trigger_values"]] == values and \
                    row["orders"][0]["quantity"] == intent.quantity:
                return str(row["id"])
        return None

    async def rule_state(self, rule_id: str) -> RuleState:
        try:
            return rule_state(await self._call("other", "get_gtt", int(rule_id)))
        except Rejected:              # Kite does not know it (any more)
            return RuleState(rule_id, "gone")

    async def delete_rule(self, rule_id: str) -> None:
        await self._call("other", "delete_gtt", int(rule_id))

    async def rules(self) -> list[RuleState]:
        return [rule_state(row) for row in await self._call("other", "get_gtts")]
