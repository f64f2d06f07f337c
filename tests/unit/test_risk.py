"""Sizing by risk, P&L of a position, the day's P&L and the entry gate (max open, breaker)."""
from datetime import date, datetime

import pytest

from agents import risk
from agents.risk import IST, Scope

MS = lambda *a: int(datetime(*a, tzinfo=IST).timestamp() * 1000)   # noqa: E731


@pytest.mark.parametrize("kw,expected", [
    # no risk sizing: the link's quantity, in lots
    (dict(quantity=10, lot_size=1), (10, None)),
    (dict(quantity=2, lot_size=50), (100, None)),
    # 100000 x 1 % = 1000 at risk; 800 x 2 % = 16 per unit -> 62.5 -> 62
    (dict(risk_pct="1", capital_paise=10_000_000, sl_pct="2", reference_paise=80_000), (62, None)),
    # in lots of 25: 62 -> 2 lots -> 50
    (dict(risk_pct="1", capital_paise=10_000_000, sl_pct="2", reference_paise=80_000,
          lot_size=25), (50, None)),
    # exactly on a whole unit: 1000 / (500 x 1 %) = 200
    (dict(risk_pct="1", capital_paise=10_000_000, sl_pct="1", reference_paise=50_000), (200, None)),
])
def test_size(kw, expected):
    args = dict(quantity=1, lot_size=1, risk_pct=None, capital_paise=None, sl_pct=None,
                reference_paise=None)
    assert risk.size(**{**args, **kw}) == expected


@pytest.mark.parametrize("kw,why", [
    (dict(reference_paise=None), "no price"),
    (dict(reference_paise=80_000, lot_size=75), "risk sizing gives 0"),   # 62 < one lot of 75
])
def test_size_zero_says_why(kw, why):
    qty, reason = risk.size(quantity=1, risk_pct="1", capital_paise=10_000_000, sl_pct="2",
                            **{"lot_size": 1, **kw})
    assert qty == 0 and why in reason


def pos(side="LONG", state="OPEN", eq=10, ev=1_000_000, xq=0, xv=0, realized=None, closed=None,
        fees=0, token="T", link="L", account=None):
    return dict(side=side, state=state, entry_qty=eq, entry_value_paise=ev, exit_qty=xq,
                exit_value_paise=xv, realized_pnl_paise=realized, closed_at_ms=closed,
                fees_paise=fees, token=token, link_id=link, account_id=account)


@pytest.mark.parametrize("p,last,expected", [
    (pos(), 101_000, (0, 10_000)), (pos(side="SHORT"), 101_000, (0, -10_000)),
    (pos(state="CLOSED", realized=-500), 1, (-500, 0)), (pos(), None, (0, 0)),
    (pos(state="PENDING", eq=0, ev=0), 5, (0, 0)),
    (pos(state="EXITING", xq=4, xv=404_000), 99_000, (0, 404_000 + 6 * 99_000 - 1_000_000)),
])
def test_position_pnl(p, last, expected):
    assert risk.pnl(p, last) == expected


def test_day_pnl_counts_today_closed_net_of_fees_after_the_reset_and_live_unrealized():
    day = date(2026, 11, 27)
    book = [pos(state="CLOSED", realized=-30_000, fees=1_000, closed=MS(2026, 11, 27, 10)),
            pos(state="CLOSED", realized=-99_999, closed=MS(2026, 11, 26, 15)),     # yesterday
            pos(state="CLOSED", realized=5_000, closed=MS(2026, 11, 27, 12)),
            pos(token="T"), pos(state="REJECTED")]
    price = {"T": 99_000}.get
    assert risk.day_pnl(book, day, price) == -31_000 + 5_000 - 10_000
    assert risk.day_pnl(book, day, price, since_ms=MS(2026, 11, 27, 11)) == 5_000 - 10_000
    assert risk.open_count(book) == 1


def test_a_workers_kept_exposures_give_the_same_figures_as_the_records():
    """WorkerMemory keeps each exposure as a compact tuple read like the record's dict."""
    from agents.memory import Exposed
    day = date(2026, 11, 27)
    book = [pos(state="CLOSED", realized=-30_000, fees=1_000, closed=MS(2026, 11, 27, 10)),
            pos(side="SHORT", eq=4, ev=400_000), pos(state="EXITING", xq=4, xv=404_000)]
    kept = [Exposed.of({**p, "position_id": f"p{i}", "created_at_ms": 1, "version": 1})
            for i, p in enumerate(book)]
    price = {"T": 99_000}.get
    assert risk.day_pnl(kept, day, price) == risk.day_pnl(book, day, price) != 0
    assert risk.open_count(kept) == risk.open_count(book) == 2
    assert [risk.pnl(k, 99_000) for k in kept] == [risk.pnl(p, 99_000) for p in book]
    assert kept[1]["side"] == "SHORT" and kept[1].get("account_id") is None
    assert Exposed.of({"position_id": "p", "link_id": "L", "token": "T", "side": "LONG",
                       "state": "OPEN", "entry_qty": 1, "entry_value_paise": 1, "exit_qty": 0,
                       "exit_value_paise": 0, "created_at_ms": 1, "version": 1}).fees_paise == 0


def test_ist_day_boundary():
    assert risk.ist_day(MS(2026, 11, 27, 23, 59)) == date(2026, 11, 27)
    assert risk.ist_day(MS(2026, 11, 28, 0, 0)) == date(2026, 11, 28)


@pytest.mark.parametrize("scopes,new,why,tripped", [
    ([Scope("link a", None, None, 5, -10**9)], True, None, None),
    ([Scope("link a", 2, None, 2, 0)], True, "link a has 2 open position(s), its limit is 2", None),
    ([Scope("link a", 2, None, 2, 0)], False, None, None),         # an added entry: not a new one
    ([Scope("link a", None, 50_000, 0, -49_999)], True, None, None),
    ([Scope("link a", None, 50_000, 0, -50_000)], False, "breaker of link a tripped", "link a"),
    ([Scope("link a", None, None, 0, 0), Scope("account m", 1, None, 1, 0)], True,
     "account m has 1 open", None),
    ([Scope("link a", None, None, 0, 0), Scope("account m", None, 100, 0, -200)], True,
     "breaker of account m tripped: 2.00 lost today, limit 1.00", "account m"),
])
def test_entry_block(scopes, new, why, tripped):
    reason, scope = risk.entry_block(scopes, new_position=new)
    assert (why is None and reason is None) or why in reason
    assert (scope.name if scope else None) == tripped
