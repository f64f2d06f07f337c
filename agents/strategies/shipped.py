"""The strategies pinewire ships, by the name a link attaches them with."""
from __future__ import annotations

from dataclasses import dataclass

from agents.strategies import indicators
from agents.strategies.base import (CommonParams, Signal, Strategy, StrategyError,
                                    parse_params)
from schemas.records import Candle


class SmaCross(Strategy):
    """BUY when the fast SMA of closes crosses above the slow one, SELL when it crosses below."""
    name = "sma_cross"

    @dataclass(frozen=True)
    class Params(CommonParams):
        fast: int = 20
        slow: int = 50

        def __post_init__(self):
            super().__post_init__()
            if self.fast >= self.slow:
                raise StrategyError(f"fast ({self.fast}) must be shorter than slow ({self.slow})")

    def __init__(self, token: str, params: Params):
        super().__init__(token, params)
        self.fast, self.slow = indicators.SMA(params.fast), indicators.SMA(params.slow)
        self.above: bool | None = None      # fast above slow at the last candle

    @property
    def warm_up_candles(self) -> int:
        return self.params.slow + 1

    def on_candle(self, candle: Candle) -> list[Signal]:
        fast, slow = self.fast.update(candle.close), self.slow.update(candle.close)
        if slow is None or fast == slow:
            return []
        was, self.above = self.above, fast > slow
        if was is None or was == self.above:
            return []
        p = self.params
        return [self.signal(candle, "BUY" if self.above else "SELL",
                            f"SMA{p.fast} crossed {'above' if self.above else 'below'} "
                            f"SMA{p.slow}")]


class RsiReversion(Strategy):
    """BUY when RSI rises back through the oversold level, SELL when it falls back through the
    overbought one."""
    name = "rsi_reversion"

    @dataclass(frozen=True)
    class Params(CommonParams):
        period: int = 14
        oversold: float = 30.0
        overbought: float = 70.0

        def __post_init__(self):
            super().__post_init__()
            if not self.oversold < self.overbought < 100:
                raise StrategyError("oversold < overbought < 100 is needed, not "
                                    f"{self.oversold} and {self.overbought}")

    def __init__(self, token: str, params: Params):
        super().__init__(token, params)
        self.rsi, self.last = indicators.RSI(params.period), None

    @property
    def warm_up_candles(self) -> int:
        return self.params.period + 2

    def on_candle(self, candle: Candle) -> list[Signal]:
        was, now = self.last, self.rsi.update(candle.close)
        self.last, p = now, self.params
        if was is None or now is None:
            return []
        if was < p.oversold <= now:
            return [self.signal(candle, "BUY", f"RSI{p.period} rose through {p.oversold:g}")]
        if was > p.overbought >= now:
            return [self.signal(candle, "SELL", f"RSI{p.period} fell through {p.overbought:g}")]
        return []


class SuperTrendFlip(Strategy):
    """BUY when SuperTrend turns up, SELL when it turns down."""
    name = "supertrend"

    @dataclass(frozen=True)
    class Params(CommonParams):
        period: int = 10
        multiplier: float = 3.0

    def __init__(self, token: str, params: Params):
        super().__init__(token, params)
        self.trend = indicators.SuperTrend(params.period, params.multiplier)

    @property
    def warm_up_candles(self) -> int:
        return self.params.period + 1

    def on_candle(self, candle: Candle) -> list[Signal]:
        was = self.trend.value
        now = self.trend.update(candle.high, candle.low, candle.close)
        if was is None or now is None or was.up == now.up:
            return []
        return [self.signal(candle, "BUY" if now.up else "SELL",
                            f"SuperTrend({self.params.period}, {self.params.multiplier:g}) "
                            f"turned {'up' if now.up else 'down'}")]


STRATEGIES: dict[str, type[Strategy]] = {s.name: s for s in (SmaCross, RsiReversion,
                                                             SuperTrendFlip)}


def make(name: str, token: str, params: dict) -> Strategy:
    """The named strategy for one instrument; StrategyError says what is wrong."""
    cls = STRATEGIES.get(name)
    if cls is None:
        raise StrategyError(f"no strategy named {name!r} (there are {', '.join(STRATEGIES)})")
    return cls(token, parse_params(cls, params))
