"""Live market data from Upstox's v3 feed on our own `websockets` client: the address from its
authorize call, subscriptions as binary JSON (`{"guid", "method": "sub" | "unsub", "data":
{"mode", "instrumentKeys"}}`), ticks as protobuf FeedResponse messages decoded with the SDK's
own generated classes (MarketDataFeedV3.proto). "full" mode carries the day's volume (vtt)."""
from __future__ import annotations

import json
import logging
import time
import uuid

from google.protobuf.message import DecodeError
from upstox_client.feeder.proto import MarketDataFeedV3_pb2 as pb

from connectors.market_stream import MarketStream, OnTick
from connectors.upstox.master import Master
from connectors.upstox.orders import authorized_url
from connectors.upstox.session import UpstoxSession

log = logging.getLogger(__name__)
MAX_TOKENS = 2000            # instruments per connection in full mode


def decode(message: bytes) -> list[tuple[str, int, int | None]]:
    """(instrument key, last price in paise, the day's volume or None) per instrument."""
    response = pb.FeedResponse()
    response.ParseFromString(message)
    out = []
    for key, feed in response.feeds.items():
        kind = feed.WhichOneof("FeedUnion")
        if kind == "ltpc":
            out.append((key, round(feed.ltpc.ltp * 100), None))
        elif kind == "fullFeed":
            full = feed.fullFeed
            if full.WhichOneof("FullFeedUnion") == "marketFF":
                out.append((key, round(full.marketFF.ltpc.ltp * 100), full.marketFF.vtt))
            else:
                out.append((key, round(full.indexFF.ltpc.ltp * 100), None))
    return out


def request(method: str, keys: list[str], mode: str | None = None) -> bytes:
    data = {"instrumentKeys": keys} | ({"mode": mode} if mode else {})
    return json.dumps({"guid": uuid.uuid4().hex, "method": method, "data": data}).encode()


class UpstoxMarketStream(MarketStream):
    """wanted: Upstox instrument key -> pinewire token. on_tick(pinewire token, last price in
    paise, receive time ms, the day's volume)."""

    def __init__(self, session: UpstoxSession, master: Master, on_tick: OnTick):
        super().__init__()
        self.session, self.master, self.on_tick = session, master, on_tick

    async def want(self, tokens: dict[str, str]) -> None:
        """The instruments to stream from now on: pinewire token -> exchange."""
        async def key(exchange, token, symbol):
            found = await self.master.instrument(exchange, token, symbol)
            return found and found.instrument_key
        await self.set_wanted(await self.mapped(tokens, key, "Upstox"))

    async def address(self) -> tuple[str, dict]:
        return await authorized_url(self.session, "get_market_data_feed_authorize_v3"), {}

    def changes(self, gone: dict, new: dict) -> list:
        return ([request("unsub", sorted(gone))] if gone else []) + \
            ([request("sub", sorted(new), "full")] if new else [])

    async def on_message(self, message) -> None:
        if not isinstance(message, bytes):
            return
        try:
            ticks = decode(message)
        except DecodeError:
            log.warning("undecodable market data message skipped (%d bytes)", len(message))
            return
        now = int(time.time() * 1000)
        for key, paise, volume in ticks:
            token = self.wanted.get(key)
            if token is not None:
                await self.on_tick(token, paise, now, volume)
