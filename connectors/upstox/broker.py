"""The Upstox broker: MARKET/LIMIT orders with the pipeline's client order id as Upstox's
`tag`, placed exactly once (connectors.placement). Fills arrive later from the portfolio
stream (orders.py).

Errors, as the upstox-python-sdk raises them: a timeout or a dropped connection (urllib3) and
any 5xx may have placed the order: retried after looking in the order book. 429 placed
nothing: retried. Other 4xx answers are Upstox refusing the order: never retried.

Broker-side stops are Upstox GTT orders of one rule: an ENTRY that sells below (or buys above)
the position's stop — Upstox wants an ENTRY in every GTT, and a second rule would be a second
order the broker could place; the target stays pinewire's. A rule that has placed its order
names it (TRIGGERED, OPEN, COMPLETED); SCHEDULED, PENDING and INACTIVE wait; CANCELLED, EXPIRED
and FAILED (its order refused) exit nothing. Upstox does not return completed GTT orders and
refuses to cancel a triggered one: a rule it no longer knows has fired (its order is found in
the book by agents/rule_watch.py), and a cancellation it accepted means the rule had not."""
from __future__ import annotations

import upstox_client
from upstox_client.rest import ApiException
from urllib3.exceptions import HTTPError

from connectors.placement import PlacingBroker, Rejected, Retry, RuleState
from connectors.upstox.master import Master
from connectors.upstox.session import API_VERSION, UpstoxSession, error_text
from schemas.money import rupees_to_paise
from schemas.records import OrderIntent

PRODUCTS = {"INTRADAY": "I", "DELIVERY": "D", "CARRYFORWARD": "D", "MARGIN": "D"}
WAITING = {"SCHEDULED", "PENDING", "INACTIVE"}
EXITED_NOTHING = {"CANCELLED", "EXPIRED", "FAILED"}


def rule_state(row) -> RuleState:
    """The state of a one-rule GTT order (the SDK's GttOrderDetails)."""
    rule = (row.rules or [None])[0]
    status = str(getattr(rule, "status", "") or "").upper()
    if status in EXITED_NOTHING:
        return RuleState(row.gtt_order_id, "gone")
    if rule is not None and rule.order_id and status not in WAITING:
        return RuleState(row.gtt_order_id, "triggered", str(rule.order_id))
    return RuleState(row.gtt_order_id, "active")


def gtt_rules(intent: OrderIntent) -> list[upstox_client.GttRule]:
    if intent.stop_paise is None:
        raise Rejected("an Upstox stop rule needs a stop-loss, and this link has none")
    return [upstox_client.GttRule(strategy="ENTRY", trigger_price=intent.stop_paise / 100,
                                  trigger_type="BELOW" if intent.side == "SELL" else "ABOVE")]


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
    deleting_proves_unfired = True

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

    async def last_price(self, token: str, symbol: str, exchange: str) -> int | None:
        inst = await self.master.instrument(exchange, token, symbol)
        if inst is None:
            return None
        answer = await self._call("other", upstox_client.MarketQuoteV3Api, "get_ltp",
                                  instrument_key=inst.instrument_key)
        quote = next((q for q in (answer.data or {}).values()
                      if q.instrument_token == inst.instrument_key), None)
        return rupees_to_paise(str(quote.last_price)) if quote and quote.last_price else None

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

    # -- GTT: the broker-side stop rule ----------------------------------------------------
    async def protect(self, intent: OrderIntent) -> str:
        rules = gtt_rules(intent)
        if intent.rule_id:
            await self._call("order", upstox_client.OrderApiV3, "modify_gtt_order",
                             upstox_client.GttModifyOrderRequest(
                                 type="SINGLE", quantity=intent.quantity, rules=rules,
                                 gtt_order_id=intent.rule_id))
            return intent.rule_id
        inst = await self.master.instrument(intent.exchange, intent.token, intent.symbol)
        if inst is None:
            raise Rejected(f"{intent.exchange}:{intent.symbol} is not in Upstox's instrument list")
        answer = await self._call("order", upstox_client.OrderApiV3, "place_gtt_order",
                                  upstox_client.GttPlaceOrderRequest(
                                      type="SINGLE", quantity=intent.quantity,
                                      product=PRODUCTS.get(intent.product_type, "D"),
                                      rules=rules, instrument_token=inst.instrument_key,
                                      transaction_type=intent.side))
        return answer.data.gtt_order_ids[0]

    async def _rule_rows(self, rule_id: str | None = None) -> list:
        kwargs = {"gtt_order_id": rule_id} if rule_id else {}
        answer = await self._call("other", upstox_client.OrderApiV3, "get_gtt_order_details",
                                  **kwargs)
        return answer.data or []

    async def find_rule(self, intent: OrderIntent) -> str | None:
        inst = await self.master.instrument(intent.exchange, intent.token, intent.symbol)
        trigger = gtt_rules(intent)[0].trigger_price
        for row in await self._rule_rows():
            if inst and row.instrument_token == inst.instrument_key and \
                    row.quantity == intent.quantity and rule_state(row).status == "active" and \
                    row.rules and float(row.rules[0].trigger_price) == trigger:
                return row.gtt_order_id
        return None

    async def rule_state(self, rule_id: str) -> RuleState:
        try:
            rows = await self._rule_rows(rule_id)
        except Rejected:
            rows = []
        match = [rule_state(row) for row in rows if row.gtt_order_id == rule_id]
        return match[0] if match else RuleState(rule_id, "triggered")   # completed: not kept

    async def delete_rule(self, rule_id: str) -> None:
        await self._call("order", upstox_client.OrderApiV3, "cancel_gtt_order",
                         upstox_client.GttCancelOrderRequest(gtt_order_id=rule_id))

    async def rules(self) -> list[RuleState]:
        return [rule_state(row) for row in await self._rule_rows()]
