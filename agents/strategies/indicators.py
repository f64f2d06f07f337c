"""Technical indicators, incremental: each object takes one closed candle at a time and costs
O(1) per candle, whatever its period (a strategy over 200 instruments and several timeframes
updates thousands of them per candle). `update` returns the indicator's value once it has seen
enough candles, else None. Pure arithmetic on floats: the same candles give the same values,
live or in a backtest.

Conventions, as TradingView's built-ins (`ta.*`), which is what a Pine strategy's author sees:
EMA and Wilder's averages (RSI, ATR) start from the simple average of their first `period`
values; a candle's true range is high − low when there is no previous close; Bollinger bands
use the population standard deviation; SuperTrend's bands move only towards the price while the
trend lasts.
"""
from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass


def _period(period: int) -> int:
    if period < 1:
        raise ValueError(f"an indicator's period must be at least 1, not {period}")
    return period


class SMA:
    """Simple moving average of the last `period` values."""

    def __init__(self, period: int):
        self.period = _period(period)
        self.window: deque[float] = deque()
        self.total = 0.0
        self.value: float | None = None

    def update(self, x: float) -> float | None:
        self.window.append(x)
        self.total += x
        if len(self.window) > self.period:
            self.total -= self.window.popleft()
        if len(self.window) == self.period:
            self.value = self.total / self.period
        return self.value


class _Smoothed:
    """An average seeded with the simple average of its first `period` values, then moved by
    `alpha` of each new value's distance from it."""

    def __init__(self, period: int, alpha: float):
        self.period, self.alpha = _period(period), alpha
        self.seed_total, self.seen = 0.0, 0
        self.value: float | None = None

    def update(self, x: float) -> float | None:
        if self.value is not None:
            self.value += self.alpha * (x - self.value)
            return self.value
        self.seed_total += x
        self.seen += 1
        if self.seen == self.period:
            self.value = self.seed_total / self.period
        return self.value


class EMA(_Smoothed):
    """Exponential moving average: α = 2 / (period + 1)."""

    def __init__(self, period: int):
        super().__init__(period, 2 / (_period(period) + 1))


class RMA(_Smoothed):
    """Wilder's moving average: α = 1 / period."""

    def __init__(self, period: int):
        super().__init__(period, 1 / _period(period))


class RSI:
    """Wilder's relative strength index of closes, 0–100 (100 when nothing fell)."""

    def __init__(self, period: int = 14):
        self.gains, self.losses = RMA(period), RMA(period)
        self.last: float | None = None
        self.value: float | None = None

    def update(self, close: float) -> float | None:
        if self.last is not None:
            change = close - self.last
            gain, loss = self.gains.update(max(change, 0.0)), self.losses.update(max(-change, 0.0))
            if gain is not None:
                self.value = 100.0 if loss == 0 else 100 - 100 / (1 + gain / loss)
        self.last = close
        return self.value


class ATR:
    """Average true range (Wilder's average of true ranges)."""

    def __init__(self, period: int = 14):
        self.ranges = RMA(period)
        self.last_close: float | None = None
        self.value: float | None = None

    def update(self, high: float, low: float, close: float) -> float | None:
        true_range = high - low if self.last_close is None else \
            max(high - low, abs(high - self.last_close), abs(low - self.last_close))
        self.last_close = close
        self.value = self.ranges.update(true_range)
        return self.value


@dataclass(frozen=True)
class MACDValue:
    macd: float          # fast EMA − slow EMA
    signal: float        # EMA of macd
    histogram: float     # macd − signal


class MACD:
    def __init__(self, fast: int = 12, slow: int = 26, signal: int = 9):
        if fast >= slow:
            raise ValueError(f"MACD's fast period ({fast}) must be shorter than its slow ({slow})")
        self.fast, self.slow, self.signal = EMA(fast), EMA(slow), EMA(signal)
        self.value: MACDValue | None = None

    def update(self, close: float) -> MACDValue | None:
        fast, slow = self.fast.update(close), self.slow.update(close)
        if slow is None:
            return None
        macd = fast - slow
        signal = self.signal.update(macd)
        if signal is not None:
            self.value = MACDValue(macd, signal, macd - signal)
        return self.value


@dataclass(frozen=True)
class Bands:
    lower: float
    middle: float
    upper: float


class Bollinger:
    """Middle: SMA of closes; bands `width` population standard deviations away."""

    def __init__(self, period: int = 20, width: float = 2.0):
        self.mean = SMA(period)
        self.squares = SMA(period)
        self.width = width
        self.value: Bands | None = None

    def update(self, close: float) -> Bands | None:
        mean, mean_square = self.mean.update(close), self.squares.update(close * close)
        if mean is not None:
            deviation = math.sqrt(max(mean_square - mean * mean, 0.0))   # rounding can go < 0
            self.value = Bands(mean - self.width * deviation, mean,
                               mean + self.width * deviation)
        return self.value


@dataclass(frozen=True)
class Trend:
    line: float          # the stop the trend keeps: the lower band going up, the upper going down
    up: bool


class SuperTrend:
    """Bands `multiplier` ATRs around the candle's (high + low) / 2. The lower band only rises
    and the upper only falls, unless the previous close crossed it. Going up, the trend follows
    the lower band until a close below it; going down, the upper band until a close above it.
    It starts down, as TradingView's `ta.supertrend`."""

    def __init__(self, period: int = 10, multiplier: float = 3.0):
        self.atr, self.multiplier = ATR(period), multiplier
        self.lower: float | None = None
        self.upper: float | None = None
        self.last_close: float | None = None
        self.value: Trend | None = None

    def update(self, high: float, low: float, close: float) -> Trend | None:
        atr, previous_close = self.atr.update(high, low, close), self.last_close
        self.last_close = close
        if atr is None:
            return None
        middle = (high + low) / 2
        lower, upper = middle - self.multiplier * atr, middle + self.multiplier * atr
        if self.lower is not None and not previous_close < self.lower:
            lower = max(lower, self.lower)
        if self.upper is not None and not previous_close > self.upper:
            upper = min(upper, self.upper)
        self.lower, self.upper = lower, upper
        if self.value is None:
            up = False
        elif self.value.up:
            up = close >= lower
        else:
            up = close > upper
        self.value = Trend(lower if up else upper, up)
        return self.value
