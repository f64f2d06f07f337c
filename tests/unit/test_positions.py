"""Position transitions: fills (partial, duplicate, rejected), exits, P&L, resends."""
import pytest

from agents import positions as P
from agents.exits import LONG, SHORT


def new(side=LONG, qty=10, **kw):
    base = dict(alert_id="a1", link_id="L", token="2885", symbol="RELIANCE-EQ", exchange="NSE",
                side=side, quantity=qty, paper=True, sl_pct="1", target_pct="2", trail_pct=None,
                trail_activation_pct=None, slippage_bps=0, reference_price_paise=100000,
                partition=3, now_ms=1000)
    base.update(kw)
    return P.open_position(**base)


def fill(pos, purpose, qty, price, seq=0, status="FILLED", text=None):
    coid = pos.entry_order_id if purpose == "E" else pos.exit_order_id
    return P.apply_fill(pos, fill_id=f"{coid}-{seq}", client_order_id=coid, status=status,
                        quantity=qty, price_paise=price, text=text, now_ms=2000)


def test_entry_fill_opens_and_duplicate_fill_is_ignored():
    pos = fill(new(), "E", 10, 100000)
    assert pos.state == P.OPEN and pos.entry_qty == 10 and pos.best_paise == 100000
    assert pos.stop == "99000" and pos.target == "102000"
    assert P.apply_fill(pos, fill_id=pos.fill_ids[0], client_order_id=pos.entry_order_id,
                        status="FILLED", quantity=10, price_paise=1, text=None, now_ms=3) is None


def test_partial_fill_holds_exactly_what_filled():
    pos = fill(new(qty=10), "E", 4, 100000)
    assert pos.state == P.OPEN and pos.entry_qty == 4 and pos.intent_at_ms is not None
    pos = fill(pos, "E", 6, 100010, seq=1)
    assert pos.entry_qty == 10 and pos.entry_value_paise == 4 * 100000 + 6 * 100010
    assert pos.intent_at_ms is None


def test_rejected_entry_opens_nothing():
    pos = fill(new(), "E", 0, 0, status="REJECTED", text="margin exceeded")
    assert pos.state == P.REJECTED and pos.note == "margin exceeded" and pos.entry_qty == 0


@pytest.mark.parametrize("side,entry,exit_,pnl", [
    (LONG, 100000, 98900, -11000), (LONG, 100000, 102100, 21000),
    (SHORT, 100000, 101100, -11000), (SHORT, 100000, 97900, 21000),
])
def test_tick_exit_then_exit_fill_closes_with_exact_pnl(side, entry, exit_, pnl):
    pos = fill(new(side=side), "E", 10, entry)
    pos, decision = P.on_tick(pos, exit_, now_ms=5000)
    assert decision is not None and pos.state == P.EXITING and pos.exit_trigger_paise == exit_
    again, second = P.on_tick(pos, exit_, now_ms=5001)
    assert again is None and second is None, "an EXITING position never exits twice"
    pos = fill(pos, "X", 10, exit_)
    assert pos.state == P.CLOSED and pos.realized_pnl_paise == pnl


def test_rejected_exit_returns_to_open_with_new_order_id():
    pos = fill(new(), "E", 10, 100000)
    pos, _ = P.on_tick(pos, 98000, now_ms=5000)
    first_id = pos.exit_order_id
    pos = fill(pos, "X", 0, 0, status="REJECTED", text="RMS")
    assert pos.state == P.OPEN and pos.exit_order_id != first_id and "RMS" in pos.note


def test_best_price_update_only_when_it_changes():
    pos = fill(new(trail_pct="0.5"), "E", 10, 100000)
    changed, _ = P.on_tick(pos, 99900, now_ms=1)
    assert changed is None
    changed, _ = P.on_tick(pos, 100700, now_ms=1)
    assert changed.best_paise == 100700 and changed.trail_active and changed.version == pos.version + 1


def test_stale_intent_is_resent_after_the_timeout():
    pos = new()
    assert P.stale_intent(pos, now_ms=1000 + 9_999, after_ms=10_000) is None
    assert P.stale_intent(pos, now_ms=1000 + 10_000, after_ms=10_000) == "ENTRY"
    pos = P.resent(pos, 20_000)
    assert P.stale_intent(pos, now_ms=25_000, after_ms=10_000) is None


def test_round_trip_dict():
    pos = fill(new(), "E", 10, 100000)
    assert P.Position.from_dict(pos.to_dict()) == pos


def test_replayed_ticks_at_or_below_the_applied_offset_change_nothing():
    # The changelog can be ahead of the committed tick offsets: after a crash, ticks already
    # reflected in the state come again. Evaluating them against the newer state would exit
    # on a stale price (best 1012 -> trail stop 1006.94, and a replayed 1005 would "hit" it).
    pos = fill(new(trail_pct="0.5", target_pct=None), "E", 10, 100000)
    pos, _ = P.on_tick(pos, 100500, now_ms=1, offset=7)
    pos, _ = P.on_tick(pos, 101200, now_ms=2, offset=8)
    assert pos.tick_offset == 8 and pos.best_paise == 101200
    assert P.on_tick(pos, 100500, now_ms=3, offset=7) == (None, None)
    assert P.on_tick(pos, 100500, now_ms=3, offset=8) == (None, None)
    _, decision = P.on_tick(pos, 100500, now_ms=3, offset=9)
    assert decision.reason == "TRAIL"


def test_ticks_before_the_entry_fill_are_stale_and_a_restore_forgets_offsets():
    pos = P.apply_fill(new(), fill_id="f", client_order_id=new().entry_order_id, status="FILLED",
                       quantity=10, price_paise=100000, text=None, now_ms=1, tick_offset=41)
    assert P.on_tick(pos, 98000, now_ms=2, offset=41) == (None, None)
    assert P.restored(pos, now_ms=3).tick_offset is None
