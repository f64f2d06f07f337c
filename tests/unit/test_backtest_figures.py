"""A backtest's figures, worked by hand on four trades over three trading days (Thursday
30 January, Friday 31 January and Monday 3 February 2025)."""
import math
from datetime import date, datetime

import pytest

from pinewire import backtest_figures as bf
from schemas.market_time import IST

DAYS = [date(2025, 1, 30), date(2025, 1, 31), date(2025, 2, 3)]


def at(day: int, hh: int, mm: int = 0) -> int:
    return int(datetime.combine(DAYS[day], datetime.min.time(), IST).replace(
        hour=hh, minute=mm).timestamp() * 1000)


def trade(opened: int, closed: int | None, pnl: int | None) -> dict:
    return {"opened_at_ms": opened, "closed_at_ms": closed, "pnl_paise": pnl}


TRADES = [trade(at(0, 10), at(0, 11), 300),      # day 1, an hour
          trade(at(0, 12), at(1, 10), -100),     # held overnight: 3:30 on day 1, 0:45 on day 2
          trade(at(1, 14), at(1, 15), 200),      # day 2, an hour
          trade(at(2, 10), None, None)]          # still open at the end (day 3, 15:30)
END = at(2, 15, 30)


def test_the_figures_of_four_trades():
    found = bf.figures(TRADES, DAYS, END)
    # days' P&L 300, 100, 0: mean 133.33, sample deviation 152.75; × √252
    daily = [300, 100, 0]
    mean = sum(daily) / 3
    sd = math.sqrt(sum((d - mean) ** 2 for d in daily) / 2)
    assert round(mean / sd * math.sqrt(252), 2) == 13.86
    assert found == {"trade_count": 4, "closed": 3, "wins": 2, "win_rate_pct": 66.7,
                     "pnl_paise": 400, "gross_profit_paise": 500, "gross_loss_paise": 100,
                     "profit_factor": 5.0, "max_drawdown_paise": 100, "sharpe": 13.86,
                     # held 60 + 210 + 45 + 60 + 330 = 705 of 3 × 375 session minutes
                     "exposure_pct": 62.7}


def test_curves_and_months():
    assert bf.equity(TRADES) == [(at(0, 11), 300), (at(1, 10), 200), (at(1, 15), 400)]
    assert bf.drawdowns(bf.equity(TRADES)) == [(at(0, 11), 0), (at(1, 10), -100),
                                               (at(1, 15), 0)]
    later = TRADES + [trade(at(2, 10), at(2, 11), -50)]
    assert bf.by_month(later) == [("2025-01", 3, 400), ("2025-02", 1, -50)]


def test_figures_without_a_loss_or_a_second_day():
    one = [trade(at(0, 10), at(0, 11), 300)]
    found = bf.figures(one, DAYS[:1], at(0, 15, 30))
    assert (found["profit_factor"], found["sharpe"], found["win_rate_pct"]) == \
        (None, None, 100.0)
    assert bf.figures([], DAYS, END)["exposure_pct"] == 0.0


@pytest.mark.parametrize("metric,order", [
    ("net", ["b", "a", "c"]), ("max_drawdown", ["c", "b", "a"]),
    ("profit_factor", ["b", "a", "c"]), ("sharpe", ["a", "b", "c"])])
def test_what_ranks_first(metric, order):
    rows = {"a": {"pnl_paise": 100, "max_drawdown_paise": 90, "profit_factor": 1.5,
                  "sharpe": 2.0},
            "b": {"pnl_paise": 200, "max_drawdown_paise": 50, "profit_factor": None,
                  "sharpe": 1.0},                               # no loss, made money: best PF
            "c": {"pnl_paise": -10, "max_drawdown_paise": 10, "profit_factor": 0.5,
                  "sharpe": None}}                              # no Sharpe: last by Sharpe
    assert sorted(rows, key=lambda k: -bf.rank_value(rows[k], metric)) == order
