"""Candles without ticks (agents/backtest.INTRABAR): a candle whose range holds both the stop and
the target of the open position reaches the stop first, whichever side the position is."""
from datetime import datetime

import pytest

from agents.backtest import Backtest, Conventions
from schemas.market_time import IST
from schemas.records import Alert, Candle

START = int(datetime(2026, 12, 8, 10, 0, tzinfo=IST).timestamp() * 1000)
LINK = dict(link_id="L1", name="demo", strategy="st", enabled=True, side="both", reverse=False,
            max_entries=1, quantity=1, sl_pct="1", target_pct="2", trail_pct=None,
            trail_activation_pct=None, slippage_bps=0, paper=True, version=1)
ATTACHMENT = {"name": "sma_cross", "params": {"fast": 2, "slow": 3, "timeframe": 1},
              "tokens": ["3045"], "symbols": ["NSE:SBIN-EQ"]}


def candle(k: int, o: int, h: int, low: int, c: int) -> Candle:
    return Candle(token="3045", timeframe="1", start_ms=START + k * 60_000,
                  end_ms=START + (k + 1) * 60_000, open=o, high=h, low=low, close=c)


def opened(action: str) -> Backtest:
    engine = Backtest(LINK, ATTACHMENT, Conventions(eod=False))
    engine.run_candles([candle(0, 10_000, 10_000, 10_000, 10_000)])     # the last price: 100
    engine.alert(Alert(id=f"a-{action}", dedupe_key="k", dedupe_window_s=5, link_id="L1",
                       link_version=1, bot_version=1, action=action, symbol="SBIN-EQ",
                       exchange="NSE", token="3045", received_at_ms=START + 60_000,
                       strategy="st"))
    return engine


@pytest.mark.parametrize("action,extremes,stop", [
    ("BUY", (10_300, 9_850), 9_850),     # LONG at 100: stop 99 and target 102 both in range
    ("SELL", (10_150, 9_700), 10_150),   # SHORT at 100: stop 101 and target 98
])
def test_the_stop_comes_before_the_target_in_one_candle(action, extremes, stop):
    high, low = extremes
    engine = opened(action)
    [pos] = engine.run_candles([candle(1, 10_000, high, low, 10_000)])
    assert (pos.state, pos.exit_reason, pos.exit_value_paise, pos.entry_value_paise) == \
        ("CLOSED", "SL", stop, 10_000)
