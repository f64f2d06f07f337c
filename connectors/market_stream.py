"""A broker's market-data websocket, whatever the broker: what to stream (`wanted`, keyed as
the broker names instruments), subscribing only the difference on every change and everything
again on every connection, reconnecting with jittered exponential backoff, a `connected` event
for the feed's watch. A broker's stream (connectors/<broker>/ticks.py) gives the address, the
subscription messages and the decoding."""
from __future__ import annotations

import asyncio
import logging
import random
from typing import Awaitable, Callable

import websockets

from schemas import instruments

log = logging.getLogger(__name__)


class MarketStream:
    max_size = 2 ** 22

    def __init__(self):
        self.wanted: dict = {}          # the broker's instrument key -> what this stream needs
        self.subscribed: dict = {}
        self.connections = 0
        self.connected = asyncio.Event()
        self._ws = None
        self._lock = asyncio.Lock()

    async def address(self) -> tuple[str, dict]:
        """(URL, headers) of a new connection. Secret: never log either."""
        raise NotImplementedError

    def changes(self, gone: dict, new: dict) -> list:
        """The messages that unsubscribe `gone` and subscribe `new`."""
        raise NotImplementedError

    async def on_message(self, message) -> None:
        raise NotImplementedError

    def refused(self, exc: websockets.InvalidStatus) -> None:
        log.warning("market data refused (HTTP %s)", exc.response.status_code)

    async def set_wanted(self, wanted: dict) -> None:
        self.wanted = dict(wanted)
        await self._sync()

    async def mapped(self, tokens: dict[str, str], find, what: str) -> dict:
        """{broker key: pinewire token} of the instruments the broker lists: find(exchange,
        token, symbol) is the broker's instrument master's awaitable lookup, giving the key."""
        out = {}
        for token, exchange in tokens.items():
            inst = instruments.by_token(token)
            key = await find(exchange, token, inst.symbol if inst else token)
            if key is None:
                log.warning("%s:%s is not in %s's instrument list: no ticks", exchange, token,
                            what)
            else:
                out[key] = token
        return out

    async def _sync(self) -> None:
        async with self._lock:
            ws = self._ws
            if ws is None:
                return
            gone = {k: v for k, v in self.subscribed.items() if k not in self.wanted}
            new = {k: v for k, v in self.wanted.items() if k not in self.subscribed}
            for message in self.changes(gone, new):
                await ws.send(message)
            self.subscribed = dict(self.wanted)

    async def run(self) -> None:
        attempt = 0
        while True:
            try:
                url, headers = await self.address()
                async with websockets.connect(url, additional_headers=headers, ping_interval=10,
                                              ping_timeout=20, open_timeout=10,
                                              max_size=self.max_size) as ws:
                    self._ws, self.subscribed = ws, {}
                    self.connections += 1
                    attempt = 0
                    await self._sync()            # subscribe every wanted instrument
                    self.connected.set()
                    async for message in ws:
                        await self.on_message(message)
            except asyncio.CancelledError:
                raise
            except websockets.InvalidStatus as exc:
                self.refused(exc)
            except Exception as exc:  # noqa: BLE001 - any other failure: reconnect
                log.warning("market data stream lost (%s)", type(exc).__name__)
            finally:
                self._ws = None
                self.connected.clear()
            attempt += 1
            await asyncio.sleep(random.uniform(0.5, 1.0) * min(30.0, 0.5 * 2 ** min(attempt, 6)))


OnTick = Callable[[str, int, int, "int | None"], Awaitable[None]]
