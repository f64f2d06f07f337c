"""Live market data from the KiteTicker websocket, on our own `websockets` client (the SDK's
ticker runs Twisted's reactor in a thread of its own). Binary frames: a 2-byte packet count,
then each packet with its 2-byte length; an instrument's packet starts with its instrument
token and last price (paise; 4 bytes each, big-endian), and in quote and full mode carries the
day's volume at bytes 16–20. A 1-byte frame is a heartbeat."""
from __future__ import annotations

import asyncio
import json
import logging
import random
import struct
import time
from dataclasses import dataclass
from typing import Awaitable, Callable

import websockets

from connectors.kite.master import Master
from connectors.kite.orders import socket_url
from connectors.kite.session import KiteSession
from schemas import instruments

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


class KiteMarketStream:
    """on_tick(pinewire token, last price in paise, receive time ms, the day's volume)."""

    def __init__(self, session: KiteSession, master: Master, ws_root: str,
                 on_tick: Callable[[str, int, int, int | None], Awaitable[None]]):
        self.session, self.master, self.ws_root, self.on_tick = session, master, ws_root, on_tick
        self.wanted: dict[int, str] = {}          # Kite instrument token -> pinewire token
        self.subscribed: set[int] = set()
        self.connected = asyncio.Event()
        self._ws = None
        self._lock = asyncio.Lock()

    async def want(self, tokens: dict[str, str]) -> None:
        """The instruments to stream from now on: pinewire token -> exchange."""
        wanted = {}
        for token, exchange in tokens.items():
            inst = instruments.by_token(token)
            kite = await self.master.instrument(exchange, token, inst.symbol if inst else token)
            if kite is None:
                log.warning("%s:%s is not in Kite's instrument list: no ticks", exchange, token)
            else:
                wanted[kite.instrument_token] = token
        if len(wanted) > MAX_TOKENS:
            raise ValueError(f"{len(wanted)} instruments on one connection; the limit is "
                             f"{MAX_TOKENS}")
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
                await ws.send(json.dumps({"a": "unsubscribe", "v": gone}))
            if new:
                await ws.send(json.dumps({"a": "subscribe", "v": new}))
                await ws.send(json.dumps({"a": "mode", "v": ["quote", new]}))
            self.subscribed = set(self.wanted)

    async def run(self) -> None:
        attempt = 0
        while True:
            try:
                await self.session.ensure()
                async with websockets.connect(socket_url(self.ws_root, self.session),
                                              ping_interval=10, ping_timeout=20,
                                              open_timeout=10, max_size=2 ** 22) as ws:
                    self._ws, self.subscribed = ws, set()
                    attempt = 0
                    await self._sync()            # resubscribe every wanted instrument
                    self.connected.set()
                    async for message in ws:
                        if isinstance(message, bytes):
                            await self._on_frame(message)
                        elif '"error"' in message:
                            log.warning("market data server says: %s", message[:200])
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - any failure: reconnect
                log.warning("market data stream lost (%s)", type(exc).__name__)
            finally:
                self._ws = None
                self.connected.clear()
            attempt += 1
            await asyncio.sleep(random.uniform(0.5, 1.0) * min(30.0, 0.5 * 2 ** min(attempt, 6)))

    async def _on_frame(self, frame: bytes) -> None:
        try:
            ticks = decode(frame)
        except struct.error:
            log.warning("undecodable market data frame skipped (%d bytes)", len(frame))
            return
        now = int(time.time() * 1000)
        for tick in ticks:
            token = self.wanted.get(tick.instrument_token)
            if token is not None:         # not one in flight from before an unsubscribe
                await self.on_tick(token, tick.ltp_paise, now, tick.volume)
