"""The shipped strategies on price paths worked out by hand, and the refusal of bad
parameters."""
import math

import pytest

from agents.strategies.base import Signal, StrategyError
from agents.strategies.candles import MINUTE_MS
from agents.strategies.shipped import STRATEGIES, make
from schemas.records import Candle

T0 = 1_764_215_100_000       # a candle start; candle k starts k minutes later


def candles(rows) -> list[Candle]:
    """1-minute candles from closes, or from (high, low, close)."""
    out = []
    for k, row in enumerate(rows):
        high, low, close = row if isinstance(row, tuple) else (row, row, row)
        start = T0 + k * MINUTE_MS
        out.append(Candle(token="2885", timeframe="1", start_ms=start, end_ms=start + MINUTE_MS,
                          open=close, high=high, low=low, close=close, ticks=1))
    return out


def signals(strategy, rows) -> list[tuple[int, str, int]]:
    """(candle number from 1, action, price) of each signal."""
    return [(k, s.action, s.price) for k, c in enumerate(candles(rows), 1)
            for s in strategy.on_candle(c)]


def test_sma_cross_signals_each_cross_once():
    # SMA2: -, 10, 10, 10.5, 11.5, 11.5, 10, 8.5, 10;  SMA3: -, -, 10, 10.33, 11, 11.33, 10.67,
    # 9.33, 9.67. Equal at 3 (no side yet), above from 4: no signal (no cross seen), below at 7,
    # above again at 9.
    s = make("sma_cross", "2885", {"fast": 2, "slow": 3, "timeframe": 1})
    assert signals(s, [10, 10, 10, 11, 12, 11, 9, 8, 12]) == [(7, "SELL", 9), (9, "BUY", 12)]


def test_a_signal_carries_the_candle_close_and_end():
    s = make("sma_cross", "2885", {"fast": 2, "slow": 3, "timeframe": 1})
    out = [sig for c in candles([10, 10, 10, 11, 12, 11, 9]) for sig in s.on_candle(c)]
    assert out == [Signal("2885", "SELL", 9, T0 + 7 * MINUTE_MS, "SMA2 crossed below SMA3")]


def test_rsi_reversion_buys_back_through_oversold_and_sells_back_through_overbought():
    # RSI2: 0 at 3 and 4 (only losses), 66.7 at 5 (gain 1, loss 0.5), 88.9 at 6, 47.1 at 7
    s = make("rsi_reversion", "2885", {"period": 2, "timeframe": 1})
    assert signals(s, [10, 9, 8, 7, 9, 12, 10]) == [(5, "BUY", 9), (7, "SELL", 10)]


def test_supertrend_signals_each_turn():
    # the indicator test's candles: down at 2 (its start), up at 3, down at 5, up at 6
    s = make("supertrend", "2885", {"period": 2, "multiplier": 1, "timeframe": 1})
    rows = [(10, 8, 9), (11, 9, 10), (13, 10, 12.5), (14, 12, 13), (13, 9, 9.5), (16, 13, 15)]
    assert signals(s, rows) == [(3, "BUY", 12.5), (5, "SELL", 9.5), (6, "BUY", 15)]


def test_warm_up_feeds_the_indicators_and_drops_the_signals():
    path = candles([10, 10, 10, 11, 12, 11, 9, 8, 12])
    s = make("sma_cross", "2885", {"fast": 2, "slow": 3, "timeframe": 1})
    s.warm_up(path[:7])                     # its SELL at 7 is in the past
    assert [sig.action for c in path[7:] for sig in s.on_candle(c)] == ["BUY"]


@pytest.mark.parametrize("name, params, message", [
    ("sma_crossover", {}, "no strategy named 'sma_crossover'"),
    ("sma_cross", {"fats": 20}, "sma_cross has no parameter fats"),
    ("sma_cross", {"fast": 50, "slow": 20}, "fast (50) must be shorter than slow (20)"),
    ("sma_cross", {"fast": "20"}, "fast must be a positive whole number, not '20'"),
    ("sma_cross", {"fast": 2.5}, "fast must be a positive whole number"),
    ("sma_cross", {"timeframe": 7}, "timeframe must be one of 1, 3, 5, 15, 60"),
    ("rsi_reversion", {"oversold": 80}, "oversold < overbought < 100"),
    ("supertrend", {"multiplier": 0}, "multiplier must be a positive number"),
])
def test_bad_parameters_are_refused_with_their_reason(name, params, message):
    with pytest.raises(StrategyError, match=message.replace("(", r"\(").replace(")", r"\)")):
        make(name, "2885", params)


def test_no_shipped_strategy_signals_before_its_warm_up():
    for name in STRATEGIES:
        s = make(name, "2885", {})
        closes = [100 + 30 * math.sin(k / 8) for k in range(s.warm_up_candles + 150)]
        rows = [(c + 1, c - 1, c) for c in closes]          # slow swings: every one signals
        found = signals(s, rows)
        assert found and min(k for k, _, _ in found) >= s.warm_up_candles, (name, found)
