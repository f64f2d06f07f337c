"""Candles from ticks: one instrument's OHLC candles in tumbling windows of 1, 3, 5, 15 and 60
minutes, aligned to the NSE session's open (09:15 IST), so the hour runs 09:15–10:15 and the
last candles of the day end at 15:30; the day's candle is the 375-minute window of the session
itself (09:15–15:30), closing with it. Pure: ticks and the time in, closed candles out.

A window closes when a tick of a later window arrives or when the time passes its end
(`close_until`, which the candle agent calls on a timer: an illiquid instrument's candle still
closes on time). A window without a tick makes no candle. A tick older than its instrument's
open window (or than the last closed one) is late: counted and dropped, never reopening a
candle that was sent.

Prices are integer paise. Volume is the increase of the day's traded volume over the window
when the feed gives it (SmartAPI's quote mode does; counted from the first tick seen), else
None.

Faust's windowed tables were not used: their windows are aligned to the epoch, so an hour
would run 09:30–10:30 IST, and they close a window only when its table is cleaned up, not when
its time has passed. The builder's state is a plain dict per instrument (`state` /
`from_state`), kept in a changelog-backed table by the candle agent.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from typing import Callable

from agents.risk import ist_day
from schemas.market_time import IST, SESSION_OPEN, TIMEFRAMES as LABELLED
from schemas.records import Candle

TIMEFRAMES = tuple(m for m in LABELLED.values() if m != LABELLED["D"])   # minutes
DAILY = LABELLED["D"]                # the session, 09:15-15:30 IST: the day's candle
MINUTE_MS = 60_000


def label(minutes: int) -> str:
    """A timeframe as candle records and strategy parameters name it: "15", or "D"."""
    return next(name for name, m in LABELLED.items() if m == minutes)


def timeframe_of(value: str | int) -> str:
    """The label of a strategy's timeframe: "1" to "60", "D", or "W" and "M" (rolled up from
    the day's candles); ValueError for any other."""
    text = str(value).upper()
    if text not in LABELLED and text not in PERIODS:
        raise ValueError(f"timeframe must be one of {', '.join(map(str, TIMEFRAMES))} "
                         f"(minutes), D (the session), W or M, not {value!r}")
    return text


def built_from(timeframe: str) -> int:
    """The minutes of the candles ticks make for a timeframe: W and M come from the day's."""
    return LABELLED["D" if timeframe in PERIODS else timeframe]


def minutes_of(timeframe: str | int) -> int:
    """The minutes of a timeframe label; ValueError for one there is none of."""
    minutes = LABELLED.get(str(timeframe).upper())
    if minutes is None:
        raise ValueError(f"timeframe must be one of {', '.join(map(str, TIMEFRAMES))} "
                         f"(minutes) or D (the session), not {timeframe!r}")
    return minutes


def window_start(ts_ms: int, minutes: int) -> int:
    """The start (epoch ms) of the `minutes` window holding ts_ms, counted from 09:15 IST of
    the tick's IST day."""
    open_ms = int(datetime.combine(ist_day(ts_ms), SESSION_OPEN, IST).timestamp() * 1000)
    size = minutes * MINUTE_MS
    return open_ms + (ts_ms - open_ms) // size * size


@dataclass
class _Open:
    """A window with at least one tick."""
    start_ms: int
    open: int
    high: int
    low: int
    close: int
    ticks: int = 1
    volume_from: int | None = None    # the day's volume before the window's first tick (at
    volume_to: int | None = None      # the first tick seen at all), and at its last tick


@dataclass
class CandleBuilder:
    token: str
    timeframes: tuple[int, ...] = TIMEFRAMES
    windows: dict[int, _Open] = field(default_factory=dict)     # minutes -> open window
    closed_until: dict[int, int] = field(default_factory=dict)  # minutes -> last closed end
    last_day_volume: int | None = None
    late: int = 0

    def on_tick(self, price: int, ts_ms: int, day_volume: int | None = None) -> list[Candle]:
        """The candles this tick closes (it belongs to a later window), oldest first; the tick
        joins its own windows. A late tick changes nothing but the `late` count."""
        windows, closed_until = self.windows, self.closed_until
        for minutes in self.timeframes:
            window = windows.get(minutes)
            if ts_ms < closed_until.get(minutes, ts_ms) or \
                    window is not None and ts_ms < window.start_ms:
                self.late += 1
                return []
        closed = self.close_until(ts_ms)
        volume_before = self.last_day_volume
        if day_volume is not None:
            if volume_before is None or day_volume < volume_before:   # the first, or a new day
                volume_before = day_volume
            self.last_day_volume = day_volume
        for minutes in self.timeframes:
            window = windows.get(minutes)
            if window is None:
                windows[minutes] = _Open(window_start(ts_ms, minutes), price, price, price,
                                         price, volume_from=volume_before, volume_to=day_volume)
            else:
                if price > window.high:
                    window.high = price
                elif price < window.low:
                    window.low = price
                window.close, window.ticks = price, window.ticks + 1
                if day_volume is not None:
                    window.volume_to = day_volume
        return closed

    def close_until(self, now_ms: int) -> list[Candle]:
        """The open windows that ended at or before now_ms, as candles, oldest first."""
        closed = []
        for minutes in self.timeframes:
            window = self.windows.get(minutes)
            if window is not None and window.start_ms + minutes * MINUTE_MS <= now_ms:
                del self.windows[minutes]
                self.closed_until[minutes] = window.start_ms + minutes * MINUTE_MS
                closed.append(self._candle(minutes, window))
        if len(closed) > 1:
            closed.sort(key=lambda c: (c.end_ms, c.end_ms - c.start_ms))
        return closed

    def _candle(self, minutes: int, w: _Open) -> Candle:
        volume = None if w.volume_to is None else w.volume_to - w.volume_from
        return Candle(token=self.token, timeframe=label(minutes), start_ms=w.start_ms,
                      end_ms=w.start_ms + minutes * MINUTE_MS, open=w.open, high=w.high,
                      low=w.low, close=w.close, volume=volume, ticks=w.ticks)

    def state(self) -> dict:
        """What the candle agent keeps in its table."""
        return asdict(self)

    @classmethod
    def from_state(cls, state: dict) -> CandleBuilder:
        return cls(state["token"], tuple(state["timeframes"]),
                   {int(m): _Open(**w) for m, w in state["windows"].items()},
                   {int(m): end for m, end in state["closed_until"].items()},
                   state["last_day_volume"], state["late"])


PERIODS = ("W", "M")          # weekly and monthly candles, rolled up from the day's


def _period(day: date, period: str) -> list[int]:
    return list(day.isocalendar()[:2]) if period == "W" else [day.year, day.month]


def last_of_period(day: date, period: str, is_trading_day: Callable[[date], bool]) -> bool:
    """Whether `day` is the last trading day of its week or month."""
    following = day + timedelta(days=1)
    while not is_trading_day(following):
        following += timedelta(days=1)
    return _period(following, period) != _period(day, period)


def roll_up(open_: dict | None, day: Candle, period: str, last: bool
            ) -> tuple[dict | None, list[Candle]]:
    """A week's or month's candle from its days': the period still open after this day's candle
    (a plain dict, for a table) and the period candles it closes — the period's, when `last`
    (its last trading day), and an earlier one never closed (its last day had no candle)."""
    key, closed = _period(ist_day(day.start_ms), period), []
    if open_ is not None and open_["key"] != key:
        closed.append(_period_candle(day.token, period, open_, day.history))
        open_ = None
    if open_ is None:
        open_ = {"key": key, "start_ms": day.start_ms, "open": day.open, "high": day.high,
                 "low": day.low, "close": day.close, "volume": day.volume, "ticks": day.ticks}
    else:
        open_ = {**open_, "high": max(open_["high"], day.high), "low": min(open_["low"], day.low),
                 "close": day.close, "ticks": open_["ticks"] + day.ticks,
                 "volume": None if open_["volume"] is None or day.volume is None
                 else open_["volume"] + day.volume}
    open_["end_ms"] = day.end_ms
    if last:
        closed.append(_period_candle(day.token, period, open_, day.history))
        open_ = None
    return open_, closed


def _period_candle(token: str, period: str, p: dict, history: bool) -> Candle:
    return Candle(token=token, timeframe=period, start_ms=p["start_ms"], end_ms=p["end_ms"],
                  open=p["open"], high=p["high"], low=p["low"], close=p["close"],
                  volume=p["volume"], ticks=p["ticks"], history=history)
