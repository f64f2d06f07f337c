"""Live market data: the SmartWebSocketV2 protocol on our own `websockets` client
(connectors.market_stream).

Not the SDK's client: its reconnect path is broken (user on_close never called, the resubscribe
flag reset on close, the retry counter never reset, subscriptions kept in a dict shared by every
instance). Here every connection re-sends every wanted token, pings every 10 s (RFC 6455 frames,
as the SDK does), reconnects with jittered exponential backoff, and holds at most 1000 tokens.
"""
from __future__ import annotations

import json
import logging
import secrets
from typing import Awaitable, Callable

from connectors.market_stream import MarketStream
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


class SmartApiMarketStream(MarketStream):
    """wanted: token -> exchange type."""
    max_size = 2 ** 20

    def __init__(self, session: Session, url: str,
                 on_packet: Callable[[packets.MarketPacket], Awaitable[None]],
                 mode: int = packets.LTP):
        super().__init__()
        self.session, self.url, self.on_packet, self.mode = session, url, on_packet, mode

    async def want(self, tokens: dict[str, str]) -> None:
        """The instruments to stream from now on: token -> exchange name."""
        await self.set_tokens({t: packets.EXCHANGE_TYPES.get(e, 1) for t, e in tokens.items()})

    async def set_tokens(self, tokens: dict[str, int]) -> None:
        """The tokens to stream from now on (token -> exchange type), at most 1000."""
        if len(tokens) > MAX_TOKENS:
            raise ValueError(f"{len(tokens)} tokens on one connection; the limit is {MAX_TOKENS}")
        await self.set_wanted(tokens)

    async def address(self) -> tuple[str, dict]:
        await self.session.ensure()
        return self.url, self.session.auth_headers()

    def changes(self, gone: dict, new: dict) -> list:
        return [subscribe_message(action, self.mode, tokens)
                for action, tokens in ((0, gone), (1, new)) if tokens]

    def refused(self, exc) -> None:
        reason = exc.response.headers.get("x-error-message", exc.response.status_code)
        log.warning("market data refused (%s); logging in again", reason)
        self.session.client = None       # stale tokens: the next ensure() logs in

    async def on_message(self, message) -> None:
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
