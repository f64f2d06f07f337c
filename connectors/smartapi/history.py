"""Past candles from Angel One's historical API (getCandleData), for backtests and for the
strategies to warm up from: fetched in the longest spans the API allows per call, held to its
limit (3 calls a second, 180 a minute), returned as candle records marked as history."""
from __future__ import annotations

from datetime import datetime

from connectors.history import HistoryUnavailable, candle, spans
from connectors.smartapi.session import Session, error_code
from schemas.records import Candle

INTERVALS = {"1": "ONE_MINUTE", "3": "THREE_MINUTE", "5": "FIVE_MINUTE",
             "15": "FIFTEEN_MINUTE", "60": "ONE_HOUR", "D": "ONE_DAY"}
MAX_DAYS = {"1": 30, "3": 60, "5": 100, "15": 200, "60": 400, "D": 2000}   # per call


async def fetch(session: Session, exchange: str, token: str, timeframe: str,
                start: datetime, end: datetime) -> list[Candle]:
    out: list[Candle] = []
    for first, last in spans(start, end, MAX_DAYS[timeframe]):
        response = await session.call("candles", "getCandleData", {
            "exchange": exchange, "symboltoken": token, "interval": INTERVALS[timeframe],
            "fromdate": first.strftime("%Y-%m-%d %H:%M"),
            "todate": last.strftime("%Y-%m-%d %H:%M")})
        if not isinstance(response, dict) or not response.get("status"):
            said = response.get("message") if isinstance(response, dict) else response
            raise HistoryUnavailable(f"getCandleData for {token}: {said} "
                                     f"({error_code(response) or 'no code'})")
        out += [candle(token, timeframe, row) for row in response.get("data") or []]
    return out


class SmartApiHistory:
    """connectors.history.Source for an Angel One account."""
    broker = "smartapi"

    def __init__(self, session: Session):
        self.session = session

    async def fetch(self, exchange: str, token: str, symbol: str, timeframe: str,
                    first: datetime, last: datetime) -> list[Candle]:
        return await fetch(self.session, exchange, token, timeframe, first, last)
