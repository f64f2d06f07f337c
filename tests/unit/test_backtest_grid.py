"""Parameter sweeps (pinewire/backtest_grid.py): the grid and period syntax, and a sweep in a
pool of processes equal, combination by combination, to single backtests run one by one; a
walk-forward chooses on the training days and reports the chosen combinations' test days."""
from datetime import date

import pytest

from bench.backtest import write_year
from pinewire import backtest, backtest_grid as grid
from pinewire.backtest_figures import figures
from schemas import instruments
from schemas.settings import Settings
from webapp.links import DEFAULTS

TOKEN = instruments.lookup("RELIANCE").token


def test_a_grid_is_every_combination():
    combos = grid.parse_grid("fast=5..20:5,slow=20..60:10")
    assert len(combos) == 20
    assert combos[:2] == [{"fast": 5, "slow": 20}, {"fast": 5, "slow": 30}]
    assert combos[-1] == {"fast": 20, "slow": 60}
    assert grid.parse_grid("period=14, multiplier=1.5..2.5:0.5") == [
        {"period": 14, "multiplier": 1.5}, {"period": 14, "multiplier": 2},
        {"period": 14, "multiplier": 2.5}]
    assert grid.parse_grid("fast=3/5/8") == [{"fast": 3}, {"fast": 5}, {"fast": 8}]


@pytest.mark.parametrize("spec,says", [
    ("fast", "write name=low..high:step"), ("fast=20..5", "low ≤ high"),
    ("fast=5..20:0", "a step above 0"), ("fast=a..b", "is not a number"),
    ("fast=1,fast=2", "given twice"), ("fast=1..200,slow=1..200", "at most 10000")])
def test_a_grid_that_cannot_be_read_says_what_to_write(spec, says):
    with pytest.raises(grid.GridError, match=says):
        grid.parse_grid(spec)


def test_periods():
    assert grid.parse_period("2025-01..2025-09") == (date(2025, 1, 1), date(2025, 9, 30))
    assert grid.parse_period("2024-02..2024-02") == (date(2024, 2, 1), date(2024, 2, 29))
    assert grid.parse_period("2025-10-06..2025-12-31") == (date(2025, 10, 6),
                                                          date(2025, 12, 31))
    for bad in ("2025-10..2025-09", "2025-13..2025-14", "last year"):
        with pytest.raises(grid.GridError):
            grid.parse_period(bad)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    link = {**DEFAULTS, "id": "L1", "name": "swept", "strategy": "sma_cross", "version": 1,
            "user_id": "u1", "quantity": 1, "sl_pct": "1", "target_pct": "2",
            "account_id": None, "enabled": True}
    path = tmp_path_factory.mktemp("grid") / "ticks.csv"
    write_year(path, TOKEN, seed=3, days=8)     # 8 trading days of 1-minute candles
    data = backtest.load(None, path)
    s = backtest.setup(Settings(), link, "sma_cross", {"fast": 3, "slow": 8, "timeframe": 1},
                       data, None)
    return s, data


def _alone(s, data, params) -> dict:
    return figures(backtest.in_process(s.with_params(params), data), data.days(), data.end_ms)


def test_a_sweep_in_processes_equals_each_backtest_alone(world):
    s, data = world
    combos, refused = grid.valid(s, grid.parse_grid("fast=3..9:3,slow=6..12:3"))
    assert refused == ["{'fast': 6, 'slow': 6}: fast (6) must be shorter than slow (6)",
                       "{'fast': 9, 'slow': 6}: fast (9) must be shorter than slow (6)",
                       "{'fast': 9, 'slow': 9}: fast (9) must be shorter than slow (9)"]
    seen = []
    rows = grid.sweep(s, data, combos, workers=2, progress=lambda n, total: seen.append(n))
    assert seen == list(range(1, len(combos) + 1))
    assert [r.params for r in rows] == combos
    assert [r.figures for r in rows] == [_alone(s, data, params) for params in combos]
    assert len({r.figures["pnl_paise"] for r in rows}) > 1, "the parameters change nothing"
    best = grid.ranked(rows, "net")
    assert best[0].figures["pnl_paise"] == max(r.figures["pnl_paise"] for r in rows)


def test_a_walk_forward_chooses_on_training_days_and_tests_on_the_rest(world):
    s, data = world
    combos, _ = grid.valid(s, grid.parse_grid("fast=3..9:3,slow=6..12:3"))
    days = data.days()
    train, test = (days[0], days[4]), (days[5], days[-1])
    wf = grid.walk_forward(s, data, combos, "sharpe", train, test, top=3, workers=2)
    trained = grid.ranked([grid.Row(p, _alone(s, data.between(*train), p)) for p in combos],
                          "sharpe")[:3]
    assert [t.params for t, _ in wf.chosen] == [t.params for t in trained]
    assert [t.figures for t, _ in wf.chosen] == [t.figures for t in trained]
    assert [u.figures for _, u in wf.chosen] == \
        [_alone(s, data.between(*test), t.params) for t in trained]
    assert data.between(*test).days() == days[5:]
    with pytest.raises(grid.GridError, match="must start after"):
        grid.walk_forward(s, data, combos, "net", test, train)
