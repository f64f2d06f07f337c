"""Candles from a known tick sequence, worked out by hand."""
from datetime import date, datetime

import pytest

from agents.strategies.candles import (DAILY, IST, CandleBuilder, built_from, last_of_period,
                                       roll_up, timeframe_of, window_start)
from schemas.records import Candle


def at(hhmmss: str, ms: int = 0) -> int:
    """Epoch ms of a time on 2026-11-27 (a Friday), IST."""
    h, m, s = map(int, hhmmss.split(":"))
    return int(datetime(2026, 11, 27, h, m, s, tzinfo=IST).timestamp() * 1000) + ms


def candle(minutes: int, start: int, o: int, h: int, low: int, c: int, volume, ticks: int):
    return Candle(token="2885", timeframe=str(minutes), start_ms=start,
                  end_ms=start + minutes * 60_000, open=o, high=h, low=low, close=c,
                  volume=volume, ticks=ticks)


def test_windows_are_counted_from_the_session_open():
    assert window_start(at("09:15:00"), 60) == at("09:15:00")
    assert window_start(at("10:14:59", 999), 60) == at("09:15:00")
    assert window_start(at("10:15:00"), 60) == at("10:15:00")
    assert window_start(at("09:20:59"), 3) == at("09:18:00")
    assert window_start(at("15:29:59"), 15) == at("15:15:00")


def test_ohlc_of_a_known_tick_sequence():
    b = CandleBuilder("2885", timeframes=(1, 3))
    out = []
    for ts, price in [(at("09:15:00"), 100_00), (at("09:15:20"), 102_00), (at("09:15:40"), 99_50),
                      (at("09:15:59", 999), 101_00),
                      (at("09:16:00"), 101_50),      # exactly on the minute: the next candle
                      (at("09:16:30"), 100_00),
                      # 09:17 has no tick: no candle for it
                      (at("09:18:10"), 103_00)]:
        out += b.on_tick(price, ts)
    assert out == [
        candle(1, at("09:15:00"), 100_00, 102_00, 99_50, 101_00, None, 4),
        candle(1, at("09:16:00"), 101_50, 101_50, 100_00, 100_00, None, 2),
        candle(3, at("09:15:00"), 100_00, 102_00, 99_50, 100_00, None, 6),
    ]
    # the time passes 09:19 with no tick: the 09:18 minute closes on time; 09:18–09:21 is open
    assert b.close_until(at("09:19:00")) == [
        candle(1, at("09:18:00"), 103_00, 103_00, 103_00, 103_00, None, 1)]
    assert b.close_until(at("09:20:59")) == []


def test_a_late_tick_is_counted_and_dropped():
    b = CandleBuilder("2885", timeframes=(1,))
    b.on_tick(100_00, at("09:15:10"))
    assert b.on_tick(100_50, at("09:16:05")) == [
        candle(1, at("09:15:00"), 100_00, 100_00, 100_00, 100_00, None, 1)]
    assert b.on_tick(90_00, at("09:15:59")) == [] and b.late == 1      # its candle was sent
    assert b.close_until(at("09:17:00"))[0].low == 100_50


def test_volume_is_the_increase_of_the_days_volume_over_the_window():
    b = CandleBuilder("2885", timeframes=(1,))
    b.on_tick(100_00, at("09:15:05"), day_volume=1_000)       # the first tick seen: counts from it
    b.on_tick(100_00, at("09:15:30"), day_volume=1_600)
    first = b.on_tick(100_00, at("09:16:01"), day_volume=1_900)
    second = b.close_until(at("09:17:00"))
    assert [c.volume for c in first + second] == [600, 300]


def test_the_state_survives_a_round_trip():
    b = CandleBuilder("2885", timeframes=(1, 5))
    b.on_tick(100_00, at("09:15:05"), day_volume=10)
    b.on_tick(100_00, at("09:14:00"))                          # late
    again = CandleBuilder.from_state(b.state())
    assert again == b
    assert again.on_tick(101_00, at("09:16:00"), day_volume=25) == \
        b.on_tick(101_00, at("09:16:00"), day_volume=25)


def _day(d: int, o: int, h: int, low: int, c: int, volume: int = 10) -> Candle:
    start = int(datetime.combine(date(2026, 11, d), datetime.min.time().replace(hour=9, minute=15),
                                 IST).timestamp() * 1000)
    return Candle(token="2885", timeframe="D", start_ms=start, end_ms=start + DAILY * 60_000,
                  open=o, high=h, low=low, close=c, volume=volume, ticks=100)


def test_weeks_roll_up_from_days_and_close_with_the_last_trading_day():
    trading = lambda d: d.weekday() < 5 and d != date(2026, 11, 27)   # noqa: E731 - a Friday off
    assert not last_of_period(date(2026, 11, 25), "W", trading)
    assert last_of_period(date(2026, 11, 26), "W", trading)     # Thursday: Friday is a holiday
    assert last_of_period(date(2026, 11, 30), "M", trading)
    open_, closed = None, []
    for day, last in [(_day(23, 100, 105, 99, 104), False), (_day(24, 104, 110, 103, 108), False),
                      (_day(25, 108, 109, 95, 96), False), (_day(26, 96, 100, 94, 99), True)]:
        open_, out = roll_up(open_, day, "W", last)
        closed += out
    [week] = closed
    assert open_ is None
    assert (week.timeframe, week.open, week.high, week.low, week.close, week.volume,
            week.ticks) == ("W", 100, 110, 94, 99, 40, 400)
    assert (week.start_ms, week.end_ms) == (_day(23, 0, 0, 0, 0).start_ms,
                                            _day(26, 0, 0, 0, 0).end_ms)


def test_a_period_whose_last_day_had_no_candle_closes_with_the_next_periods_first():
    open_, closed = roll_up(None, _day(19, 100, 101, 99, 100), "W", last=False)
    open_, closed = roll_up(open_, _day(23, 200, 201, 199, 200), "W", last=False)
    assert [(c.open, c.close) for c in closed] == [(100, 100)] and open_["open"] == 200


def test_a_strategys_timeframe_names_its_candles():
    assert [timeframe_of(v) for v in (1, "15", "d", "W", "m")] == ["1", "15", "D", "W", "M"]
    assert (built_from("W"), built_from("D"), built_from("5")) == (375, 375, 5)
    with pytest.raises(ValueError, match="D \\(the session\\), W or M, not 7"):
        timeframe_of(7)
