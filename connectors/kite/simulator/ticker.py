"""The KiteTicker websocket: `?api_key=…&access_token=…`, subscriptions as JSON text
(`{"a": "subscribe" | "unsubscribe", "v": [tokens]}`, `{"a": "mode", "v": [mode, [tokens]]}`),
market data as binary frames of packets (a 2-byte count, then each packet with its 2-byte
length; big-endian, prices in paise), order updates as text `{"type": "order", "data": …}`
for the socket's own user."""
from __future__ import annotations

import json
import struct
import time
from http import HTTPStatus
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import ServerConnection, serve

from connectors.kite.simulator.state import KiteSim, order_row
from connectors.sim_common import listen, socket_session

MODES = ("ltp", "quote", "full")
MAX_TOKENS = 3000


def packet(mode: str, token: int, paise: int, volume: int, ts_s: int, index: bool) -> bytes:
    """One instrument's packet in the given mode (open/high/low/close all the last price)."""
    if mode == "ltp":
        return struct.pack(">II", token, paise)
    if index:
        body = struct.pack(">IIIIIII", token, paise, paise, paise, paise, paise, 0)
        return body + struct.pack(">I", ts_s) if mode == "full" else body
    body = struct.pack(">IIIIIIIIIII", token, paise, 1, paise, volume, 0, 0,
                       paise, paise, paise, paise)
    if mode == "quote":
        return body
    depth = b"".join(struct.pack(">IIHH", 0, 0, 0, 0) for _ in range(10))
    return body + struct.pack(">IIIII", ts_s, 0, 0, 0, ts_s) + depth


def frame(packets: list[bytes]) -> bytes:
    return struct.pack(">H", len(packets)) + b"".join(
        struct.pack(">H", len(p)) + p for p in packets)


def _query(connection: ServerConnection) -> dict:
    return {k: v[0] for k, v in parse_qs(urlsplit(connection.request.path).query).items()}


def process_request(sim: KiteSim):
    def check(connection: ServerConnection, request):
        q = _query(connection)
        if sim.user_of(q.get("api_key", ""), q.get("access_token", "")) is None or \
                sim.exchange.faults.refuse_streams:
            return connection.respond(HTTPStatus.FORBIDDEN, "Invalid access token\n")
        return None
    return check


async def handler(sim: KiteSim, ws: ServerConnection) -> None:
    q = _query(ws)
    user = sim.user_of(q["api_key"], q["access_token"]).user_id
    subscribed: dict[int, str] = {}              # instrument token -> mode
    ex = sim.exchange
    events = listen(ex.tick_listeners, ex.order_listeners)

    async def send_ticks(tokens) -> None:
        now = int(time.time())
        out = [packet(subscribed[t], t, sim.price(t), sim.volumes.get(str(t), 0), now,
                      sim.instruments[t].segment == "INDICES")
               for t in tokens if t in subscribed and sim.price(t) is not None]
        if out:
            await ws.send(frame(out))

    async def pump() -> None:
        while True:
            event = await events.get()
            if isinstance(event, tuple):                      # (token, paise, ts_ms)
                await send_ticks([int(event[0])])
            elif event.client_code == user:
                await ws.send(json.dumps({"type": "order", "id": "",
                                          "data": order_row(event, sim)}))

    async def requests() -> None:
        async for message in ws:
            try:
                request = json.loads(message)
                action, value = request["a"], request["v"]
            except (ValueError, KeyError, TypeError):
                await ws.send(json.dumps({"type": "error", "data": "Invalid message"}))
                continue
            if action == "subscribe":
                new = [int(t) for t in value if int(t) in sim.instruments]
                if len(set(subscribed) | set(new)) > MAX_TOKENS:
                    await ws.send(json.dumps({"type": "error",
                                              "data": "Subscription limit exceeded"}))
                    continue
                for t in new:
                    subscribed.setdefault(t, "quote")
                await send_ticks(new)
            elif action == "unsubscribe":
                for t in value:
                    subscribed.pop(int(t), None)
            elif action == "mode" and value[0] in MODES:
                changed = [int(t) for t in value[1] if int(t) in subscribed]
                for t in changed:
                    subscribed[t] = value[0]
                await send_ticks(changed)             # the current packet, in the new mode

    await socket_session(ex, ws, events, [ex.tick_listeners, ex.order_listeners], pump(),
                         requests())


async def start(sim: KiteSim, host: str, port: int):
    return await serve(lambda ws: handler(sim, ws), host, port,
                       process_request=process_request(sim), ping_interval=None)
