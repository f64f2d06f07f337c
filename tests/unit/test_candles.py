"""Candles from a known tick sequence, worked out by hand."""
from datetime import datetime

from agents.strategies.candles import IST, Candle, CandleBuilder, window_start


def at(hhmmss: str, ms: int = 0) -> int:
    """Epoch ms of a time on 2026-11-27 (a Friday), IST."""
    h, m, s = map(int, hhmmss.split(":"))
    return int(datetime(2026, 11, 27, h, m, s, tzinfo=IST).timestamp() * 1000) + ms


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
        Candle("2885", 1, at("09:15:00"), 100_00, 102_00, 99_50, 101_00, None, 4),
        Candle("2885", 1, at("09:16:00"), 101_50, 101_50, 100_00, 100_00, None, 2),
        Candle("2885", 3, at("09:15:00"), 100_00, 102_00, 99_50, 100_00, None, 6),
    ]
    # the time passes 09:19 with no tick: the 09:18 minute closes on time; 09:18–09:21 is open
    assert b.close_until(at("09:19:00")) == [
        Candle("2885", 1, at("09:18:00"), 103_00, 103_00, 103_00, 103_00, None, 1)]
    assert b.close_until(at("09:20:59")) == []


def test_a_late_tick_is_counted_and_dropped():
    b = CandleBuilder("2885", timeframes=(1,))
    b.on_tick(100_00, at("09:15:10"))
    assert b.on_tick(100_50, at("09:16:05")) == [
        Candle("2885", 1, at("09:15:00"), 100_00, 100_00, 100_00, 100_00, None, 1)]
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
