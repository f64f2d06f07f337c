"""Past candles from Upstox's v3 historical API (GET /v3/historical-candle/{instrument key}/
{unit}/{interval}/{to date}/{from date}, through the upstox-python-sdk's HistoryV3Api, which
sends no access token: Upstox serves it without one): 1 to 15 minutes a month a call, an hour
a quarter, a day a decade; Upstox answers newest first."""
from __future__ import annotations

from datetime import datetime

import upstox_client
from upstox_client.rest import ApiException

from connectors.history import FromMaster, HistoryUnavailable
from connectors.upstox.session import error_text

UNITS = {"1": ("minutes", 1), "3": ("minutes", 3), "5": ("minutes", 5),
         "15": ("minutes", 15), "60": ("hours", 1), "D": ("days", 1)}


class UpstoxHistory(FromMaster):
    """connectors.history.Source for an Upstox account."""
    broker = "upstox"
    MAX_DAYS = {"1": 31, "3": 31, "5": 31, "15": 31, "60": 92, "D": 3660}

    async def _span(self, inst, timeframe: str, start: datetime, end: datetime) -> list[list]:
        unit, interval = UNITS[timeframe]
        try:
            answer = await self.session.api(
                "other", upstox_client.HistoryV3Api, "get_historical_candle_data1",
                inst.instrument_key, unit, interval, end.date().isoformat(),
                start.date().isoformat())
        except ApiException as exc:
            raise HistoryUnavailable(f"Upstox's historical data for {inst.trading_symbol}: "
                                     f"{error_text(exc)}") from None
        return [c for c in reversed(answer.data.candles or [])
                if start <= datetime.fromisoformat(c[0]).replace(tzinfo=None) <= end]
