"""Kite's instrument list (the /instruments CSV) against pinewire's instruments, which carry
Angel One's tokens: for NSE, BSE and their derivatives those are the exchange's own tokens,
which Kite lists as `exchange_token`; indices, which have none in common, match by name
(Angel One's "Nifty 50" is Kite's "NIFTY 50"). Read once a day per process."""
from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime

from connectors.kite.session import KiteSession
from schemas.market_time import IST


@dataclass(frozen=True)
class KiteInstrument:
    instrument_token: int
    tradingsymbol: str
    exchange: str
    exchange_token: str      # the exchange's token: pinewire's token for this instrument
    lot_size: int


class Master:
    def __init__(self, session: KiteSession):
        self.session = session
        self.day: str | None = None
        self.by_exchange_token: dict[tuple[str, str], KiteInstrument] = {}
        self.by_symbol: dict[tuple[str, str], KiteInstrument] = {}
        self.by_instrument_token: dict[int, KiteInstrument] = {}
        self._lock = asyncio.Lock()

    def load(self, rows: list[dict]) -> None:
        for row in rows:
            inst = KiteInstrument(int(row["instrument_token"]), row["tradingsymbol"],
                                  row["exchange"], str(row["exchange_token"]),
                                  int(row.get("lot_size") or 1))
            self.by_exchange_token[(inst.exchange, inst.exchange_token)] = inst
            self.by_symbol[(inst.exchange, inst.tradingsymbol.upper())] = inst
            self.by_instrument_token[inst.instrument_token] = inst

    async def _fresh(self) -> None:
        today = datetime.now(IST).date().isoformat()
        async with self._lock:
            if self.day != today:
                self.load(await self.session.call("other", "instruments"))
                self.day = today

    def find(self, exchange: str, token: str, symbol: str) -> KiteInstrument | None:
        """Kite's instrument for a pinewire instrument (exchange, Angel One token, symbol)."""
        return self.by_exchange_token.get((exchange, token)) or self.by_symbol.get(
            (exchange, symbol.upper().removesuffix("-EQ")))

    async def instrument(self, exchange: str, token: str, symbol: str) -> KiteInstrument | None:
        await self._fresh()
        return self.find(exchange, token, symbol)

    async def tradingsymbol(self, exchange: str, token: str, symbol: str) -> str | None:
        inst = await self.instrument(exchange, token, symbol)
        return inst.tradingsymbol if inst else None

    async def by_kite_token(self, instrument_token: int) -> KiteInstrument | None:
        await self._fresh()
        return self.by_instrument_token.get(int(instrument_token))
