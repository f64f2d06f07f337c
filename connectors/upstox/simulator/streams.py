"""The two feeds, each opened at the one-time address its authorize call gave: the portfolio
stream (`/portfolio`: JSON order updates of the code's user, `"update_type": "order"`) and the
v3 market-data feed (`/market`: binary JSON subscriptions, protobuf FeedResponse ticks built
with the SDK's own generated classes)."""
from __future__ import annotations

import json
import time
from http import HTTPStatus
from urllib.parse import parse_qs, urlsplit

from upstox_client.feeder.proto import MarketDataFeedV3_pb2 as pb
from websockets.asyncio.server import ServerConnection, serve

from connectors.sim_common import listen, socket_session
from connectors.upstox.simulator.state import UpstoxSim, order_row

MODES = ("ltpc", "full", "option_greeks", "full_d30")


def feed_response(sim: UpstoxSim, keys: dict[str, str], live: bool) -> bytes:
    """A FeedResponse carrying the last price of each key, in its subscribed mode."""
    response = pb.FeedResponse(type=pb.live_feed if live else pb.initial_feed,
                               currentTs=int(time.time() * 1000))
    for key, mode in keys.items():
        price = sim.exchange.prices.get(key)
        if price is None:
            continue
        ltpc = pb.LTPC(ltp=price / 100, ltt=int(time.time() * 1000), ltq=1, cp=price / 100)
        feed = response.feeds[key]
        if mode == "ltpc":
            feed.ltpc.CopyFrom(ltpc)
        elif key.startswith("NSE_INDEX"):
            feed.fullFeed.indexFF.ltpc.CopyFrom(ltpc)
        else:
            feed.fullFeed.marketFF.ltpc.CopyFrom(ltpc)
            feed.fullFeed.marketFF.vtt = sim.volumes.get(key, 0)
    return response.SerializeToString()


def process_request(sim: UpstoxSim):
    def check(connection: ServerConnection, request):
        url = urlsplit(request.path)
        code = parse_qs(url.query).get("code", [""])[0]
        if url.path not in ("/portfolio", "/market") or code not in sim.feed_codes or \
                sim.exchange.faults.refuse_streams:
            return connection.respond(HTTPStatus.FORBIDDEN, "Invalid or used code\n")
        return None
    return check


async def handler(sim: UpstoxSim, ws: ServerConnection) -> None:
    url = urlsplit(ws.request.path)
    user = sim.feed_codes.pop(parse_qs(url.query)["code"][0])     # a code opens one socket
    ex = sim.exchange
    market = url.path == "/market"
    listening = ex.tick_listeners if market else ex.order_listeners
    events = listen(listening)
    subscribed: dict[str, str] = {}

    async def pump() -> None:
        while True:
            event = await events.get()
            if market and event[0] in subscribed:
                await ws.send(feed_response(sim, {event[0]: subscribed[event[0]]}, True))
            elif not market and event.client_code == user:
                await ws.send(json.dumps({"update_type": "order", "user_id": user,
                                          **order_row(event, sim)}))

    async def requests() -> None:
        async for message in ws:
            try:
                request = json.loads(message)
                method, keys = request["method"], request["data"]["instrumentKeys"]
            except (ValueError, KeyError, TypeError):
                continue
            if method == "sub":
                mode = request["data"].get("mode", "ltpc")
                new = {k: mode for k in keys if k in sim.instruments and mode in MODES}
                subscribed.update(new)
                await ws.send(feed_response(sim, new, False))
            elif method == "unsub":
                for key in keys:
                    subscribed.pop(key, None)
            elif method == "change_mode":
                for key in keys:
                    if key in subscribed:
                        subscribed[key] = request["data"]["mode"]

    await socket_session(ex, ws, events, [listening], pump(), requests())


async def start(sim: UpstoxSim, host: str, port: int):
    return await serve(lambda ws: handler(sim, ws), host, port,
                       process_request=process_request(sim), ping_interval=None)
