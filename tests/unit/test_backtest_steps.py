"""How `--through-pipeline` cuts the ticks: before and after all the ticks of the moment that
closes a candle, and an end-of-day sweep before the first tick that finds it due — where the in-process
backtest runs it."""
from datetime import date, datetime

from agents.backtest import Conventions, due_sweeps, sweeps_of_day
from connectors.ticks.replay import ReplayTick
from pinewire.backtest_pipeline import steps
from schemas.market_time import IST

DAY = date(2026, 12, 8)     # a Tuesday, a trading day


def at(hh: int, mm: int, ss: int = 0) -> int:
    return int(datetime(DAY.year, DAY.month, DAY.day, hh, mm, ss, tzinfo=IST).timestamp() * 1000)


def tick(ts: int, token: str) -> ReplayTick:
    return ReplayTick(ts, token, 100, None)


def test_the_moment_that_closes_a_candle_is_a_step_of_its_own():
    ticks = [tick(at(10, 0, s), t) for s in (0, 30) for t in "AB"] + \
        [tick(at(10, 1, 0), t) for t in "AB"] + [tick(at(10, 1, 30), "A")]
    assert [[(t.ts_ms, t.token) for t in s] for s in steps(ticks, 1)] == [
        [(at(10, 0, 0), "A"), (at(10, 0, 0), "B"), (at(10, 0, 30), "A"), (at(10, 0, 30), "B")],
        [(at(10, 1, 0), "A"), (at(10, 1, 0), "B")],
        [(at(10, 1, 30), "A")]]


def test_the_sweeps_go_before_the_first_tick_that_finds_them_due():
    ticks = [tick(at(15, 14, 50), "A"), tick(at(15, 15, 10), "A"), tick(at(15, 40), "A")]
    cut = steps(ticks, 60, Conventions())
    assert cut == [[ticks[0]], ("MIS_SQUAREOFF", at(15, 15)), [ticks[1]],
                   ("EOD", at(15, 29)), [ticks[2]]]
    # 15:15 opens a window: its moment is a step of its own
    assert steps(ticks, 60, Conventions(eod=False)) == [ticks[:1], ticks[1:2], ticks[2:]]


def test_a_sweep_whose_window_passed_unticked_is_not_run():
    pending = sweeps_of_day(at(9, 30), Conventions())
    assert due_sweeps(pending, at(15, 50)) == [] and pending == []
    assert sweeps_of_day(int(datetime(2026, 12, 12, 10, tzinfo=IST).timestamp() * 1000),
                         Conventions()) == []                          # a Saturday
