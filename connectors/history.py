"""Past candles from an account's broker, for backtests and for strategies to warm up from:
the source of each broker kind (connectors/<broker>/history.py: its historical API, in the
longest spans one call may ask for, under the broker's rate limits), and a cache on disk — a
file per instrument, timeframe and trading day — so that a second run over the same days reads
nothing from the network. Days from today on are never cached (they may not be over)."""
from __future__ import annotations

import asyncio
import csv
import os
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Callable, Protocol

from schemas.market_time import IST, SESSION_OPEN, TIMEFRAMES, is_trading_day
from schemas.money import rupees_to_paise
from schemas.records import Candle

COLUMNS = ("start_ms", "open", "high", "low", "close", "volume")


class HistoryUnavailable(RuntimeError):
    """The broker did not give the candles: its words."""


class Source(Protocol):
    broker: str

    async def fetch(self, exchange: str, token: str, symbol: str, timeframe: str,
                    first: datetime, last: datetime) -> list[Candle]:
        """The candles starting within [first, last] (naive IST datetimes), oldest first."""


class FromMaster:
    """A Source whose broker names instruments its own way (found in its instrument list):
    the spans of MAX_DAYS, each one call (_span), the rows it answers made candles."""
    broker = ""
    MAX_DAYS: dict[str, int] = {}

    def __init__(self, session, master):
        self.session, self.master = session, master

    async def _span(self, inst, timeframe: str, start: datetime, end: datetime) -> list[list]:
        """[ISO time, open, high, low, close, volume] rows, oldest first."""
        raise NotImplementedError

    async def fetch(self, exchange: str, token: str, symbol: str, timeframe: str,
                    first: datetime, last: datetime) -> list[Candle]:
        inst = await self.master.instrument(exchange, token, symbol)
        if inst is None:
            raise HistoryUnavailable(f"{exchange}:{symbol} is not in the instrument list of "
                                     f"{self.broker}")
        out: list[Candle] = []
        for start, end in spans(first, last, self.MAX_DAYS[timeframe]):
            out += [candle(token, timeframe, row)
                    for row in await self._span(inst, timeframe, start, end)]
        return out


def spans(start: datetime, end: datetime, days: int) -> list[tuple[datetime, datetime]]:
    """[start, end] cut into the longest spans of `days` one call may ask for."""
    step, out = timedelta(days=days), []
    while start <= end:
        out.append((start, min(end, start + step - timedelta(minutes=1))))
        start += step
    return out


def candle(token: str, timeframe: str, row: list) -> Candle:
    """One [ISO time, open, high, low, close, volume] row of a broker's historical API (all
    three write them so), prices in rupees."""
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


def source(creds, settings) -> Source:
    """The historical API of the account's broker (connectors/live.py's kinds)."""
    from connectors.credentials import AppCredentials
    if isinstance(creds, AppCredentials) and creds.broker == "upstox":
        from connectors.upstox.history import UpstoxHistory
        from connectors.upstox.master import Master
        from connectors.upstox.session import UpstoxSession
        session = UpstoxSession(creds, settings.upstox_root, settings.upstox_timeout_s)
        return UpstoxHistory(session, Master(session, settings.upstox_instruments_url))
    if isinstance(creds, AppCredentials):
        from connectors.kite.history import KiteHistory
        from connectors.kite.master import Master as KiteMaster
        from connectors.kite.session import KiteSession
        session = KiteSession(creds, settings.kite_root, settings.kite_timeout_s)
        return KiteHistory(session, KiteMaster(session))
    from connectors.smartapi.history import SmartApiHistory
    from connectors.smartapi.session import Session
    return SmartApiHistory(Session(creds, settings.smartapi_root, settings.smartapi_timeout_s))


def _write(path: Path, candles: list[Candle]) -> None:
    """Whole or not at all: written aside, then renamed into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    part = path.with_suffix(".part")
    with part.open("w", newline="") as f:
        out = csv.writer(f)
        out.writerow(COLUMNS)
        out.writerows((c.start_ms, c.open, c.high, c.low, c.close,
                       "" if c.volume is None else c.volume) for c in candles)
    os.replace(part, path)


def _read(path: Path, token: str, timeframe: str, minutes: int) -> list[Candle]:
    with path.open(newline="") as f:
        rows = list(csv.reader(f))[1:]
    return [Candle(token=token, timeframe=timeframe, start_ms=int(r[0]),
                   end_ms=int(r[0]) + minutes * 60_000, open=int(r[1]), high=int(r[2]),
                   low=int(r[3]), close=int(r[4]), volume=int(r[5]) if r[5] else None,
                   history=True) for r in rows]


def _day(ms: int) -> date:
    return datetime.fromtimestamp(ms / 1000, IST).date()


def _runs(days: list[date], missing: set[date]) -> list[list[date]]:
    """The missing days in runs of trading days next to each other."""
    runs: list[list[date]] = []
    for k, day in enumerate(days):
        if day not in missing:
            continue
        if runs and runs[-1][-1] == days[k - 1]:
            runs[-1].append(day)
        else:
            runs.append([day])
    return runs


async def candles(src: Source, root: Path, exchange: str, token: str, symbol: str,
                  timeframe: str, first: date, last: date, today: date,
                  progress: Callable[[int, int], None] | None = None) -> list[Candle]:
    """The instrument's candles of the trading days first..last, oldest first: from the
    cache where it has the day, else from the broker (and then kept)."""
    minutes = TIMEFRAMES[timeframe]
    folder = root / src.broker / f"{exchange}-{token}" / timeframe
    days, day = [], first
    while day <= last:
        if is_trading_day(day):
            days.append(day)
        day += timedelta(days=1)
    missing = {d for d in days if d >= today or not (folder / f"{d}.csv").exists()}
    fetched: dict[date, list[Candle]] = {}
    done = len(days) - len(missing)
    for run in _runs(days, missing):
        got = await src.fetch(exchange, token, symbol, timeframe,
                              datetime.combine(run[0], time(0)),
                              datetime.combine(run[-1], time(23, 59)))
        for c in got:
            fetched.setdefault(_day(c.start_ms), []).append(c)
        for d in run:
            if d < today:
                await asyncio.to_thread(_write, folder / f"{d}.csv", fetched.get(d, []))
        done += len(run)
        if progress:
            progress(done, len(days))
    out: list[Candle] = []
    for d in days:
        out += fetched.get(d, []) if d in missing else \
            await asyncio.to_thread(_read, folder / f"{d}.csv", token, timeframe, minutes)
    return out
