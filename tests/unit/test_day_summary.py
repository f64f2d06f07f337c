"""The day's summary: trades, win rate and the realized P&L's max drawdown (from 0, in close
order)."""
import pytest

from webapp import pnl


@pytest.mark.parametrize("realized, drawdown", [
    ([], 0), ([500, 300], 0), ([-200], 200), ([100, -300, 50, -100], 350),
    ([400, -100, -100, 500, -450], 450),
])
def test_the_max_drawdown_is_the_largest_fall_from_a_high(realized, drawdown):
    assert pnl.max_drawdown(realized) == drawdown


def test_trades_count_wins_in_close_order_whatever_order_they_came():
    summary = pnl._trades({"realized_paise": 0}, [(30, -100), (10, 200), (20, 0)])
    assert (summary["trades"], summary["wins"], summary["win_rate_pct"],
            summary["max_drawdown_paise"]) == (3, 1, 33, 100)
    assert pnl._trades({}, [])["win_rate_pct"] is None
