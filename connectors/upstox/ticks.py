"""Live market data from Upstox's v3 feed on our own `websockets` client: the address from its
authorize call, subscriptions as binary JSON (`{"guid", "method": "sub" | "unsub", "data":
{"mode", "instrumentKeys"}}`), ticks as protobuf FeedResponse messages decoded with the SDK's
own generated classes (MarketDataFeedV3.proto). "full" mode carries the day's volume (vtt)."""
from __future__ import annotations

import asyncio
import json
import logging
import random
import time
import uuid
from typing import Awaitable, Callable

import websockets
from google.protobuf.message import DecodeError
from upstox_client.feeder.proto import MarketDataFeedV3_pb2 as pb

from connectors.upstox.master import Master
from connectors.upstox.orders import authorized_url
from connectors.upstox.session import UpstoxSession
from schemas import instruments

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


class UpstoxMarketStream:
    """on_tick(pinewire token, last price in paise, receive time ms, the day's volume)."""

    def __init__(self, session: UpstoxSession, master: Master,
                 on_tick: Callable[[str, int, int, int | None], Awaitable[None]]):
        self.session, self.master, self.on_tick = session, master, on_tick
        self.wanted: dict[str, str] = {}           # Upstox instrument key -> pinewire token
        self.subscribed: set[str] = set()
        self.connected = asyncio.Event()
        self._ws = None
        self._lock = asyncio.Lock()

    async def want(self, tokens: dict[str, str]) -> None:
        """The instruments to stream from now on: pinewire token -> exchange."""
        wanted = {}
        for token, exchange in tokens.items():
            inst = instruments.by_token(token)
            found = await self.master.instrument(exchange, token, inst.symbol if inst else token)
            if found is None:
                log.warning("%s:%s is not in Upstox's instrument list: no ticks", exchange, token)
            else:
                wanted[found.instrument_key] = token
        self.wanted = wanted
        await self._sync()

    async def _sync(self) -> None:
        async with self._lock:
            ws = self._ws
            if ws is None:
                return
            gone = sorted(self.subscribed - set(self.wanted))
            new = sorted(set(self.wanted) - self.subscribed)
            if gone:
                await ws.send(request("unsub", gone))
            if new:
                await ws.send(request("sub", new, "full"))
            self.subscribed = set(self.wanted)

    async def run(self) -> None:
        attempt = 0
        while True:
            try:
                url = await authorized_url(self.session, "get_market_data_feed_authorize_v3")
                async with websockets.connect(url, ping_interval=10, ping_timeout=20,
                                              open_timeout=10, max_size=2 ** 22) as ws:
                    self._ws, self.subscribed = ws, set()
                    attempt = 0
                    await self._sync()
                    self.connected.set()
                    async for message in ws:
                        if isinstance(message, bytes):
                            await self._on_message(message)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - any failure: reconnect
                log.warning("market data stream lost (%s)", type(exc).__name__)
            finally:
                self._ws = None
                self.connected.clear()
            attempt += 1
            await asyncio.sleep(random.uniform(0.5, 1.0) * min(30.0, 0.5 * 2 ** min(attempt, 6)))

    async def _on_message(self, message: bytes) -> None:
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
