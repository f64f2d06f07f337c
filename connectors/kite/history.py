"""Past candles from Kite Connect's historical API (GET /instruments/historical/{instrument
token}/{interval}, through the kiteconnect SDK): in the longest spans Kite allows one call
(minute 60 days, 3 and 5 minutes 100, 15 minutes 200, 60 minutes 400, day 2,000), at most 3
calls a second (connectors/kite/ratelimit.py)."""
from __future__ import annotations

from datetime import datetime

from kiteconnect import exceptions as kex

from connectors.history import HistoryUnavailable, candle, spans
from connectors.kite.master import Master
from connectors.kite.session import KiteSession
from schemas.records import Candle

INTERVALS = {"1": "minute", "3": "3minute", "5": "5minute", "15": "15minute",
             "60": "60minute", "D": "day"}
MAX_DAYS = {"1": 60, "3": 100, "5": 100, "15": 200, "60": 400, "D": 2000}


class KiteHistory:
    """connectors.history.Source for a Kite account."""
    broker = "kite"

    def __init__(self, session: KiteSession, master: Master):
        self.session, self.master = session, master

    async def fetch(self, exchange: str, token: str, symbol: str, timeframe: str,
                    first: datetime, last: datetime) -> list[Candle]:
        inst = await self.master.instrument(exchange, token, symbol)
        if inst is None:
            raise HistoryUnavailable(f"{exchange}:{symbol} is not in Kite's instrument list")
        out: list[Candle] = []
        for start, end in spans(first, last, MAX_DAYS[timeframe]):
            try:
                rows = await self.session.call("historical", "historical_data",
                                               inst.instrument_token, start, end,
                                               INTERVALS[timeframe])
            except kex.KiteException as exc:
                raise HistoryUnavailable(f"Kite's historical data for {symbol}: {exc}") \
                    from None
            out += [candle(token, timeframe, [r["date"].isoformat(), r["open"], r["high"],
                                              r["low"], r["close"], r.get("volume")])
                    for r in rows]
        return out
