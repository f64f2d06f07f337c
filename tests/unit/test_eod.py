"""The end-of-day rules: trading days, which sweep runs when, and each position's fate."""
from datetime import date, datetime, time

import pytest

from agents import eod
from agents.risk import IST

MIS, EOD = time(15, 15), time(15, 29)


@pytest.mark.parametrize("day,trading", [
    (date(2026, 11, 27), True),      # a Friday
    (date(2026, 11, 28), False),     # Saturday
    (date(2026, 11, 29), False),     # Sunday
    (date(2026, 11, 24), False),     # Guru Nanak Jayanti, an NSE holiday
    (date(2026, 12, 25), False),     # Christmas
    (date(2026, 12, 24), True),
])
def test_trading_days(day, trading):
    assert eod.is_trading_day(day) is trading


def test_extra_holidays():
    extra = eod.parse_holidays("2026-11-27, 2026-12-01")
    assert not eod.is_trading_day(date(2026, 11, 27), extra)
    with pytest.raises(ValueError, match="not a YYYY-MM-DD"):
        eod.parse_holidays("27/11/2026")


@pytest.mark.parametrize("hhmm,kind", [
    ((15, 14, 59), None), ((15, 15), eod.MIS_SQUAREOFF), ((15, 28, 59), eod.MIS_SQUAREOFF),
    ((15, 29), eod.EOD), ((15, 44), eod.EOD), ((15, 45), None), ((9, 15), None),
])
def test_sweep_at(hhmm, kind):
    assert eod.sweep_at(datetime(2026, 11, 27, *hhmm, tzinfo=IST), MIS, EOD) == kind


@pytest.mark.parametrize("kind,policy,product,pnl,decision", [
    (eod.EOD, "close-losers", "DELIVERY", 1, eod.KEEP),
    (eod.EOD, "close-losers", "DELIVERY", 0, eod.CLOSE),
    (eod.EOD, "close-losers", "DELIVERY", -1, eod.CLOSE),
    (eod.EOD, "close-all", "DELIVERY", 500, eod.CLOSE),
    (eod.EOD, "hold", "CARRYFORWARD", -500, eod.KEEP),
    (eod.EOD, "hold", "INTRADAY", 500, eod.CLOSE),            # the broker would close it anyway
    (eod.MIS_SQUAREOFF, "hold", "INTRADAY", 500, eod.CLOSE),
    (eod.MIS_SQUAREOFF, "close-all", "DELIVERY", -500, None),   # not this sweep's business
])
def test_decide(kind, policy, product, pnl, decision):
    assert eod.decide(kind, policy, product, pnl) == decision


def test_one_sweep_command_per_partition():
    commands = eod.sweep_commands(eod.EOD, 1000, 4)
    assert [c.partition for c in commands] == [0, 1, 2, 3]
    assert len({c.command_id for c in commands}) == 4 and {c.kind for c in commands} == {"EOD"}
