"""What a strategy is: its parameters, the timeframe of the candles it reads, and a pure
`on_candle` that turns each closed candle of one instrument into signals.

One strategy object serves one instrument of one link (its indicators are that instrument's).
It keeps no state outside itself and reads nothing but its candles, so the same candles give
the same signals live, after a restart (its candles replayed from history through `warm_up`)
and in a backtest. A signal becomes an alert of the link the strategy is attached to and
meets the same validation, dedupe, risk and execution as a TradingView alert.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import ClassVar, Iterable

from agents.strategies.candles import timeframe_of
from schemas.records import Candle


@dataclass(frozen=True)
class Signal:
    token: str
    action: str            # BUY or SELL, as a TradingView strategy's order action
    price: int             # paise: the close of the candle that gave it
    at_ms: int             # the candle's end
    reason: str


class StrategyError(ValueError):
    """A strategy name or parameters that cannot be used: the message says which and why."""


@dataclass(frozen=True)
class CommonParams:
    """Every strategy's parameters share these; each strategy's Params adds its own."""
    timeframe: int | str = 15    # minutes (candles.TIMEFRAMES), "D" (the session), "W", "M"

    def __post_init__(self):
        try:
            timeframe_of(self.timeframe)
        except ValueError as exc:
            raise StrategyError(str(exc)) from None
        for f in dataclasses.fields(self):
            if f.name == "timeframe":
                continue
            value, whole = getattr(self, f.name), isinstance(f.default, int)
            if isinstance(value, bool) or not isinstance(value, int if whole else (int, float)) \
                    or value <= 0:
                kind = "a positive whole number" if whole else "a positive number"
                raise StrategyError(f"{f.name} must be {kind}, not {value!r}")


class Strategy:
    name: ClassVar[str]
    Params: ClassVar[type[CommonParams]] = CommonParams

    def __init__(self, token: str, params: CommonParams):
        self.token, self.params = token, params

    @property
    def warm_up_candles(self) -> int:
        """How many candles it needs before its first signal."""
        raise NotImplementedError

    def on_candle(self, candle: Candle) -> list[Signal]:
        raise NotImplementedError

    def warm_up(self, history: Iterable[Candle]) -> None:
        """Past candles, oldest first: the indicators take them, their signals are dropped."""
        for candle in history:
            self.on_candle(candle)

    def signal(self, candle: Candle, action: str, reason: str) -> Signal:
        return Signal(self.token, action, candle.close, candle.end_ms, reason)


def parse_params(cls: type[Strategy], given: dict) -> CommonParams:
    """A strategy's parameters from JSON-like values: unknown names, wrong types and values
    are refused with a message naming them."""
    known = {f.name: f for f in dataclasses.fields(cls.Params)}
    unknown = sorted(set(given) - set(known))
    if unknown:
        raise StrategyError(f"{cls.name} has no parameter {', '.join(unknown)} "
                            f"(it takes {', '.join(sorted(known))})")
    return cls.Params(**given)
