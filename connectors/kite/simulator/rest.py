"""The REST API as the kiteconnect SDK sees it: routes, form parameters, the `{"status":
"success", "data": ...}` envelope, errors as `{"status": "error", "error_type": ...}` with the
HTTP status Kite uses (400 input, 403 token, 429 rate limit, HTML 502 from the gateway); plus
/sim/* routes that script prices and faults."""
from __future__ import annotations

import csv
import io
import json
from datetime import datetime, timedelta

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from connectors import sim_history
from connectors.kite.simulator import state as st
from connectors.kite.simulator.state import KiteSim, order_row
from connectors.sim_common import accepted, gateway_error, over_limit, scripting_routes
from schemas.market_time import IST


def ok(data) -> JSONResponse:
    return JSONResponse({"status": "success", "data": data})


def error(kind: str, message: str, status: int) -> JSONResponse:
    return JSONResponse({"status": "error", "message": message, "data": None,
                         "error_type": kind}, status_code=status)


def _sim(request: Request) -> KiteSim:
    return request.app.state.sim


def _admitted(request: Request, kind: str):
    """The caller's account, or the answer refusing the call (bad token, over the limit)."""
    sim = _sim(request)
    account = sim.user(request.headers.get("authorization"))
    if account is None:
        return None, error("TokenException", "Incorrect `api_key` or `access_token`.", 403)
    if over_limit(sim.exchange, account.user_id, kind):
        return None, error("NetworkException", "Too many requests", 429)
    return account, None


async def _form(request: Request) -> dict:
    return {k: v for k, v in (await request.form()).items()}


async def login_page(request: Request):
    """The browser's login: here the user is taken as logged in, and sent on with a request
    token to the app's redirect URL."""
    target = _sim(request).login_redirect(request.query_params.get("api_key", ""))
    if target is None:
        return Response("Invalid `api_key`.", status_code=400)
    return RedirectResponse(target, status_code=302)


async def session_token(request: Request):
    sim = _sim(request)
    if request.method == "DELETE":
        sim.sessions.pop(request.query_params.get("access_token", ""), None)
        return ok(True)
    form = await _form(request)
    access = sim.exchange_token(form.get("api_key", ""), form.get("request_token", ""),
                                form.get("checksum", ""))
    if access is None:
        return error("TokenException", "Token is invalid or has expired.", 403)
    account = sim.accounts[form["api_key"]]
    return ok({"user_type": "individual", "email": "", "user_name": "SIMULATED TRADER",
               "user_shortname": "SIM", "broker": "ZERODHA", "exchanges": ["NSE", "BSE", "NFO"],
               "products": sorted(st.PRODUCTS), "order_types": sorted(st.ORDER_TYPES),
               "avatar_url": None, "user_id": account.user_id, "api_key": account.api_key,
               "access_token": access, "public_token": access[:8], "refresh_token": "",
               "enctoken": "", "login_time": datetime.now().strftime("%Y-%m-%d %H:%M:%S"),
               "meta": {"demat_consent": "consent"}})


async def profile(request: Request):
    account, refused = _admitted(request, "other")
    return refused or ok({"user_id": account.user_id, "user_name": "SIMULATED TRADER",
                          "user_shortname": "SIM", "email": "", "user_type": "individual",
                          "broker": "ZERODHA", "exchanges": ["NSE", "BSE", "NFO"],
                          "products": sorted(st.PRODUCTS), "order_types": sorted(st.ORDER_TYPES)})


def _validate(sim: KiteSim, variety: str, p: dict) -> str | None:
    if variety not in st.VARIETIES:
        return "Invalid `variety`."
    if p.get("transaction_type") not in ("BUY", "SELL"):
        return "Invalid `transaction_type`."
    if p.get("order_type") not in st.ORDER_TYPES:
        return "Invalid `order_type`."
    if p.get("product") not in st.PRODUCTS:
        return "Invalid `product`."
    if not str(p.get("quantity", "")).isdigit() or int(p["quantity"]) <= 0:
        return "Invalid `quantity`."
    if (p.get("exchange"), p.get("tradingsymbol")) not in sim.by_symbol:
        return "Invalid `tradingsymbol`."
    if len(p.get("tag") or "") > 20 or not (p.get("tag") or "x").isalnum():
        return "Invalid `tag`: alphanumeric, at most 20 characters."
    if p["order_type"] == "LIMIT" and not float(p.get("price") or 0) > 0:
        return "Invalid `price`."
    return None


async def place_order(request: Request):
    sim = _sim(request)
    account, refused = _admitted(request, "order")
    if refused:
        return refused
    ex = sim.exchange
    if (page := gateway_error(ex)) is not None:
        return page
    p = await _form(request)
    problem = _validate(sim, request.path_params["variety"], p)
    if problem:
        return error("InputException", problem, 400)
    inst = sim.by_symbol[(p["exchange"], p["tradingsymbol"])]
    order = ex.place(account.user_id, {
        "variety": request.path_params["variety"], "quantity": p["quantity"],
        "symboltoken": str(inst.instrument_token), "tradingsymbol": inst.tradingsymbol,
        "exchange": inst.exchange, "ordertype": p["order_type"],
        "transactiontype": p["transaction_type"], "producttype": p["product"],
        "price": p.get("price") or "0", "validity": p.get("validity", "DAY"),
        "ordertag": p.get("tag", ""), "market_protection": p.get("market_protection", "0")})
    await accepted(ex, order)
    return ok({"order_id": order.orderid})


async def _own_order(request: Request, kind: str = "order"):
    sim = _sim(request)
    account, refused = _admitted(request, kind)
    if refused:
        return None, refused
    order = sim.exchange.orders.get(str(request.path_params["order_id"]))
    if order is None or order.client_code != account.user_id:
        return None, error("OrderException", "Couldn't find that `order_id`.", 400)
    return order, None


async def cancel_order(request: Request):
    order, refused = await _own_order(request)
    if refused:
        return refused
    if order.status not in ("open", "open pending", "trigger pending"):
        return error("InputException", f"Order cannot be cancelled as it is being processed. "
                     f"Try later. ({st.STATUS.get(order.status, order.status)})", 400)
    order.status = "cancelled"
    _sim(request).exchange.publish_order(order)
    return ok({"order_id": order.orderid})


async def modify_order(request: Request):
    order, refused = await _own_order(request)
    if refused:
        return refused
    if order.status not in ("open", "open pending", "trigger pending"):
        return error("InputException", "Order cannot be modified as it is being processed.",
                     400)
    p = await _form(request)
    order.params.update({k2: p[k] for k, k2 in (("price", "price"), ("quantity", "quantity"),
                                                 ("order_type", "ordertype")) if k in p})
    return ok({"order_id": order.orderid})


async def orders(request: Request):
    account, refused = _admitted(request, "other")
    if refused:
        return refused
    sim = _sim(request)
    return ok([order_row(o, sim) for o in sim.exchange.orders.values()
               if o.client_code == account.user_id])


async def order_history(request: Request):
    order, refused = await _own_order(request, "other")
    return refused or ok([order_row(order, _sim(request))])


async def positions(request: Request):
    account, refused = _admitted(request, "other")
    if refused:
        return refused
    sim = _sim(request)
    net: dict[int, dict] = {}
    for t in sim.exchange.trades:
        if sim.exchange.orders[t.orderid].client_code != account.user_id:
            continue
        inst = sim.instruments[int(t.params["symboltoken"])]
        row = net.setdefault(inst.instrument_token, {
            "tradingsymbol": inst.tradingsymbol, "exchange": inst.exchange,
            "instrument_token": inst.instrument_token, "product": t.params["producttype"],
            "quantity": 0, "buy_quantity": 0, "sell_quantity": 0, "buy_value": 0.0,
            "sell_value": 0.0, "average_price": 0.0, "multiplier": 1})
        side = "buy" if t.params["transactiontype"] == "BUY" else "sell"
        row[f"{side}_quantity"] += t.fillsize
        row[f"{side}_value"] += t.fillsize * t.fillprice
        row["quantity"] = row["buy_quantity"] - row["sell_quantity"]
        held = "buy" if row["quantity"] > 0 else "sell"
        row["average_price"] = row[f"{held}_value"] / row[f"{held}_quantity"] \
            if row["quantity"] else 0.0
    rows = list(net.values())
    return ok({"net": rows, "day": rows})


async def holdings(request: Request):
    """Every simulated trade is today's: none has reached the demat account yet."""
    account, refused = _admitted(request, "other")
    return refused or ok([])


async def gtt_place(request: Request):
    account, refused = _admitted(request, "other")
    if refused:
        return refused
    parsed = await _gtt_form(request)
    if isinstance(parsed, Response):
        return parsed
    rule = _sim(request).gtt(account.user_id, *parsed)
    return ok({"trigger_id": rule["id"]})


async def _gtt_form(request: Request):
    """(type, condition, orders) of a GTT request, or the error answer."""
    form = await _form(request)
    sim = _sim(request)
    try:
        kind, condition, orders = form["type"], json.loads(form["condition"]), \
            json.loads(form["orders"])
        values = [float(v) for v in condition["trigger_values"]]
    except (KeyError, ValueError, TypeError):
        return error("InputException", "Invalid GTT parameters.", 400)
    if kind not in ("single", "two-leg") or len(values) != (2 if kind == "two-leg" else 1) or \
            len(orders) != len(values):
        return error("InputException", "Invalid `trigger_values` for the GTT type.", 400)
    if kind == "two-leg" and not values[0] < float(condition.get("last_price", 0)) < values[1]:
        return error("InputException", "The last price must lie between the two triggers.", 400)
    if (condition.get("exchange"), condition.get("tradingsymbol")) not in sim.by_symbol:
        return error("InputException", "Invalid `tradingsymbol`.", 400)
    return kind, condition, orders


async def _own_gtt(request: Request):
    account, refused = _admitted(request, "other")
    if refused:
        return None, refused
    rule = _sim(request).gtts.get(request.path_params["trigger_id"])
    if rule is None or rule["user_id"] != account.user_id:
        return None, error("InputException", "Trigger not found.", 400)
    return rule, None


async def gtt_item(request: Request):
    rule, refused = await _own_gtt(request)
    if refused:
        return refused
    if request.method == "GET":
        return ok(rule)
    if rule["status"] != "active":
        return error("InputException", f"Trigger is {rule['status']}, not active.", 400)
    if request.method == "DELETE":
        rule["status"] = "deleted"
        return ok({"trigger_id": rule["id"]})
    parsed = await _gtt_form(request)
    if isinstance(parsed, Response):
        return parsed
    _sim(request).gtt(rule["user_id"], *parsed, rule=rule)
    return ok({"trigger_id": rule["id"]})


async def gtt_list(request: Request):
    account, refused = _admitted(request, "other")
    if refused:
        return refused
    return ok([r for r in _sim(request).gtts.values() if r["user_id"] == account.user_id])


async def sim_gtts(request: Request):
    """Every GTT rule, with its state."""
    return JSONResponse(list(_sim(request).gtts.values()))


async def instrument_list(request: Request):
    """The instrument master: CSV, as Kite serves it (no login needed)."""
    exchange = request.path_params.get("exchange")
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["instrument_token", "exchange_token", "tradingsymbol", "name", "last_price",
                     "expiry", "strike", "tick_size", "lot_size", "instrument_type", "segment",
                     "exchange"])
    for i in _sim(request).instruments.values():
        if exchange in (None, i.exchange):
            writer.writerow([i.instrument_token, i.exchange_token, i.tradingsymbol, i.name,
                             i.last_price_paise / 100, "", 0, i.tick_size, i.lot_size,
                             i.instrument_type, i.segment, i.exchange])
    return Response(out.getvalue(), media_type="text/csv")


# interval -> (minutes, the most days one call may span: Kite's documented caps)
HISTORICAL = {"minute": (1, 60), "3minute": (3, 100), "5minute": (5, 100),
              "10minute": (10, 100), "15minute": (15, 200), "30minute": (30, 200),
              "60minute": (60, 400), "day": (sim_history.DAY, 2000)}


async def historical(request: Request):
    """Candles of an instrument from the simulated exchange's past, `from` to `to`
    ("yyyy-mm-dd hh:mm:ss", IST) both included; a span beyond the interval's cap is an
    InputException, as Kite answers it."""
    account, refused = _admitted(request, "historical")
    if refused:
        return refused
    sim, interval = _sim(request), request.path_params["interval"]
    inst = sim.instruments.get(int(request.path_params["instrument_token"]))
    if inst is None or interval not in HISTORICAL:
        return error("InputException", "invalid token" if inst is None else
                     "invalid interval", 400)
    try:
        first, last = (datetime.strptime(request.query_params[k], "%Y-%m-%d %H:%M:%S")
                       .replace(tzinfo=IST) for k in ("from", "to"))
    except (KeyError, ValueError):
        return error("InputException", "invalid from or to date", 400)
    minutes, most = HISTORICAL[interval]
    if last - first > timedelta(days=most):
        return error("InputException", "interval exceeds max limit: "
                     f"{most} days", 400)
    sim.exchange.history_calls += 1
    return ok({"candles": [[sim_history.iso(at, colon=False), o / 100, h / 100, low / 100,
                            c / 100, v] for at, o, h, low, c, v in sim_history.candles(
                                inst.exchange_token, minutes, first, last)]})


async def ltp(request: Request):
    account, refused = _admitted(request, "quote")
    if refused:
        return refused
    sim, data = _sim(request), {}
    for name in request.query_params.getlist("i"):
        exchange, _, symbol = name.partition(":")
        inst = sim.by_symbol.get((exchange, symbol))
        if inst is not None and sim.price(inst.instrument_token) is not None:
            data[name] = {"instrument_token": inst.instrument_token,
                          "last_price": sim.price(inst.instrument_token) / 100}
    return ok(data)


# -- scripting the simulator -------------------------------------------------------------------
async def sim_price(request: Request):
    """{"instrument_token": N, "ltp_paise": P}"""
    body = await request.json()
    _sim(request).set_price(body["instrument_token"], int(body["ltp_paise"]))
    return JSONResponse({"ok": True})


def _rows(request: Request) -> list[dict]:
    sim = _sim(request)
    return [order_row(o, sim) for o in sim.exchange.orders.values()]


def _tokens(request: Request) -> list[str]:
    sim = _sim(request)
    return list(sim.sessions) + list(sim.request_tokens)


def create_app(sim: KiteSim) -> Starlette:
    routes = [
        Route("/connect/login", login_page, methods=["GET"]),
        Route("/session/token", session_token, methods=["POST", "DELETE"]),
        Route("/user/profile", profile, methods=["GET"]),
        Route("/orders", orders, methods=["GET"]),
        Route("/orders/{order_id:int}", order_history, methods=["GET"]),
        Route("/orders/{variety}", place_order, methods=["POST"]),
        Route("/orders/{variety}/{order_id}", modify_order, methods=["PUT"]),
        Route("/orders/{variety}/{order_id}", cancel_order, methods=["DELETE"]),
        Route("/portfolio/positions", positions, methods=["GET"]),
        Route("/portfolio/holdings", holdings, methods=["GET"]),
        Route("/instruments", instrument_list, methods=["GET"]),
        Route("/instruments/{exchange}", instrument_list, methods=["GET"]),
        Route("/quote/ltp", ltp, methods=["GET"]),
        Route("/instruments/historical/{instrument_token:int}/{interval}", historical,
              methods=["GET"]),
        Route("/gtt/triggers", gtt_list, methods=["GET"]),
        Route("/gtt/triggers", gtt_place, methods=["POST"]),
        Route("/gtt/triggers/{trigger_id:int}", gtt_item, methods=["GET", "PUT", "DELETE"]),
        Route("/sim/gtts", sim_gtts, methods=["GET"]),
        Route("/sim/price", sim_price, methods=["POST"]),
        *scripting_routes(lambda request: _sim(request).exchange, _rows, _tokens),
    ]
    app = Starlette(routes=routes)
    app.state.sim = sim
    return app
