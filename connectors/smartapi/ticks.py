"""Live market data: the SmartWebSocketV2 protocol on our own `websockets` client.

Not the SDK's client: its reconnect path is broken (user on_close never called, the resubscribe
flag reset on close, the retry counter never reset, subscriptions kept in a dict shared by every
instance). Here every connection re-sends every wanted token, pings every 10 s (RFC 6455 frames,
as the SDK does), reconnects with jittered exponential backoff, and holds at most 1000 tokens.
"""
from __future__ import annotations

import asyncio
import json
import logging
import random
import secrets
from typing import Awaitable, Callable

import websockets

from connectors.smartapi import packets
from connectors.smartapi.session import Session

log = logging.getLogger(__name__)
MAX_TOKENS = 1000


def subscribe_message(action: int, mode: int, tokens: dict[str, int]) -> str:
    """tokens: token -> exchange type. Grouped by exchange type, as the protocol wants."""
    groups: dict[int, list[str]] = {}
    for token, exchange_type in sorted(tokens.items()):
        groups.setdefault(exchange_type, []).append(token)
    return json.dumps({"correlationID": secrets.token_hex(5), "action": action,
                       "params": {"mode": mode, "tokenList": [
                           {"exchangeType": e, "tokens": t} for e, t in sorted(groups.items())]}})


class MarketStream:
    def __init__(self, session: Session, url: str,
                 on_packet: Callable[[packets.MarketPacket], Awaitable[None]],
                 mode: int = packets.LTP):
        self.session, self.url, self.on_packet, self.mode = session, url, on_packet, mode
        self.wanted: dict[str, int] = {}
        self.subscribed: dict[str, int] = {}
        self.connections = 0
        self.connected = asyncio.Event()
        self._ws = None
        self._lock = asyncio.Lock()

    async def want(self, tokens: dict[str, str]) -> None:
        """The instruments to stream from now on: token -> exchange name."""
        await self.set_tokens({t: packets.EXCHANGE_TYPES.get(e, 1) for t, e in tokens.items()})

    async def set_tokens(self, tokens: dict[str, int]) -> None:
        """The tokens to stream from now on (token -> exchange type), at most 1000."""
        if len(tokens) > MAX_TOKENS:
            raise ValueError(f"{len(tokens)} tokens on one connection; the limit is {MAX_TOKENS}")
        self.wanted = dict(tokens)
        await self._sync()

    async def _sync(self) -> None:
        async with self._lock:
            ws = self._ws
            if ws is None:
                return
            gone = {t: e for t, e in self.subscribed.items() if t not in self.wanted}
            new = {t: e for t, e in self.wanted.items() if t not in self.subscribed}
            if gone:
                await ws.send(subscribe_message(0, self.mode, gone))
            if new:
                await ws.send(subscribe_message(1, self.mode, new))
            self.subscribed = dict(self.wanted)

    async def run(self) -> None:
        attempt = 0
        while True:
            try:
                await self.session.ensure()
                async with websockets.connect(self.url,
                                              additional_headers=self.session.auth_headers(),
                                              ping_interval=10, ping_timeout=20,
                                              open_timeout=10, max_size=2 ** 20) as ws:
                    self._ws, self.subscribed = ws, {}
                    self.connections += 1
                    attempt = 0
                    await self._sync()            # resubscribe every wanted token
                    self.connected.set()
                    async for message in ws:
                        await self._on_message(message)
            except asyncio.CancelledError:
                raise
            except websockets.InvalidStatus as exc:
                reason = exc.response.headers.get("x-error-message", exc.response.status_code)
                log.warning("market data refused (%s); logging in again", reason)
                self.session.client = None       # stale tokens: the next ensure() logs in
            except Exception as exc:  # noqa: BLE001 - any other failure: reconnect
                log.warning("market data stream lost (%s)", type(exc).__name__)
            finally:
                self._ws = None
                self.connected.clear()
            attempt += 1
            await asyncio.sleep(random.uniform(0.5, 1.0) * min(30.0, 0.5 * 2 ** min(attempt, 6)))

    async def _on_message(self, message) -> None:
        if isinstance(message, str):
            if message != "pong":
                log.warning("market data server says: %s", message)
            return
        try:
            packet = packets.decode(message)
        except packets.PacketError as exc:
            log.warning("undecodable market data packet skipped: %s", exc)
            return
        if packet.token in self.wanted:   # not one in flight from before an unsubscribe
            await self.on_packet(packet)
