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
from datetime import datetime

from agents.risk import ist_day
from schemas.market_time import IST, SESSION_OPEN, TIMEFRAMES as LABELLED

TIMEFRAMES = tuple(m for m in LABELLED.values() if m != LABELLED["D"])   # minutes
DAILY = LABELLED["D"]                # the session, 09:15-15:30 IST: the day's candle
MINUTE_MS = 60_000


def label(minutes: int) -> str:
    """A timeframe as candle records and strategy parameters name it: "15", or "D"."""
    return next(name for name, m in LABELLED.items() if m == minutes)


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


@dataclass(frozen=True)
class Candle:
    token: str
    minutes: int
    start_ms: int
    open: int
    high: int
    low: int
    close: int
    volume: int | None
    ticks: int

    @property
    def end_ms(self) -> int:
        return self.start_ms + self.minutes * MINUTE_MS


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
        if any(ts_ms < self.closed_until.get(m, ts_ms) or
               (m in self.windows and ts_ms < self.windows[m].start_ms)
               for m in self.timeframes):
            self.late += 1
            return []
        closed = self.close_until(ts_ms)
        volume_before = self.last_day_volume
        if day_volume is not None:
            if volume_before is None or day_volume < volume_before:   # the first, or a new day
                volume_before = day_volume
            self.last_day_volume = day_volume
        for minutes in self.timeframes:
            window = self.windows.get(minutes)
            if window is None:
                self.windows[minutes] = _Open(window_start(ts_ms, minutes), price, price, price,
                                              price, volume_from=volume_before,
                                              volume_to=day_volume)
            else:
                window.high, window.low = max(window.high, price), min(window.low, price)
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
        return sorted(closed, key=lambda c: (c.end_ms, c.minutes))

    def _candle(self, minutes: int, w: _Open) -> Candle:
        volume = None if w.volume_to is None else w.volume_to - w.volume_from
        return Candle(self.token, minutes, w.start_ms, w.open, w.high, w.low, w.close, volume,
                      w.ticks)

    def state(self) -> dict:
        """What the candle agent keeps in its table."""
        return asdict(self)

    @classmethod
    def from_state(cls, state: dict) -> CandleBuilder:
        return cls(state["token"], tuple(state["timeframes"]),
                   {int(m): _Open(**w) for m, w in state["windows"].items()},
                   {int(m): end for m, end in state["closed_until"].items()},
                   state["last_day_volume"], state["late"])
