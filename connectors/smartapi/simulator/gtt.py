"""Angel One's GTT rules as smartapi-python sees them: createRule, modifyRule, cancelRule (under
/gtt-service as the SDK calls them, and without it as the documentation shows), ruleDetails and
ruleList; one trigger each, kept and fired by the simulated exchange (SimState.stop_rules).
Statuses NEW (waiting), SENTTOEXCHANGE (its order placed), CANCELLED; the details do not name
the order a rule placed. The error code of an unknown rule is not documented: AB1013 here."""
from __future__ import annotations

from starlette.requests import Request
from starlette.routing import Route

from connectors.smartapi.simulator.rest import SECURE, _admitted, _params, _state, fail, ok
from connectors.smartapi.simulator.state import StopRule

STATUS = {"active": "NEW", "triggered": "SENTTOEXCHANGE", "cancelled": "CANCELLED"}
GTT = f"{SECURE}/gtt/v1"


def row(rule: StopRule) -> dict:
    o = rule.order
    return {"id": int(rule.rule_id), "status": STATUS[rule.status], "createddate": rule.created,
            "updateddate": rule.created, "expirydate": "", "clientid": rule.client_code,
            "tradingsymbol": o["tradingsymbol"], "symboltoken": o["symboltoken"],
            "exchange": o["exchange"], "producttype": o["producttype"],
            "transactiontype": o["transactiontype"], "price": float(o["price"]),
            "qty": int(o["quantity"]), "triggerprice": rule.trigger_paise / 100,
            "disclosedqty": 0}


def _order(p: dict) -> dict | None:
    try:
        qty, price, trigger = int(p["qty"]), float(p["price"]), float(p["triggerprice"])
    except (KeyError, TypeError, ValueError):
        return None
    if qty <= 0 or price <= 0 or trigger <= 0 or p.get("transactiontype") not in ("BUY", "SELL"):
        return None
    return {"variety": "NORMAL", "tradingsymbol": p.get("tradingsymbol"),
            "symboltoken": str(p.get("symboltoken")), "exchange": p.get("exchange"),
            "transactiontype": p["transactiontype"], "ordertype": "LIMIT",
            "producttype": p.get("producttype"), "duration": "DAY", "price": str(price),
            "quantity": str(qty)}


async def _rule(request: Request, kind: str):
    """(session, params, the caller's rule named by params["id"]) or the refusing answer."""
    s, refused = _admitted(request, kind)
    if refused:
        return None, None, None, refused
    p = await _params(request)
    rule = _state(request).own_rule(s.client_code, p.get("id"))
    if rule is None:
        return s, p, None, fail("AB1013", "GTT rule not found")
    return s, p, rule, None


async def create_rule(request: Request):
    s, refused = _admitted(request, "order")
    if refused:
        return refused
    p = await _params(request)
    order = _order(p)
    if order is None:
        return fail("AB1007", "Invalid GTT parameters")
    rule = _state(request).add_rule(s.client_code, order, round(float(p["triggerprice"]) * 100))
    return ok({"id": int(rule.rule_id)}) if rule else fail("AB1009", "Symbol not found")


async def modify_rule(request: Request):
    s, p, rule, refused = await _rule(request, "order")
    if refused:
        return refused
    order = _order({**rule.order, "qty": rule.order["quantity"], **p})
    if order is None or rule.status != "active":
        return fail("AB1007", "Invalid GTT parameters" if order is None else
                    f"GTT rule is {STATUS[rule.status]}; it cannot be modified")
    rule.order, rule.trigger_paise = order, round(float(p["triggerprice"]) * 100)
    return ok({"id": int(rule.rule_id)})


async def cancel_rule(request: Request):
    s, p, rule, refused = await _rule(request, "order")
    if refused:
        return refused
    if rule.status != "active":
        return fail("AB1007", f"GTT rule is {STATUS[rule.status]}; it cannot be cancelled")
    rule.status = "cancelled"
    return ok({"id": int(rule.rule_id)})


async def rule_details(request: Request):
    s, p, rule, refused = await _rule(request, "rules")
    return refused or ok({k: v for k, v in row(rule).items() if k != "id"})


async def rule_list(request: Request):
    s, refused = _admitted(request, "rules")
    if refused:
        return refused
    p = await _params(request)
    wanted = set(p.get("status") or [])
    if not wanted or not isinstance(p.get("page"), int) or not isinstance(p.get("count"), int):
        return fail("AB1007", "Invalid GTT list parameters")
    rows = [row(r) for r in _state(request).stop_rules.values()
            if r.client_code == s.client_code and ("FORALL" in wanted or
                                                   STATUS[r.status] in wanted)]
    start = (p["page"] - 1) * p["count"]
    return ok(rows[start:start + p["count"]])


def routes() -> list[Route]:
    writes = [(f"{prefix}{GTT}/{name}", handler) for prefix in ("/gtt-service", "")
              for name, handler in (("createRule", create_rule), ("modifyRule", modify_rule),
                                    ("cancelRule", cancel_rule))]
    return [Route(path, handler, methods=["POST"]) for path, handler in writes] + [
        Route(f"{GTT}/ruleDetails", rule_details, methods=["POST"]),
        Route(f"{GTT}/ruleList", rule_list, methods=["POST"])]
