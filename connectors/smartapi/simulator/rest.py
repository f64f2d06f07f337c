"""The REST API as smartapi-python sees it: same routes, envelopes, error codes, rate-limit
page; plus /sim/* routes that script prices and faults."""
from __future__ import annotations

import json
from datetime import datetime, timedelta

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from connectors import sim_history
from connectors.sim_common import accepted, gateway_error, over_limit, scripting_routes
from connectors.smartapi.simulator.state import Order, SimState
from schemas.market_time import IST

AUTH = "/rest/auth/angelbroking"
SECURE = "/rest/secure/angelbroking"
ORDER_STATUS_CODES = {"open": "AB01", "cancelled": "AB02", "rejected": "AB03", "modified": "AB04",
                      "complete": "AB05", "open pending": "AB09", "trigger pending": "AB10"}
VARIETIES = {"NORMAL", "STOPLOSS", "ROBO", "AMO"}
PRODUCTS = {"DELIVERY", "CARRYFORWARD", "MARGIN", "INTRADAY", "BO"}
ORDER_TYPES = {"MARKET", "LIMIT", "STOPLOSS_LIMIT", "STOPLOSS_MARKET"}


def ok(data) -> JSONResponse:
    return JSONResponse({"status": True, "message": "SUCCESS", "errorcode": "", "data": data})


def fail(code: str, message: str) -> JSONResponse:
    return JSONResponse({"status": False, "message": message, "errorcode": code, "data": None})


def rate_limited() -> Response:
    return PlainTextResponse("Access denied because of exceeding rate limit", status_code=403)


async def _params(request: Request) -> dict:
    if request.method == "GET":
        raw = request.url.query
        from urllib.parse import unquote_plus
        text = unquote_plus(raw) if raw else ""
    else:
        text = (await request.body()).decode() or ""
    try:
        value = json.loads(text) if text else {}
    except ValueError:
        value = {}
    return value if isinstance(value, dict) else {}


def _state(request: Request) -> SimState:
    return request.app.state.sim


def _limited(request: Request, client: str, kind: str) -> bool:
    return over_limit(_state(request), client, kind)


def _authorized(request: Request):
    """The session, or the answer the gateway gives a bad or expired token."""
    sim = _state(request)
    s = sim.session(request.headers.get("authorization"))
    if s is not None and s.valid:
        return s, None
    if sim.faults.expiry_shape == "alternate":
        body = {"success": False, "message": "Invalid Token", "errorCode": "AG8001", "data": ""}
        return None, JSONResponse(body)
    return None, fail("AG8001", "Invalid Token")


def _admitted(request: Request, kind: str):
    """The caller's session, or the answer refusing the call (bad token, or over the limit)."""
    s, denied = _authorized(request)
    if denied:
        return None, denied
    if _limited(request, s.client_code, kind):
        return None, rate_limited()
    return s, None


async def login(request: Request):
    p = await _params(request)
    client = str(p.get("clientcode", ""))
    if _limited(request, client, "login"):
        return rate_limited()
    result = _state(request).login(client, str(p.get("password", "")), str(p.get("totp", "")),
                                   request.headers.get("x-privatekey", ""))
    if isinstance(result, str):
        refused = _state(request).refused_logins
        refused[client] = refused.get(client, 0) + 1
    if result == "AB1050":
        return fail("AB1050", "Invalid totp")
    if isinstance(result, str):
        return fail(result, "Invalid clientcode or password")
    return ok({"jwtToken": result.jwt, "refreshToken": result.refresh, "feedToken": result.feed})


async def profile(request: Request):
    s, refused = _admitted(request, "profile")
    if refused:
        return refused
    return ok({"clientcode": s.client_code, "name": "SIMULATED TRADER", "email": "",
               "mobileno": "", "exchanges": ["NSE", "BSE", "NFO"],
               "products": ["MARGIN", "MIS", "NRML", "CNC"], "lastlogintime": "",
               "brokerid": "B2C"})


async def generate_tokens(request: Request):
    p = await _params(request)
    s = _state(request).renew(str(p.get("refreshToken", "")))
    if s is None:
        return fail("AB8050", "Invalid refresh token")
    if _limited(request, s.client_code, "token"):
        return rate_limited()
    return ok({"jwtToken": s.jwt, "refreshToken": s.refresh, "feedToken": s.feed})


async def logout(request: Request):
    s, denied = _authorized(request)
    if denied:
        return denied
    s.valid = False
    return ok("")


async def place_order(request: Request):
    sim = _state(request)
    s, refused = _admitted(request, "order")
    if refused:
        return refused
    if (page := gateway_error(sim)) is not None:
        return page
    p = await _params(request)
    problem = _validate(p)
    if problem:
        return fail(*problem)
    order = sim.place(s.client_code, p)
    await accepted(sim, order)
    return ok({"script": p.get("tradingsymbol"), "orderid": order.orderid,
               "uniqueorderid": order.uniqueorderid})


def _validate(p: dict) -> tuple[str, str] | None:
    if p.get("variety") not in VARIETIES:
        return "AB1008", "Invalid Variety"
    if p.get("producttype") not in PRODUCTS:
        return "AB1012", "Invalid Product Type"
    if p.get("ordertype") not in ORDER_TYPES:
        return "AB1007", "Invalid Order Type"
    if len(str(p.get("ordertag", ""))) >= 20:
        return "AB4008", "ordertag length should be less than 20 characters"
    if p.get("transactiontype") not in ("BUY", "SELL"):
        return "AB1007", "Invalid Transaction Type"
    if not str(p.get("quantity", "")).isdigit() or int(p["quantity"]) <= 0:
        return "AB1007", "Invalid Quantity"
    if not p.get("symboltoken") or not p.get("tradingsymbol"):
        return "AB1009", "Symbol not found"
    return None


async def _own_order(request: Request) -> tuple[Order | None, dict, Response | None]:
    """The caller's order named in the request and the request's parameters, or the answer
    that refuses the request."""
    sim = _state(request)
    s, refused = _admitted(request, "order")
    if refused:
        return None, {}, refused
    p = await _params(request)
    order = sim.orders.get(str(p.get("orderid")))
    if order is None or order.client_code != s.client_code:
        return None, p, fail("AB1013", "Order not found")
    return order, p, None


async def cancel_order(request: Request):
    order, _, refused = await _own_order(request)
    if refused:
        return refused
    if order.status in ("open", "open pending", "trigger pending"):
        order.status = "cancelled"
        _state(request).publish_order(order)
    return ok({"orderid": order.orderid, "uniqueorderid": order.uniqueorderid})


async def modify_order(request: Request):
    order, params, refused = await _own_order(request)
    if refused:
        return refused
    if order.status not in ("open", "open pending", "trigger pending"):
        return fail("AB1007", f"Order is {order.status}; it cannot be modified")
    order.params.update({k: v for k, v in params.items()
                         if k in ("price", "quantity", "ordertype")})
    return ok({"orderid": order.orderid, "uniqueorderid": order.uniqueorderid})


def _book(kind: str):
    async def handler(request: Request):
        sim = _state(request)
        s, refused = _admitted(request, "book")
        if refused:
            return refused
        if kind == "orders":
            rows = sim.book(s.client_code)
        elif kind == "trades":
            rows = [{"orderid": t.orderid, "fillid": t.fillid, "fillsize": str(t.fillsize),
                     "fillprice": t.fillprice, "filltime": t.filltime,
                     "tradingsymbol": t.params.get("tradingsymbol"),
                     "transactiontype": t.params.get("transactiontype")}
                    for t in sim.trades if sim.orders[t.orderid].client_code == s.client_code]
        elif kind == "holdings":
            rows = []      # every simulated trade is today's: none has reached the demat yet
        else:
            rows = _positions(sim, s.client_code)
        return ok(rows or None)   # the real API answers data: null for an empty book
    handler.__name__ = f"book_{kind}"
    return handler


def _positions(sim: SimState, client: str) -> list[dict]:
    net: dict[str, dict] = {}
    for t in sim.trades:
        if sim.orders[t.orderid].client_code != client:
            continue
        row = net.setdefault(t.params["symboltoken"], {
            "tradingsymbol": t.params.get("tradingsymbol"), "symboltoken": t.params["symboltoken"],
            "exchange": t.params.get("exchange"), "producttype": t.params.get("producttype"),
            "netqty": 0})
        row["netqty"] += t.fillsize if t.params["transactiontype"] == "BUY" else -t.fillsize
    return [{**r, "netqty": str(r["netqty"])} for r in net.values()]


async def ltp(request: Request):
    sim = _state(request)
    s, refused = _admitted(request, "ltp")
    if refused:
        return refused
    p = await _params(request)
    price = sim.prices.get(str(p.get("symboltoken")))
    if price is None:
        return fail("AB1009", "Symbol not found")
    return ok({"exchange": p.get("exchange"), "tradingsymbol": p.get("tradingsymbol"),
               "symboltoken": p.get("symboltoken"), "ltp": price / 100})


# interval -> (minutes, the most days one call may span)
INTERVALS = {"ONE_MINUTE": (1, 30), "THREE_MINUTE": (3, 60), "FIVE_MINUTE": (5, 100),
             "TEN_MINUTE": (10, 100), "FIFTEEN_MINUTE": (15, 200), "THIRTY_MINUTE": (30, 200),
             "ONE_HOUR": (60, 400), "ONE_DAY": (sim_history.DAY, 2000)}


async def candle_data(request: Request):
    """getCandleData: the candles of the token and interval between the two times
    ("yyyy-MM-dd HH:mm", IST), both included: those scripted for it, else the simulated
    exchange's past (connectors/sim_history.py). A span longer than the interval allows is
    refused."""
    sim = _state(request)
    s, refused = _admitted(request, "candles")
    if refused:
        return refused
    p = await _params(request)
    if p.get("interval") not in INTERVALS:
        return fail("AB13000", "Invalid interval")
    try:
        start, end = (datetime.strptime(p[k], "%Y-%m-%d %H:%M") for k in ("fromdate", "todate"))
    except (KeyError, TypeError, ValueError):
        return fail("AB13000", "Invalid date format")
    minutes, most = INTERVALS[p["interval"]]
    if end - start > timedelta(days=most):
        return fail("AB13000", f"Date range exceeds {most} days for {p['interval']}")
    sim.history_calls += 1
    scripted = sim.candles.get((str(p.get("symboltoken")), p["interval"]))
    if scripted is None:
        return ok([[sim_history.iso(at), o / 100, h / 100, low / 100, c / 100, v]
                   for at, o, h, low, c, v in sim_history.candles(
                       str(p.get("symboltoken")), minutes, start.replace(tzinfo=IST),
                       end.replace(tzinfo=IST))])
    return ok([r for r in scripted
               if start <= datetime.fromisoformat(r[0]).replace(tzinfo=None) <= end])


async def rms(request: Request):
    s, denied = _authorized(request)
    return denied or ok({"net": "1000000.00", "availablecash": "1000000.00"})


# -- scripting the simulator -------------------------------------------------------------------
async def sim_price(request: Request):
    body = await request.json()
    _state(request).set_price(str(body["token"]), int(body["ltp_paise"]))
    return JSONResponse({"ok": True})


async def sim_candles(request: Request):
    """Script getCandleData: {"token", "interval", "rows": [[ISO time, o, h, l, c, v], ...]}."""
    body = await request.json()
    _state(request).candles[(str(body["token"]), body["interval"])] = body["rows"]
    return JSONResponse({"ok": True})


def _rows(request: Request) -> list[dict]:
    return [o.row() | {"clientcode": o.client_code} for o in _state(request).orders.values()]


def _tokens(request: Request) -> list[list[str]]:
    return [[s.jwt, s.refresh, s.feed] for s in _state(request).sessions.values()]


async def sim_refused_logins(request: Request):
    """How many logins were refused, per client code."""
    return JSONResponse(_state(request).refused_logins)


async def sim_order_sockets(request: Request):
    """Order-update sockets per client code: open now, and the most open at once since the
    last POST (which starts the count again from those open now)."""
    sim = _state(request)
    if request.method == "POST":
        sim.order_sockets_peak = dict(sim.order_sockets)
    return JSONResponse({"open": sim.order_sockets, "peak": sim.order_sockets_peak})


def create_app(sim: SimState) -> Starlette:
    from connectors.smartapi.simulator import gtt     # its routes build on this module's
    routes = [
        Route(f"{AUTH}/user/v1/loginByPassword", login, methods=["POST"]),
        Route(f"{AUTH}/jwt/v1/generateTokens", generate_tokens, methods=["POST"]),
        Route(f"{SECURE}/user/v1/getProfile", profile, methods=["GET"]),
        Route(f"{SECURE}/user/v1/logout", logout, methods=["POST"]),
        Route(f"{SECURE}/user/v1/getRMS", rms, methods=["GET"]),
        Route(f"{SECURE}/order/v1/placeOrder", place_order, methods=["POST"]),
        Route(f"{SECURE}/order/v1/modifyOrder", modify_order, methods=["POST"]),
        Route(f"{SECURE}/order/v1/cancelOrder", cancel_order, methods=["POST"]),
        Route(f"{SECURE}/order/v1/getOrderBook", _book("orders"), methods=["GET"]),
        Route(f"{SECURE}/order/v1/getTradeBook", _book("trades"), methods=["GET"]),
        Route(f"{SECURE}/order/v1/getPosition", _book("positions"), methods=["GET"]),
        Route(f"{SECURE}/portfolio/v1/getHolding", _book("holdings"), methods=["GET"]),
        Route(f"{SECURE}/order/v1/getLtpData", ltp, methods=["POST"]),
        Route(f"{SECURE}/historical/v1/getCandleData", candle_data, methods=["POST"]),
        Route("/sim/candles", sim_candles, methods=["POST"]),
        Route("/sim/price", sim_price, methods=["POST"]),
        *scripting_routes(_state, _rows, _tokens),
        Route("/sim/refused-logins", sim_refused_logins, methods=["GET"]),
        Route("/sim/order-sockets", sim_order_sockets, methods=["GET", "POST"]),
        *gtt.routes(),
    ]
    app = Starlette(routes=routes)
    app.state.sim = sim
    return app
