"""Past candles from Kite Connect's historical API (GET /instruments/historical/{instrument
token}/{interval}, through the kiteconnect SDK): in the longest spans Kite allows one call
(minute 60 days, 3 and 5 minutes 100, 15 minutes 200, 60 minutes 400, day 2,000), at most 3
calls a second (connectors/kite/ratelimit.py)."""
from __future__ import annotations

from datetime import datetime

from kiteconnect import exceptions as kex

from connectors.history import FromMaster, HistoryUnavailable

INTERVALS = {"1": "minute", "3": "3minute", "5": "5minute", "15": "15minute",
             "60": "60minute", "D": "day"}


class KiteHistory(FromMaster):
    """connectors.history.Source for a Kite account."""
    broker = "kite"
    MAX_DAYS = {"1": 60, "3": 100, "5": 100, "15": 200, "60": 400, "D": 2000}

    async def _span(self, inst, timeframe: str, start: datetime, end: datetime) -> list[list]:
        try:
            rows = await self.session.call("historical", "historical_data",
                                           inst.instrument_token, start, end,
                                           INTERVALS[timeframe])
        except kex.KiteException as exc:
            raise HistoryUnavailable(f"Kite's historical data for {inst.tradingsymbol}: "
                                     f"{exc}") from None
        return [[r["date"].isoformat(), r["open"], r["high"], r["low"], r["close"],
                 r.get("volume")] for r in rows]
