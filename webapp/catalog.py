"""What symbols the gateway accepts: Angel One's instrument master when one is configured
(reloaded each day), else the built-in paper catalog. Option signals need the master."""
from __future__ import annotations

import asyncio
import logging
from datetime import date, datetime

from connectors.smartapi.master import InstrumentError, InstrumentMaster
from schemas import instruments
from schemas.market_time import IST
from schemas.settings import Settings

log = logging.getLogger(__name__)


def today_ist() -> date:
    return datetime.now(IST).date()


class BuiltinCatalog:
    def lookup(self, symbol: str, exchange: str = "NSE"):
        return instruments.lookup(symbol, exchange)

    def equities(self) -> list[str]:
        return sorted(f"{i.exchange}:{i.symbol}" for i in instruments.CATALOG.values()
                      if i.exchange == "NSE" and i.symbol.endswith("-EQ"))

    def resolve_option(self, underlying: str, right: str, price_paise: int, today: date):
        raise InstrumentError("option signals need the instrument master: set "
                              "PINEWIRE_INSTRUMENT_MASTER to OpenAPIScripMaster.json (path or URL)")


class DailyMaster:
    """Serves the loaded master; a background task loads the new day's file, so no webhook
    ever waits for a download (TradingView gives up after 3 s)."""

    def __init__(self, source: str, cache_dir):
        self.source, self.cache_dir = source, cache_dir
        self.day: date | None = None
        self.master: InstrumentMaster | None = None

    def refresh(self) -> None:
        if self.master is None or self.day != today_ist():
            day = today_ist()
            self.master, self.day = InstrumentMaster.load(self.source, self.cache_dir, day), day

    async def keep_fresh(self, interval_s: float = 300) -> None:
        while True:
            try:
                await asyncio.to_thread(self.refresh)
            except Exception as exc:  # noqa: BLE001 - keep the old master, try again later
                log.error("instrument master %s could not be loaded: %s", self.source, exc)
            await asyncio.sleep(interval_s)

    def current(self) -> InstrumentMaster:
        if self.master is None:
            self.refresh()   # only before the first background load has finished
        return self.master

    def lookup(self, symbol: str, exchange: str = "NSE"):
        return self.current().lookup(symbol, exchange)

    def resolve_option(self, underlying: str, right: str, price_paise: int, today: date):
        return self.current().resolve_option(underlying, right, price_paise, today)

    def equities(self) -> list[str]:
        return self.current().equities()


def catalog(settings: Settings):
    if settings.instrument_master:
        return DailyMaster(settings.instrument_master, settings.data_dir / "instruments")
    return BuiltinCatalog()
