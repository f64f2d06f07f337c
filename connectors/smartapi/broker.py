"""The SmartAPI broker: MARKET/LIMIT orders with the pipeline's client order id as `ordertag`,
placed exactly once (connectors.placement). Fills arrive later from the order-update stream
(orders.py). Retried: 5xx, timeouts, non-JSON answers, rate-limit pages, AB1004 and AB2001;
never a rejection.

Broker-side stops are Angel One GTT rules of one trigger: the position's stop (its target stays
pinewire's). A rule is NEW or ACTIVE while it waits, SENTTOEXCHANGE once it has placed its
order, CANCELLED when deleted. Its details do not name the order it placed: the rule watcher
finds that order in the book (agents/rule_watch.py). A rule Angel One does not know is gone (it
keeps fired and cancelled rules: its list filters by those statuses). Any other status is taken
as still able to fire: pinewire then refuses its own exit rather than risk a second one."""
from __future__ import annotations

import requests

from connectors.placement import PlacingBroker, Rejected, Retry, RuleState, rule_limit_paise
from connectors.smartapi.sdk import sdk
from connectors.smartapi.session import Session, error_code
from schemas.money import rupees_to_paise
from schemas.records import OrderIntent

RETRY_LATER = {"AB1004", "AB2001"}
RULE_STATES = {"NEW": "active", "ACTIVE": "active", "SENTTOEXCHANGE": "triggered",
               "CANCELLED": "gone"}
WAITING = ["NEW", "ACTIVE"]
RULE_DAYS = 365


def rule_params(intent: OrderIntent) -> dict:
    """A GTT rule of one trigger at intent's stop (a PROTECT intent)."""
    if intent.stop_paise is None:
        raise Rejected("an Angel One stop rule needs a stop-loss, and this link has none")
    return {"tradingsymbol": intent.symbol, "symboltoken": intent.token,
            "exchange": intent.exchange, "producttype": intent.product_type,
            "transactiontype": intent.side,
            "price": rule_limit_paise(intent.stop_paise, intent.side) / 100,
            "qty": intent.quantity, "disclosedqty": 0, "triggerprice": intent.stop_paise / 100,
            "timeperiod": RULE_DAYS}


def rule_state(row: dict) -> RuleState:
    return RuleState(str(row["id"]), RULE_STATES.get(str(row.get("status")), "active"))


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

    async def last_price(self, token: str, symbol: str, exchange: str) -> int | None:
        answer = await self._call("ltp", "ltpData", exchange, symbol, token)
        data = (answer or {}).get("data") or {}
        return rupees_to_paise(str(data["ltp"])) if data.get("ltp") is not None else None

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

    # -- GTT: the broker-side stop rule ----------------------------------------------------
    async def _rule_call(self, kind: str, route: str, params: dict):
        """A GTT route through the SDK's own request path: its gtt* helpers drop the broker's
        error text (they index `data` of a failed answer)."""
        response = await self._call(kind, "_postRequest", route, params)
        code = error_code(response)
        if code is None:
            return response.get("data")
        if code in RETRY_LATER:
            raise Retry(f"broker said try later ({code})", maybe_placed=False)
        raise Rejected(f"{response.get('message', 'refused')} ({code})")

    async def protect(self, intent: OrderIntent) -> str:
        params = rule_params(intent)
        if intent.rule_id:
            await self._rule_call("order", "api.gtt.modify", {"id": intent.rule_id, **params})
            return intent.rule_id
        return str((await self._rule_call("order", "api.gtt.create", params))["id"])

    async def _rule_rows(self, statuses: list[str]) -> list[dict]:
        rows, page = [], 1
        while True:
            data = await self._rule_call("rules", "api.gtt.list",
                                         {"status": statuses, "page": page, "count": 100})
            rows += data or []
            if not data or len(data) < 100:
                return rows
            page += 1

    async def find_rule(self, intent: OrderIntent) -> str | None:
        params = rule_params(intent)
        for row in await self._rule_rows(WAITING):
            if str(row.get("symboltoken")) == intent.token and \
                    float(row.get("triggerprice") or 0) == params["triggerprice"] and \
                    int(row.get("qty") or 0) == intent.quantity:
                return str(row["id"])
        return None

    async def rule_state(self, rule_id: str) -> RuleState:
        try:
            row = await self._rule_call("rules", "api.gtt.details", {"id": rule_id})
        except Rejected:                # Angel One does not know it (any more)
            return RuleState(rule_id, "gone")
        return rule_state({**row, "id": rule_id})

    async def delete_rule(self, rule_id: str) -> None:
        row = await self._rule_call("rules", "api.gtt.details", {"id": rule_id})
        await self._rule_call("order", "api.gtt.cancel", {
            "id": rule_id, "symboltoken": row["symboltoken"], "exchange": row["exchange"]})

    async def rules(self) -> list[RuleState]:
        return [rule_state(row) for row in await self._rule_rows(WAITING + ["SENTTOEXCHANGE"])]
