"""Each indicator against a series worked out by hand (exact fractions in the comments), and RSI
against Wilder's worked example as StockCharts publishes it (its closes; the values computed
without rounding on the way)."""
import math
from fractions import Fraction as F

import pytest

from agents.strategies.indicators import (ATR, EMA, MACD, RSI, SMA, Bands, Bollinger,
                                          MACDValue, SuperTrend, Trend)


def feed(indicator, values):
    return [indicator.update(*v) if isinstance(v, tuple) else indicator.update(v)
            for v in values]


def close_to(expected):
    """pytest.approx for plain numbers and for the indicators' value records."""
    if expected is None:
        return None
    if isinstance(expected, (MACDValue, Bands, Trend)):
        return type(expected)(*(v if isinstance(v, bool) else pytest.approx(float(v))
                                for v in vars(expected).values()))
    return pytest.approx(float(expected))


def check(got, expected):
    assert got == [close_to(e) for e in expected]


def test_sma_is_the_mean_of_the_last_period_values():
    check(feed(SMA(3), [1, 2, 3, 4, 5, 9]), [None, None, 2, 3, 4, 6])


def test_ema_starts_from_the_simple_mean_then_moves_by_two_over_period_plus_one():
    # α = 1/2: seed (2+4+6)/3 = 4, then 4 + (8-4)/2 = 6, 6 + (10-6)/2 = 8, 8 + (4-8)/2 = 6
    check(feed(EMA(3), [2, 4, 6, 8, 10, 4]), [None, None, 4, 6, 8, 6])


WILDER_CLOSES = [44.34, 44.09, 44.15, 43.61, 44.33, 44.83, 45.10, 45.42, 45.84, 46.08, 45.89,
                 46.03, 45.61, 46.28, 46.28, 46.00, 46.03, 46.41, 46.22, 45.64, 46.21, 46.25,
                 45.71, 46.45, 45.78, 45.35, 44.03, 44.18, 44.22, 44.57, 43.42, 42.66, 43.13]
WILDER_RSI = [70.46, 66.25, 66.48, 69.35, 66.29, 57.92, 62.88, 63.21, 56.01, 62.34, 54.67, 50.39,
              40.02, 41.49, 41.90, 45.50, 37.32, 33.09, 37.79]


def test_rsi_matches_wilders_worked_example():
    got = feed(RSI(14), WILDER_CLOSES)
    assert got[:14] == [None] * 14
    assert [round(v, 2) for v in got[14:]] == WILDER_RSI


def test_rsi_is_100_when_nothing_fell_and_0_when_nothing_rose():
    assert feed(RSI(3), [1, 2, 3, 4])[-1] == 100
    assert feed(RSI(3), [4, 3, 2, 1])[-1] == 0


def test_atr_is_wilders_average_of_true_ranges():
    candles = [(10, 8, 9), (11, 9, 10), (12, 9, 11), (13, 11, 12), (12, 10, 10)]
    # true ranges 2 (high − low: no previous close), 2, 3, 2, 2 (|12 − 10|: a gap down)
    # seed (2+2+3)/3 = 7/3; then (7/3·2 + 2)/3 = 20/9; (20/9·2 + 2)/3 = 58/27
    check(feed(ATR(3), candles), [None, None, F(7, 3), F(20, 9), F(58, 27)])


def test_macd_is_fast_minus_slow_ema_with_its_own_ema_as_signal():
    # EMA2 (α=2/3): 2, 2, 14/3, 38/9, 182/27 from the 2nd close; EMA3 (α=1/2): 2, 4, 4, 6
    # macd: 0, 2/3, 2/9, 20/27; signal EMA2 of macd: 1/3, 7/27, 47/81
    check(feed(MACD(2, 3, 2), [1, 3, 2, 6, 4, 8]),
          [None, None, None, MACDValue(F(2, 3), F(1, 3), F(1, 3)),
           MACDValue(F(2, 9), F(7, 27), F(-1, 27)), MACDValue(F(20, 27), F(47, 81), F(13, 81))])


def test_macd_needs_a_fast_period_shorter_than_its_slow():
    with pytest.raises(ValueError, match="shorter"):
        MACD(26, 12)


def test_bollinger_bands_are_population_deviations_around_the_sma():
    root2 = math.sqrt(2)          # 1..5: mean 3, variance (4+1+0+1+4)/5 = 2
    check(feed(Bollinger(5, 2), [1, 2, 3, 4, 5, 6]),
          [None] * 4 + [Bands(3 - 2 * root2, 3, 3 + 2 * root2),
                        Bands(4 - 2 * root2, 4, 4 + 2 * root2)])


def test_supertrend_follows_its_band_and_turns_on_a_close_through_it():
    candles = [(10, 8, 9), (11, 9, 10), (13, 10, 12.5), (14, 12, 13), (13, 9, 9.5),
               (16, 13, 15)]
    # ATR(2): 2, 2.5, 2.25, 3.125, 4.8125 from the 2nd candle; bands (h+l)/2 ∓ ATR
    # 2nd: 8 / 12, starts down on 12. 3rd: 9 / 14 → upper kept at 12; 12.5 > 12: up on 9.
    # 4th: 10.75 / 15.25 (the close 12.5 was above 12: a new upper); 13 ≥ 10.75: up on 10.75.
    # 5th: 7.875 → lower kept at 10.75, upper 14.125; 9.5 < 10.75: down on 14.125.
    # 6th: 9.6875 (the close 9.5 was below 10.75: a new lower), upper kept at 14.125;
    # 15 > 14.125: up on 9.6875.
    check(feed(SuperTrend(2, 1), candles),
          [None, Trend(12, False), Trend(9, True), Trend(10.75, True), Trend(14.125, False),
           Trend(9.6875, True)])


@pytest.mark.parametrize("make", [SMA, EMA, RSI, ATR, lambda p: Bollinger(p)])
def test_a_period_below_one_is_refused(make):
    with pytest.raises(ValueError, match="at least 1"):
        make(0)
