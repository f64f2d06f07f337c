"""The REST API as upstox-python-sdk sees it: the OAuth dialog and token exchange, JSON bodies,
the `{"status": "success", "data": ...}` envelope, errors as `{"status": "error", "errors":
[{"errorCode", "message"}]}` with 400, 401 (token), 429 (rate limit), an HTML 502 from the
gateway; the instrument file (gzipped JSON); plus /sim/* routes that script prices and
faults."""
from __future__ import annotations

import gzip
import json
from datetime import date, datetime, time

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from connectors import sim_history
from connectors.sim_common import accepted, gateway_error, over_limit, scripting_routes
from connectors.upstox.simulator import state as st
from connectors.upstox.simulator.state import UpstoxSim, order_row
from schemas.market_time import IST


def ok(data) -> JSONResponse:
    return JSONResponse({"status": "success", "data": data})


def error(code: str, message: str, status: int) -> JSONResponse:
    return JSONResponse({"status": "error", "errors": [
        {"errorCode": code, "message": message, "propertyPath": None, "invalidValue": None,
         "error_code": code, "property_path": None, "invalid_value": None}]},
        status_code=status)


def _sim(request: Request) -> UpstoxSim:
    return request.app.state.sim


def _admitted(request: Request, kind: str):
    sim = _sim(request)
    account = sim.user(request.headers.get("authorization"))
    if account is None:
        return None, error("UDAPI100050", "Invalid token used to access API", 401)
    if over_limit(sim.exchange, account.user_id, kind):
        return None, error("UDAPI10005", "Too Many Request Sent", 429)
    return account, None


async def dialog(request: Request):
    q = request.query_params
    target = _sim(request).dialog(q.get("client_id", ""), q.get("redirect_uri", ""))
    if target is None or q.get("response_type") != "code":
        return Response("Check your 'client_id' and 'redirect_uri'", status_code=400)
    return RedirectResponse(target, status_code=302)


async def token(request: Request):
    sim = _sim(request)
    form = {k: v for k, v in (await request.form()).items()}
    access = sim.token(form)
    if access is None:
        return error("UDAPI100057", "Invalid Auth code", 401)
    account = sim.accounts[form["client_id"]]
    return JSONResponse({"email": "", "exchanges": ["NSE", "BSE", "NFO"],
                         "products": ["D", "I", "CO", "MTF"], "broker": "UPSTOX",
                         "user_id": account.user_id, "user_name": "SIMULATED TRADER",
                         "order_types": sorted(st.ORDER_TYPES), "user_type": "individual",
                         "poa": False, "is_active": True, "access_token": access,
                         "extended_token": None})


async def profile(request: Request):
    account, refused = _admitted(request, "other")
    return refused or ok({"email": "", "exchanges": ["NSE", "BSE", "NFO"],
                          "products": ["D", "I"], "broker": "UPSTOX",
                          "user_id": account.user_id, "user_name": "SIMULATED TRADER",
                          "order_types": sorted(st.ORDER_TYPES), "user_type": "individual",
                          "poa": False, "is_active": True})


def _invalid(sim: UpstoxSim, p: dict) -> str | None:
    if p.get("instrument_token") not in sim.instruments:
        return "Invalid Instrument key"
    if p.get("transaction_type") not in ("BUY", "SELL"):
        return "Invalid transaction_type"
    if p.get("order_type") not in st.ORDER_TYPES:
        return "Invalid order_type"
    if p.get("product") not in st.PRODUCTS:
        return "Invalid product"
    if not isinstance(p.get("quantity"), int) or p["quantity"] <= 0:
        return "Quantity should be greater than 0"
    if len(p.get("tag") or "") > 40:
        return "Tag length should not exceed 40 characters"
    if p["order_type"] == "LIMIT" and not float(p.get("price") or 0) > 0:
        return "Price should be greater than 0 for LIMIT orders"
    return None


async def place_order(request: Request):
    sim = _sim(request)
    account, refused = _admitted(request, "order")
    if refused:
        return refused
    ex = sim.exchange
    if (page := gateway_error(ex)) is not None:
        return page
    try:
        p = json.loads(await request.body())
    except ValueError:
        return error("UDAPI1000", "Invalid request body", 400)
    problem = _invalid(sim, p)
    if problem:
        return error("UDAPI1026", problem, 400)
    order = ex.place(account.user_id, {
        "quantity": str(p["quantity"]), "symboltoken": p["instrument_token"],
        "ordertype": p["order_type"], "transactiontype": p["transaction_type"],
        "producttype": p["product"], "price": str(p.get("price") or 0),
        "validity": p.get("validity", "DAY"), "ordertag": p.get("tag") or ""})
    await accepted(ex, order)
    return ok({"order_id": order.orderid})


async def cancel_order(request: Request):
    sim = _sim(request)
    account, refused = _admitted(request, "order")
    if refused:
        return refused
    order = sim.exchange.orders.get(request.query_params.get("order_id", ""))
    if order is None or order.client_code != account.user_id:
        return error("UDAPI100010", "Order not found", 400)
    if order.status not in ("open", "open pending", "trigger pending"):
        return error("UDAPI100040", f"Order is {order.status}: it cannot be cancelled", 400)
    order.status = "cancelled"
    sim.exchange.publish_order(order)
    return ok({"order_id": order.orderid})


async def order_book(request: Request):
    account, refused = _admitted(request, "other")
    if refused:
        return refused
    sim = _sim(request)
    return ok([order_row(o, sim) for o in sim.exchange.orders.values()
               if o.client_code == account.user_id])


async def positions(request: Request):
    account, refused = _admitted(request, "other")
    if refused:
        return refused
    sim = _sim(request)
    net: dict[str, dict] = {}
    for t in sim.exchange.trades:
        if sim.exchange.orders[t.orderid].client_code != account.user_id:
            continue
        inst = sim.instruments[t.params["symboltoken"]]
        row = net.setdefault(inst.instrument_key, {
            "exchange": inst.exchange, "multiplier": 1.0, "product": t.params["producttype"],
            "instrument_token": inst.instrument_key, "trading_symbol": inst.trading_symbol,
            "tradingsymbol": inst.trading_symbol, "quantity": 0, "day_buy_quantity": 0,
            "day_sell_quantity": 0, "day_buy_value": 0.0, "day_sell_value": 0.0,
            "overnight_quantity": 0})
        side = "buy" if t.params["transactiontype"] == "BUY" else "sell"
        row[f"day_{side}_quantity"] += t.fillsize
        row[f"day_{side}_value"] += t.fillsize * t.fillprice
        row["quantity"] = row["day_buy_quantity"] - row["day_sell_quantity"]
    return ok(list(net.values()))


async def holdings(request: Request):
    """Every simulated trade is today's: none has reached the demat account yet."""
    account, refused = _admitted(request, "other")
    return refused or ok([])


def _feed_authorize(path: str):
    async def handler(request: Request):
        account, refused = _admitted(request, "other")
        if refused:
            return refused
        sim = _sim(request)
        url = f"{request.app.state.ws_root}/{path}?code={sim.feed_code(account.user_id)}"
        return ok({"authorizedRedirectUri": url, "authorized_redirect_uri": url})
    return handler


async def instrument_file(request: Request):
    rows = [i.row() for i in _sim(request).instruments.values()]
    return Response(gzip.compress(json.dumps(rows).encode()), media_type="application/gzip")


async def ltp(request: Request):
    """v3 LTP quotes of the comma-separated instrument keys, keyed by segment:symbol."""
    account, refused = _admitted(request, "other")
    if refused:
        return refused
    sim, data = _sim(request), {}
    for key in request.query_params.get("instrument_key", "").split(","):
        inst, price = sim.instruments.get(key), sim.prices.get(key)
        if inst is not None and price is not None:
            data[f"{inst.segment}:{inst.trading_symbol}"] = {
                "last_price": price / 100, "instrument_token": key, "ltq": 1,
                "volume": sim.volumes.get(key, 0), "cp": price / 100}
    return ok(data)


# unit -> (the intervals it takes, the most days one call may span for each)
UNITS = {"minutes": lambda n: 1 <= n <= 300 and (31 if n <= 15 else 92),
         "hours": lambda n: 1 <= n <= 5 and 92, "days": lambda n: n == 1 and 3660}


async def historical(request: Request):
    """v3 historical candles, newest first (as Upstox returns them), from the simulated
    exchange's past: from_date to to_date (yyyy-mm-dd) both included. Like Upstox's, it
    needs no access token (the SDK sends none)."""
    sim, path = _sim(request), request.path_params
    if over_limit(sim.exchange, "historical", "other"):
        return error("UDAPI10005", "Too Many Request Sent", 429)
    inst = sim.instruments.get(path["instrument_key"])
    unit, interval = path["unit"], int(path["interval"]) if path["interval"].isdigit() else 0
    most = UNITS[unit](interval) if unit in UNITS else False
    if inst is None or not most:
        return error("UDAPI1021" if inst is None else "UDAPI1020", "Invalid instrument key"
                     if inst is None else "Invalid unit or interval", 400)
    try:
        first, last = (date.fromisoformat(path[k]) for k in ("from_date", "to_date"))
    except ValueError:
        return error("UDAPI1022", "Invalid date", 400)
    if (last - first).days > most:
        return error("UDAPI1148", f"Date range exceeds the limit of {most} days", 400)
    sim.exchange.history_calls += 1
    minutes = {"minutes": interval, "hours": 60 * interval, "days": sim_history.DAY}[unit]
    rows = sim_history.candles(inst.exchange_token, minutes,
                               datetime.combine(first, time(0), IST),
                               datetime.combine(last, time(23, 59), IST))
    return ok({"candles": [[sim_history.iso(at), o / 100, h / 100, low / 100, c / 100, v, 0]
                           for at, o, h, low, c, v in reversed(rows)]})


# -- scripting the simulator -------------------------------------------------------------------
async def sim_price(request: Request):
    """{"instrument_key": "NSE_EQ|...", "ltp_paise": P}"""
    body = await request.json()
    _sim(request).set_price(body["instrument_key"], int(body["ltp_paise"]))
    return JSONResponse({"ok": True})


def _rows(request: Request) -> list[dict]:
    sim = _sim(request)
    return [order_row(o, sim) for o in sim.exchange.orders.values()]


def _tokens(request: Request) -> list[str]:
    sim = _sim(request)
    return list(sim.sessions) + list(sim.codes) + list(sim.feed_codes)


def create_app(sim: UpstoxSim, ws_root: str) -> Starlette:
    from connectors.upstox.simulator import gtt       # its routes build on this module's
    routes = [
        Route("/v2/login/authorization/dialog", dialog, methods=["GET"]),
        Route("/v2/login/authorization/token", token, methods=["POST"]),
        Route("/v2/user/profile", profile, methods=["GET"]),
        Route("/v2/order/place", place_order, methods=["POST"]),
        Route("/v2/order/cancel", cancel_order, methods=["DELETE"]),
        Route("/v2/order/retrieve-all", order_book, methods=["GET"]),
        Route("/v2/portfolio/short-term-positions", positions, methods=["GET"]),
        Route("/v2/portfolio/long-term-holdings", holdings, methods=["GET"]),
        Route("/v2/feed/portfolio-stream-feed/authorize", _feed_authorize("portfolio"),
              methods=["GET"]),
        Route("/v3/feed/market-data-feed/authorize", _feed_authorize("market"),
              methods=["GET"]),
        Route("/instruments/complete.json.gz", instrument_file, methods=["GET"]),
        Route("/v3/market-quote/ltp", ltp, methods=["GET"]),
        Route("/v3/historical-candle/{instrument_key}/{unit}/{interval}/{to_date}/{from_date}",
              historical, methods=["GET"]),
        Route("/sim/price", sim_price, methods=["POST"]),
        *scripting_routes(lambda request: _sim(request).exchange, _rows, _tokens),
        *gtt.routes(),
    ]
    app = Starlette(routes=routes)
    app.state.sim, app.state.ws_root = sim, ws_root
    return app
