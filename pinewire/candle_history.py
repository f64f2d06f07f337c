"""Past candles — from a CSV, or from an account's broker (its historical API, cached on disk:
connectors/history.py) — for backtests, and for the strategies to warm up from, so that a
200-candle average is right from the first live candle: sent to the candles topic marked as
history (they give no signal).

CSV columns: symbol, timeframe (1 3 5 15 60 or D), start (IST, "2026-11-27 09:15" or a date
for D), open, high, low, close in rupees, and volume (optional). Rows of one instrument and
timeframe must be oldest first; the strategy agent drops a candle older than one it holds.
"""
from __future__ import annotations

import asyncio
import csv
from datetime import date, datetime
from pathlib import Path
from typing import Callable

from agents.strategies.candles import DAILY, MINUTE_MS, label, minutes_of
from connectors import kafka
from schemas import topics as registry
from schemas.market_time import IST, SESSION_OPEN
from schemas.money import rupees_to_paise
from schemas.records import Candle


class HistoryError(ValueError):
    """A row that cannot be a candle: the message names its line."""


def _start_ms(text: str, minutes: int) -> int:
    value = datetime.fromisoformat(text.strip())
    if minutes == DAILY:
        value = datetime.combine(value.date(), SESSION_OPEN)
    if value.tzinfo is None:
        value = value.replace(tzinfo=IST)
    return int(value.timestamp() * 1000)


def load_csv(path: Path, catalog) -> list[Candle]:
    candles = []
    with path.open(newline="") as f:
        for line, row in enumerate(csv.DictReader(f), start=2):
            try:
                inst = catalog.lookup(row["symbol"].strip().upper(), "NSE")
                if inst is None:
                    raise ValueError(f"unknown symbol {row['symbol']!r}")
                minutes = minutes_of(row["timeframe"])
                start = _start_ms(row["start"], minutes)
                volume = row.get("volume")
                candles.append(Candle(
                    token=inst.token, timeframe=label(minutes), start_ms=start,
                    end_ms=start + minutes * MINUTE_MS, open=rupees_to_paise(row["open"]),
                    high=rupees_to_paise(row["high"]), low=rupees_to_paise(row["low"]),
                    close=rupees_to_paise(row["close"]),
                    volume=int(volume) if volume not in (None, "") else None, history=True))
            except (KeyError, ValueError) as exc:
                raise HistoryError(f"{path.name} line {line}: {exc}") from None
    return candles


async def from_account(eng, s, account: dict, names: list[str], tokens: list[str],
                       timeframe: str, first: date, last: date,
                       progress: Callable[[str, int, int], None] | None = None) -> list[Candle]:
    """The candles of each instrument (names "NSE:SBIN-EQ", and their tokens) on the trading
    days first..last, from the account's broker, through the cache in data_dir/history."""
    from connectors import credentials, history
    creds = await asyncio.to_thread(credentials.load, eng, s.secret_key, account["id"])
    src, today = history.source(creds, s), datetime.now(IST).date()
    out: list[Candle] = []
    for name, token in zip(names, tokens):
        exchange, symbol = name.split(":", 1)
        shown = (lambda n, total, name=name: progress(name, n, total)) if progress else None
        out += await history.candles(src, Path(s.data_dir) / "history", exchange, token,
                                     symbol, timeframe, first, last, today, shown)
    return out


async def publish_history(bootstrap: str, namespace: str, partitions: int,
                          candles: list[Candle]) -> int:
    topic = registry.topic_name(namespace, registry.CANDLES)
    async with kafka.producing(bootstrap, linger_ms=5) as prod:
        sent = [await prod.send(topic, kafka.encode(c), key=c.token.encode(),
                                partition=registry.instrument_partition(c.token, partitions))
                for c in candles]
        for future in sent:
            await future
    return len(sent)
