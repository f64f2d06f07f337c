"""Upstox's instrument list (a gzipped JSON file) against pinewire's instruments: Upstox keys
instruments as "<segment>|<ISIN or contract id>" and lists the exchange's own token as
`exchange_token`, which is pinewire's token for NSE, BSE and their derivatives; indices match
by name. Read once a day per process."""
from __future__ import annotations

import asyncio
import gzip
import json
from dataclasses import dataclass
from datetime import datetime

import httpx

from schemas.market_time import IST


@dataclass(frozen=True)
class UpstoxInstrument:
    instrument_key: str
    trading_symbol: str
    exchange: str
    exchange_token: str
    lot_size: int


def download(url: str, timeout_s: float = 30.0) -> list[dict]:
    """Blocking: call it in a thread."""
    answer = httpx.get(url, timeout=timeout_s, follow_redirects=True)
    answer.raise_for_status()
    data = answer.content
    return json.loads(gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data)


class Master:
    def __init__(self, session, url: str):
        self.session, self.url = session, url
        self.day: str | None = None
        self.by_exchange_token: dict[tuple[str, str], UpstoxInstrument] = {}
        self.by_symbol: dict[tuple[str, str], UpstoxInstrument] = {}
        self.by_key: dict[str, UpstoxInstrument] = {}
        self._lock = asyncio.Lock()

    def load(self, rows: list[dict]) -> None:
        for row in rows:
            exchange = row.get("exchange") or row["segment"].split("_")[0]
            inst = UpstoxInstrument(row["instrument_key"], row["trading_symbol"], exchange,
                                    str(row.get("exchange_token") or ""),
                                    int(row.get("lot_size") or 1))
            if inst.exchange_token:
                self.by_exchange_token[(exchange, inst.exchange_token)] = inst
            self.by_symbol[(exchange, inst.trading_symbol.upper())] = inst
            self.by_key[inst.instrument_key] = inst

    async def _fresh(self) -> None:
        today = datetime.now(IST).date().isoformat()
        async with self._lock:
            if self.day != today:
                self.load(await asyncio.to_thread(download, self.url))
                self.day = today

    def find(self, exchange: str, token: str, symbol: str) -> UpstoxInstrument | None:
        return self.by_exchange_token.get((exchange, token)) or self.by_symbol.get(
            (exchange, symbol.upper().removesuffix("-EQ")))

    async def instrument(self, exchange: str, token: str, symbol: str) -> UpstoxInstrument | None:
        await self._fresh()
        return self.find(exchange, token, symbol)

    async def by_instrument_key(self, key: str) -> UpstoxInstrument | None:
        await self._fresh()
        return self.by_key.get(key)
