"""Upstox's GTT orders as upstox-python-sdk sees them (v3: place, modify, cancel, details), of
one ENTRY rule each, kept and fired by the simulated exchange (SimState.stop_rules). A rule is
SCHEDULED while it waits, TRIGGERED once it has placed its order (named), CANCELLED when
cancelled; as Upstox documents, a completed GTT order is no longer returned, and a triggered one
cannot be cancelled. A triggered rule's order is a limit with Upstox's own market price
protection (system-defined since August 2025; 1 % here)."""
from __future__ import annotations

import json

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from connectors.placement import rule_limit_paise
from connectors.smartapi.simulator.state import StopRule
from connectors.upstox.simulator.rest import _admitted, _sim, error
from connectors.upstox.simulator.state import UpstoxSim

STATUS = {"active": "SCHEDULED", "triggered": "TRIGGERED", "cancelled": "CANCELLED"}
TRIGGERS = {"ABOVE", "BELOW"}
ID_PREFIX = "GTT-C2611000"


def answer(data) -> JSONResponse:
    return JSONResponse({"status": "success", "data": data, "metadata": {"latency": 12}})


def _shown(sim: UpstoxSim, rule: StopRule) -> bool:
    order = sim.exchange.orders.get(rule.order_id or "")
    return order is None or order.status != "complete"


def row(sim: UpstoxSim, rule: StopRule) -> dict:
    inst = sim.instruments[rule.token]
    return {"type": "SINGLE", "exchange": inst.segment, "quantity": int(rule.order["quantity"]),
            "product": rule.order["producttype"], "trading_symbol": inst.trading_symbol,
            "instrument_token": inst.instrument_key, "gtt_order_id": rule.rule_id,
            "expires_at": 0, "created_at": 0, "rules": [{
                "strategy": "ENTRY", "status": STATUS[rule.status], "message": None,
                "trigger_type": "BELOW" if rule.from_above else "ABOVE",
                "trigger_price": rule.trigger_paise / 100,
                "transaction_type": rule.order["transactiontype"],
                "order_id": rule.order_id}]}


async def _body(request: Request) -> dict:
    try:
        body = json.loads(await request.body())
    except ValueError:
        body = None
    return body if isinstance(body, dict) else {}


def _entry(sim: UpstoxSim, body: dict, token: str) -> tuple[int, bool] | None:
    """(trigger in paise, fires from above) of a one-rule GTT body, or None."""
    rules = body.get("rules")
    if body.get("type") != "SINGLE" or not isinstance(rules, list) or len(rules) != 1:
        return None
    rule = rules[0]
    price = sim.exchange.prices.get(token)
    if rule.get("strategy") != "ENTRY" or rule.get("trigger_type") not in TRIGGERS or \
            not isinstance(rule.get("trigger_price"), (int, float)) or price is None:
        return None
    trigger = round(rule["trigger_price"] * 100)
    below = rule["trigger_type"] == "BELOW"
    if (trigger >= price) if below else (trigger <= price):
        return None                       # it would fire at once: Upstox refuses it
    return trigger, below


def _quantity(body: dict) -> int | None:
    qty = body.get("quantity")
    return qty if isinstance(qty, int) and qty > 0 else None


async def place(request: Request):
    account, refused = _admitted(request, "order")
    if refused:
        return refused
    sim, body = _sim(request), await _body(request)
    token = body.get("instrument_token")
    entry = _entry(sim, body, token) if token in sim.instruments else None
    qty = _quantity(body)
    if entry is None or qty is None or body.get("transaction_type") not in ("BUY", "SELL"):
        return error("UDAPI1126", "Invalid GTT order parameters", 400)
    order = {"quantity": str(qty), "symboltoken": token, "ordertype": "LIMIT",
             "transactiontype": body["transaction_type"],
             "producttype": body.get("product") or "D", "validity": "DAY",
             "price": str(rule_limit_paise(entry[0], body["transaction_type"]) / 100)}
    rule = sim.exchange.add_rule(account.user_id, order, entry[0], ID_PREFIX)
    return answer({"gtt_order_ids": [rule.rule_id]})


def _own(request: Request, account, body: dict) -> StopRule | None:
    return _sim(request).exchange.own_rule(account.user_id, body.get("gtt_order_id"))


async def modify(request: Request):
    account, refused = _admitted(request, "order")
    if refused:
        return refused
    sim, body = _sim(request), await _body(request)
    rule = _own(request, account, body)
    if rule is None or not _shown(sim, rule):
        return error("UDAPI1134", "GTT order not found", 400)
    entry, qty = _entry(sim, body, rule.token), _quantity(body)
    if entry is None or qty is None or rule.status != "active":
        return error("UDAPI1126", "Invalid GTT order parameters" if rule.status == "active"
                     else f"GTT order is {STATUS[rule.status]}", 400)
    rule.trigger_paise, rule.from_above = entry
    price = rule_limit_paise(entry[0], rule.order["transactiontype"]) / 100
    rule.order = {**rule.order, "quantity": str(qty), "price": str(price)}
    return answer({"gtt_order_ids": [rule.rule_id]})


async def cancel(request: Request):
    account, refused = _admitted(request, "order")
    if refused:
        return refused
    body = await _body(request)
    rule = _own(request, account, body)
    if rule is None or not _shown(_sim(request), rule):
        return error("UDAPI1134", "GTT order not found", 400)
    if rule.status != "active":
        return error("UDAPI1136", f"GTT order is {STATUS[rule.status]}: it cannot be cancelled",
                     400)
    rule.status = "cancelled"
    return answer({"gtt_order_ids": [rule.rule_id]})


async def details(request: Request):
    account, refused = _admitted(request, "other")
    if refused:
        return refused
    sim, wanted = _sim(request), request.query_params.get("gtt_order_id")
    rows = [row(sim, r) for r in sim.exchange.stop_rules.values()
            if r.client_code == account.user_id and _shown(sim, r)
            and wanted in (None, r.rule_id)]
    if wanted and not rows:
        return error("UDAPI1134", "GTT order not found", 400)
    return answer(rows)


def routes() -> list[Route]:
    return [Route("/v3/order/gtt/place", place, methods=["POST"]),
            Route("/v3/order/gtt/modify", modify, methods=["PUT"]),
            Route("/v3/order/gtt/cancel", cancel, methods=["DELETE"]),
            Route("/v3/order/gtt", details, methods=["GET"])]
