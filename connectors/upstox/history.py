"""Past candles from Upstox's v3 historical API (GET /v3/historical-candle/{instrument key}/
{unit}/{interval}/{to date}/{from date}, through the upstox-python-sdk's HistoryV3Api): 1 to 15
minutes a month a call, an hour a quarter, a day a decade; Upstox answers newest first."""
from __future__ import annotations

from datetime import datetime

import upstox_client
from upstox_client.rest import ApiException

from connectors.history import HistoryUnavailable, candle, spans
from connectors.upstox.master import Master
from connectors.upstox.session import UpstoxSession, error_text
from schemas.records import Candle

UNITS = {"1": ("minutes", 1), "3": ("minutes", 3), "5": ("minutes", 5),
         "15": ("minutes", 15), "60": ("hours", 1), "D": ("days", 1)}
MAX_DAYS = {"1": 31, "3": 31, "5": 31, "15": 31, "60": 92, "D": 3660}


class UpstoxHistory:
    """connectors.history.Source for an Upstox account."""
    broker = "upstox"

    def __init__(self, session: UpstoxSession, master: Master):
        self.session, self.master = session, master

    async def fetch(self, exchange: str, token: str, symbol: str, timeframe: str,
                    first: datetime, last: datetime) -> list[Candle]:
        inst = await self.master.instrument(exchange, token, symbol)
        if inst is None:
            raise HistoryUnavailable(f"{exchange}:{symbol} is not in Upstox's instrument list")
        unit, interval = UNITS[timeframe]
        out: list[Candle] = []
        for start, end in spans(first, last, MAX_DAYS[timeframe]):
            try:
                answer = await self.session.api(
                    "other", upstox_client.HistoryV3Api, "get_historical_candle_data1",
                    inst.instrument_key, unit, interval, end.date().isoformat(),
                    start.date().isoformat())
            except ApiException as exc:
                raise HistoryUnavailable(f"Upstox's historical data for {symbol}: "
                                         f"{error_text(exc)}") from None
            rows = [c for c in reversed(answer.data.candles or [])
                    if first <= datetime.fromisoformat(c[0]).replace(tzinfo=None) <= last]
            out += [candle(token, timeframe, row) for row in rows]
        return out
