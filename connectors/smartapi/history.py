"""Past candles from Angel One's historical API (getCandleData), for the strategies to warm up
from: fetched in the longest spans the API allows per call, held to its limit (3 calls a
second, 180 a minute), returned as candle records marked as history."""
from __future__ import annotations

from datetime import datetime, timedelta

from connectors.smartapi.session import Session, error_code
from schemas.market_time import IST, SESSION_OPEN, TIMEFRAMES
from schemas.money import rupees_to_paise
from schemas.records import Candle

INTERVALS = {"1": "ONE_MINUTE", "3": "THREE_MINUTE", "5": "FIVE_MINUTE",
             "15": "FIFTEEN_MINUTE", "60": "ONE_HOUR", "D": "ONE_DAY"}
MAX_DAYS = {"1": 30, "3": 60, "5": 100, "15": 200, "60": 400, "D": 2000}   # per call


class HistoryUnavailable(RuntimeError):
    """The broker did not give the candles: its words."""


def spans(start: datetime, end: datetime, timeframe: str) -> list[tuple[datetime, datetime]]:
    """[start, end] cut into the longest spans one call may ask for."""
    step, out = timedelta(days=MAX_DAYS[timeframe]), []
    while start <= end:
        out.append((start, min(end, start + step - timedelta(minutes=1))))
        start += step
    return out


def candle(token: str, timeframe: str, row: list) -> Candle:
    """One [ISO time, open, high, low, close, volume] row, prices in rupees."""
    at = datetime.fromisoformat(row[0])
    if at.tzinfo is None:
        at = at.replace(tzinfo=IST)
    if timeframe == "D":
        at = datetime.combine(at.astimezone(IST).date(), SESSION_OPEN, IST)
    start = int(at.timestamp() * 1000)
    return Candle(token=token, timeframe=timeframe, start_ms=start,
                  end_ms=start + TIMEFRAMES[timeframe] * 60_000,
                  open=rupees_to_paise(str(row[1])), high=rupees_to_paise(str(row[2])),
                  low=rupees_to_paise(str(row[3])), close=rupees_to_paise(str(row[4])),
                  volume=int(row[5]) if len(row) > 5 and row[5] is not None else None,
                  history=True)


async def fetch(session: Session, exchange: str, token: str, timeframe: str,
                start: datetime, end: datetime) -> list[Candle]:
    out: list[Candle] = []
    for first, last in spans(start, end, timeframe):
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
