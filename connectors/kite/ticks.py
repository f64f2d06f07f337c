"""Live market data from the KiteTicker websocket, on our own `websockets` client (the SDK's
ticker runs Twisted's reactor in a thread of its own). Binary frames: a 2-byte packet count,
then each packet with its 2-byte length; an instrument's packet starts with its instrument
token and last price (paise; 4 bytes each, big-endian), and in quote and full mode carries the
day's volume at bytes 16–20. A 1-byte frame is a heartbeat."""
from __future__ import annotations

import json
import logging
import struct
import time
from dataclasses import dataclass

from connectors.kite.master import Master
from connectors.kite.orders import socket_url
from connectors.kite.session import KiteSession
from connectors.market_stream import MarketStream, OnTick

log = logging.getLogger(__name__)
MAX_TOKENS = 3000                       # instruments per connection
INDEX_SEGMENT = 9
DIVISORS = {3: 10_000_000, 6: 10_000}   # currency segments quote in finer units than paise


@dataclass(frozen=True)
class KiteTick:
    instrument_token: int
    ltp_paise: int
    volume: int | None


def decode(frame: bytes) -> list[KiteTick]:
    if len(frame) < 2:
        return []
    count, at, ticks = struct.unpack_from(">H", frame)[0], 2, []
    for _ in range(count):
        (length,) = struct.unpack_from(">H", frame, at)
        packet = frame[at + 2: at + 2 + length]
        at += 2 + length
        if length < 8:
            continue
        token, price = struct.unpack_from(">II", packet)
        segment = token & 0xFF
        if segment in DIVISORS:
            continue                    # currencies: not traded here
        volume = None
        if length in (44, 184) and segment != INDEX_SEGMENT:
            (volume,) = struct.unpack_from(">I", packet, 16)
        ticks.append(KiteTick(token, price, volume))
    return ticks


class KiteMarketStream(MarketStream):
    """wanted: Kite instrument token -> pinewire token. on_tick(pinewire token, last price in
    paise, receive time ms, the day's volume)."""

    def __init__(self, session: KiteSession, master: Master, ws_root: str, on_tick: OnTick):
        super().__init__()
        self.session, self.master, self.ws_root, self.on_tick = session, master, ws_root, on_tick

    async def want(self, tokens: dict[str, str]) -> None:
        """The instruments to stream from now on: pinewire token -> exchange."""
        async def key(exchange, token, symbol):
            found = await self.master.instrument(exchange, token, symbol)
            return found and found.instrument_token
        await self.set_wanted(await self.mapped(tokens, key, "Kite"))

    async def address(self) -> tuple[str, dict]:
        await self.session.ensure()
        return socket_url(self.ws_root, self.session), {}

    def changes(self, gone: dict, new: dict) -> list:
        out = [json.dumps({"a": "unsubscribe", "v": sorted(gone)})] if gone else []
        if new:
            out += [json.dumps({"a": "subscribe", "v": sorted(new)}),
                    json.dumps({"a": "mode", "v": ["quote", sorted(new)]})]
        return out

    async def on_message(self, message) -> None:
        if isinstance(message, str):
            if '"error"' in message:
                log.warning("market data server says: %s", message[:200])
            return
        try:
            ticks = decode(message)
        except struct.error:
            log.warning("undecodable market data frame skipped (%d bytes)", len(message))
            return
        now = int(time.time() * 1000)
        for tick in ticks:
            token = self.wanted.get(tick.instrument_token)
            if token is not None:         # not one in flight from before an unsubscribe
                await self.on_tick(token, tick.ltp_paise, now, tick.volume)
