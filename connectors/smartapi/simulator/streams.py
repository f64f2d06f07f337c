"""The two websockets: smart-stream (binary market data) and smart-order-update (JSON)."""
from __future__ import annotations

import asyncio
import json
import logging
import time
from http import HTTPStatus

from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from connectors.sim_common import listen, socket_session
from connectors.smartapi import packets
from connectors.smartapi.simulator.rest import ORDER_STATUS_CODES
from connectors.smartapi.simulator.state import Order, SimState

log = logging.getLogger(__name__)
STREAM_PATH, ORDER_PATH = "/smart-stream", "/smart-order-update"
MAX_TOKENS = 1000
_REQUIRED = ("authorization", "x-api-key", "x-client-code", "x-feed-token")


def _deny(connection: ServerConnection, status: HTTPStatus, message: str):
    response = connection.respond(status, message + "\n")
    response.headers["x-error-message"] = message
    return response


def process_request(sim: SimState):
    def check(connection: ServerConnection, request):
        path = request.path.split("?", 1)[0]
        if path not in (STREAM_PATH, ORDER_PATH):
            return _deny(connection, HTTPStatus.NOT_FOUND, "Not found")
        h = request.headers
        if path == STREAM_PATH:
            missing = [name for name in _REQUIRED if not h.get(name)]
            if missing:
                return _deny(connection, HTTPStatus.UNAUTHORIZED, f"Missing {missing[0]}")
            if not sim.feed_session(h["x-client-code"], h["x-feed-token"], h["authorization"],
                                    h["x-api-key"]):
                return _deny(connection, HTTPStatus.UNAUTHORIZED, "Invalid feed token or session")
        else:
            s = sim.session(h.get("authorization"))
            if s is None or not s.valid:
                return _deny(connection, HTTPStatus.UNAUTHORIZED, "Invalid token")
        return None
    return check


async def handler(sim: SimState, connection: ServerConnection) -> None:
    if connection.request.path.startswith(ORDER_PATH):
        await _order_updates(sim, connection)
    else:
        await _market_data(sim, connection)


async def _market_data(sim: SimState, ws: ServerConnection) -> None:
    subscribed: dict[str, tuple[int, int]] = {}       # token -> (mode, exchange type)
    ticks = listen(sim.tick_listeners)

    async def send(token: str, paise: int, ts_ms: int) -> None:
        mode, exch = subscribed[token]
        await ws.send(packets.encode(packets.MarketPacket(
            mode=mode, exchange_type=exch, token=token, sequence=next(sim.sequence),
            exchange_ts_ms=ts_ms, ltp_paise=paise, last_traded_qty=1, avg_price_paise=paise,
            volume=1, open_paise=paise, high_paise=paise, low_paise=paise, close_paise=paise,
            last_traded_ts=ts_ms // 1000)))

    async def pump() -> None:
        while True:
            token, paise, ts_ms = await ticks.get()
            if token in subscribed:
                await send(token, paise, ts_ms)

    async def requests() -> None:
        async for message in ws:
            if message == "ping":
                await ws.send("pong")
                continue
            error = _apply_request(message, subscribed)
            if error:
                await ws.send(json.dumps(error))
                continue
            request = json.loads(message)
            if request["action"] == 1:
                for group in request["params"]["tokenList"]:
                    for token in group["tokens"]:
                        if token in sim.prices:
                            await send(token, sim.prices[token], _now_ms())

    await socket_session(sim, ws, ticks, [sim.tick_listeners], pump(), requests())


def _apply_request(message, subscribed: dict) -> dict | None:
    try:
        request = json.loads(message)
        correlation = request.get("correlationID", "")
        action, params = request["action"], request["params"]
        mode, token_list = params["mode"], params["tokenList"]
    except (ValueError, KeyError, TypeError, AttributeError):
        return {"correlationID": "", "errorCode": "E1001", "errorMessage": "Invalid Request Payload."}
    if action not in (0, 1) or mode not in (1, 2, 3, 4):
        return {"correlationID": correlation, "errorCode": "E1002", "errorMessage": "Invalid Request."}
    wanted = {str(t) for group in token_list for t in group.get("tokens", [])}
    if action == 1 and len(set(subscribed) | wanted) > MAX_TOKENS:
        return {"correlationID": correlation, "errorCode": "E1002",
                "errorMessage": "Invalid Request. Subscription Limit Exceeded."}
    for group in token_list:
        for token in group.get("tokens", []):
            if action == 1:
                subscribed[str(token)] = (min(mode, 3), int(group.get("exchangeType", 1)))
            else:
                subscribed.pop(str(token), None)
    return None


async def _order_updates(sim: SimState, ws: ServerConnection) -> None:
    session = sim.session(ws.request.headers.get("authorization"))
    client = session.client_code
    updates: asyncio.Queue = asyncio.Queue()
    sim.order_listeners.add(updates)
    sim.order_socket(client, opened=True)
    try:
        await ws.send(json.dumps({"user-id": client, "status-code": "200", "order-status": "AB00",
                                  "error-message": "", "orderData": {}}))

        async def pump() -> None:
            while True:
                order: Order = await updates.get()
                if order.client_code == client:
                    await ws.send(json.dumps(_order_message(order)))
        pumping = asyncio.create_task(pump())
        try:
            async for _ in ws:
                pass
        finally:
            pumping.cancel()
    except ConnectionClosed:
        pass
    finally:
        sim.order_listeners.discard(updates)
        sim.order_socket(client, opened=False)


def _order_message(order: Order) -> dict:
    return {"user-id": order.client_code, "status-code": "200",
            "order-status": ORDER_STATUS_CODES.get(order.status, "AB01"),
            "error-message": order.text if order.status == "rejected" else "",
            "orderData": order.row()}


def _now_ms() -> int:
    return int(time.time() * 1000)


async def start(sim: SimState, host: str, port: int):
    return await serve(lambda ws: handler(sim, ws), host, port,
                       process_request=process_request(sim), ping_interval=None)
