"""The simulated exchange's past, which every broker's simulator serves through its own
historical API: 1-minute candles for any instrument (by its exchange token) and any NSE
trading day, the same for every request and every simulator (a walk seeded by the token and
the day, in 5-paise steps), and the longer intervals rolled up from them, aligned to 09:15 IST
(a day's candle is its session)."""
from __future__ import annotations

import random
from datetime import date, datetime, timedelta

from schemas.market_time import IST, SESSION_OPEN, is_trading_day

SESSION_MINUTES = 375
DAY = 0          # minutes of a day's candle: the whole session


def _level(token: str, day: date) -> int:
    """A day's opening level, in paise: set by the token, drifting slowly over the year."""
    seed = sum(ord(c) * 31 ** k for k, c in enumerate(token)) % 4_000
    return (50_000 + seed * 50 + (day.toordinal() % 97) * 100) // 5 * 5


def minute_candles(token: str, day: date) -> list[tuple[int, int, int, int, int, int]]:
    """(start_ms, open, high, low, close, volume) of each minute of the day's session."""
    if not is_trading_day(day):
        return []
    rng = random.Random(f"{token}:{day.isoformat()}")
    start = int(datetime.combine(day, SESSION_OPEN, IST).timestamp() * 1000)
    price, out = _level(token, day), []
    for k in range(SESSION_MINUTES):
        close = max(5, price + rng.randint(-12, 12) * 5)
        high = max(price, close) + rng.randint(0, 4) * 5
        low = max(5, min(price, close) - rng.randint(0, 4) * 5)
        out.append((start + k * 60_000, price, high, low, close, rng.randint(100, 5_000)))
        price = close
    return out


def _rolled(rows: list[tuple], minutes: int) -> list[tuple]:
    out: list[list] = []
    size = minutes or SESSION_MINUTES
    for k, (at, o, h, low, c, v) in enumerate(rows):
        if k % size == 0:
            out.append([at, o, h, low, c, v])
        else:
            last = out[-1]
            last[2], last[3], last[4], last[5] = max(last[2], h), min(last[3], low), c, \
                last[5] + v
    return [tuple(r) for r in out]


def candles(token: str, minutes: int, first: datetime, last: datetime) -> list[tuple]:
    """The instrument's candles of `minutes` (DAY: the session) that start within
    [first, last] (aware datetimes), oldest first, prices in paise."""
    low, high = first.timestamp() * 1000, last.timestamp() * 1000
    out, day = [], first.astimezone(IST).date()
    while day <= last.astimezone(IST).date():
        rows = _rolled(minute_candles(token, day), minutes)
        if minutes == DAY:
            midnight = int(datetime.combine(day, datetime.min.time(), IST).timestamp() * 1000)
            rows = [(midnight, *r[1:]) for r in rows]
        out += [r for r in rows if low <= r[0] <= high]
        day += timedelta(days=1)
    return out


def iso(start_ms: int, colon: bool = True) -> str:
    """A candle's time as the brokers write it: 2025-01-02T09:15:00+05:30 (+0530 for Kite)."""
    text = datetime.fromtimestamp(start_ms / 1000, IST).isoformat()
    return text if colon else text[:-3] + text[-2:]
