"""Past candles from the simulator's getCandleData through the real SDK: exact prices and
volumes, the span cut into the longest the API allows per call, and its 3-a-second limit held
(the simulator refuses a fourth call within a second)."""
import asyncio
from datetime import datetime

from connectors.history import spans
from connectors.smartapi import history
from schemas.market_time import IST
from tests.integration.test_smartapi_broker import _session


def test_history_comes_in_spans_under_the_rate_limit(smartapi_sim, sim_account):
    rows = [["2026-08-03T09:15:00+05:30", 801.5, 805, 799.95, 804.2, 120000],
            ["2026-09-15T09:15:00+05:30", 810, 812.35, 808, 811, 98000],
            ["2026-10-20T09:15:00+05:30", 790.05, 795, 788.1, 794.95, 150500],
            ["2026-11-25T09:15:00+05:30", 800, 801, 799, 800.5, 64000]]
    smartapi_sim.candles("3045", "ONE_MINUTE", rows)
    start, end = datetime(2026, 8, 1, 9, 0), datetime(2026, 11, 27, 15, 30)
    assert len(spans(start, end, history.MAX_DAYS["1"])) == 4     # 30 days a call, 1-minute

    async def fetch():
        return await history.fetch(_session(smartapi_sim, sim_account), "NSE", "3045", "1",
                                   start, end)
    candles = asyncio.run(fetch())
    assert [(c.start_ms, c.open, c.high, c.low, c.close, c.volume, c.timeframe, c.history)
            for c in candles] == [
        (int(datetime.fromisoformat(r[0]).timestamp() * 1000), round(r[1] * 100),
         round(r[2] * 100), round(r[3] * 100), round(r[4] * 100), r[5], "1", True)
        for r in rows]
    assert all(c.end_ms - c.start_ms == 60_000 for c in candles)


def test_a_daily_candle_spans_the_session(smartapi_sim, sim_account):
    smartapi_sim.candles("2885", "ONE_DAY", [["2026-11-26T00:00:00+05:30", 1400, 1412, 1396,
                                              1410.5, 5_000_000]])

    async def fetch():
        return await history.fetch(_session(smartapi_sim, sim_account), "NSE", "2885", "D",
                                   datetime(2026, 11, 1), datetime(2026, 11, 28))
    [day] = asyncio.run(fetch())
    assert (day.start_ms, day.end_ms) == (
        int(datetime(2026, 11, 26, 9, 15, tzinfo=IST).timestamp() * 1000),
        int(datetime(2026, 11, 26, 15, 30, tzinfo=IST).timestamp() * 1000))
    assert (day.close, day.volume) == (141050, 5_000_000)
