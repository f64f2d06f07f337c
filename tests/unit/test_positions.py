"""Position transitions: fills (partial, duplicate, rejected), exits, P&L, resends."""
import json
from fractions import Fraction

import pytest

from agents import fills as F
from agents import positions as P
from agents import exits
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
    return F.apply_fill(pos, fill_id=f"{coid}-{seq}", client_order_id=coid, status=status,
                        quantity=qty, price_paise=price, text=text, now_ms=2000)


def test_entry_fill_opens_and_duplicate_fill_is_ignored():
    pos = fill(new(), "E", 10, 100000)
    assert pos.state == P.OPEN and pos.entry_qty == 10 and pos.best_paise == 100000
    assert pos.stop == "99000" and pos.target == "102000"
    assert F.apply_fill(pos, fill_id=pos.fill_ids[0], client_order_id=pos.entry_order_id,
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
    pos, decision, _ = P.on_tick(pos, exit_, now_ms=5000)
    assert decision is not None and pos.state == P.EXITING and pos.exit_trigger_paise == exit_
    again, second, _ = P.on_tick(pos, exit_, now_ms=5001)
    assert again is None and second is None, "an EXITING position never exits twice"
    pos = fill(pos, "X", 10, exit_)
    assert pos.state == P.CLOSED and pos.realized_pnl_paise == pnl


RETRY = F.ExitRetry(first_ms=2000, max_ms=60_000, failing_after=3)


def reject(pos, now_ms, seq=0):
    return F.apply_fill(pos, fill_id=f"{pos.exit_order_id}-r{seq}",
                        client_order_id=pos.exit_order_id, status="REJECTED", quantity=0,
                        price_paise=0, text="RMS: blocked", now_ms=now_ms, exit_retry=RETRY)


def test_a_rejected_exit_is_retried_with_backoff_never_per_tick():
    pos = fill(new(), "E", 10, 100000)
    pos, _, _ = P.on_tick(pos, 98000, now_ms=5000)
    first_id = pos.exit_order_id
    before, pos = pos, reject(pos, 6000)
    assert pos.state == P.EXITING and pos.exit_order_id != first_id and "RMS" in pos.note
    assert not F.exit_resent(before, pos), "not sent again at once"
    assert pos.exit_reason == "SL" and pos.exit_order_qty == 10
    sent, at = [], 6000
    for now in range(6000, 40_000, 100):      # 340 ticks under the stop, the broker refusing
        assert P.on_tick(pos, 97000, now_ms=now) == (None, None, None)
        if P.stale_intent(pos, now, after_ms=10_000) == "EXIT":
            sent.append(now - at)
            pos = reject(P.resent(pos, now), now, seq=len(sent))
            at = now
    assert sent == [2000, 4000, 8000, 16000], "2 s, then twice as long each time"
    assert pos.exit_failures == 5 and pos.exit_failing and "failing (5 tries)" in pos.note


def test_the_retry_pace_stops_at_its_slowest():
    assert [RETRY.delay_ms(n) for n in (1, 5, 6, 7, 40)] == [2000, 32000, 60000, 60000, 60000]
    assert not RETRY.failing(2) and RETRY.failing(3)


def test_a_partly_filled_exit_retries_for_the_rest_only():
    pos = fill(new(), "E", 10, 100000)
    pos, _, _ = P.on_tick(pos, 98000, now_ms=5000)
    pos = fill(pos, "X", 4, 98000)
    pos = reject(pos, 6000)
    assert pos.exit_order_qty == 6 and pos.exit_base_qty == 4
    pos = fill(P.resent(pos, 8000), "X", 6, 97900, seq=2)
    assert pos.state == P.CLOSED and pos.exit_qty == 10


def test_best_price_update_only_when_it_changes():
    pos = fill(new(trail_pct="0.5"), "E", 10, 100000)
    changed, _, _ = P.on_tick(pos, 99900, now_ms=1)
    assert changed is None
    changed, _, _ = P.on_tick(pos, 100700, now_ms=1)
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
    assert P.Position.from_dict(json.loads(json.dumps(pos.to_dict()))) == pos


def test_positions_decoded_share_their_links_text_and_no_mutable_default():
    a, b = (P.Position.from_dict(json.loads(json.dumps(new().to_dict()))) for _ in range(2))
    assert a.link_id is b.link_id and a.state is b.state
    with pytest.raises(TypeError):
        new().order_fills["x"] = [1, 1]            # the empty default is shared: read-only
    with pytest.raises(TypeError, match="not fields of Position"):
        P.replace(new(), nonsense=1)


def test_replayed_ticks_at_or_below_the_applied_offset_change_nothing():
    # The changelog can be ahead of the committed tick offsets: after a crash, ticks already
    # reflected in the state come again. Evaluating them against the newer state would exit
    # on a stale price (best 1012 -> trail stop 1006.94, and a replayed 1005 would "hit" it).
    pos = fill(new(trail_pct="0.5", target_pct=None), "E", 10, 100000)
    pos, _, _ = P.on_tick(pos, 100500, now_ms=1, offset=7)
    pos, _, _ = P.on_tick(pos, 101200, now_ms=2, offset=8)
    assert pos.tick_offset == 8 and pos.best_paise == 101200
    assert P.on_tick(pos, 100500, now_ms=3, offset=7) == (None, None, None)
    assert P.on_tick(pos, 100500, now_ms=3, offset=8) == (None, None, None)
    _, decision, _ = P.on_tick(pos, 100500, now_ms=3, offset=9)
    assert decision.reason == "TRAIL"


def test_ticks_before_the_entry_fill_are_stale_and_a_restore_keeps_offsets_only_if_asked():
    pos = F.apply_fill(new(), fill_id="f", client_order_id=new().entry_order_id, status="FILLED",
                       quantity=10, price_paise=100000, text=None, now_ms=1, tick_offset=41)
    assert P.on_tick(pos, 98000, now_ms=2, offset=41) == (None, None, None)
    assert P.restored(pos, now_ms=3).tick_offset is None
    assert P.restored(pos, now_ms=3, same_ticks=True).tick_offset == 41


# -- pyramiding, partial fills, fees, product, reverse, bad ticks ---------------------------
def test_pyramid_of_three_entries_has_an_exact_average_and_rebased_levels():
    pos = fill(new(trail_pct="0.5"), "E", 10, 100000)
    pos, _, _ = P.on_tick(pos, 101000, now_ms=3)          # best 1010 since the first entry
    pos = P.add_entry(pos, 10, None, now_ms=4)
    assert pos.entry_order_id.endswith("E1") and pos.entry_open and pos.entries == 2
    assert P.stale_intent(pos, now_ms=4 + 10_000, after_ms=10_000) == "ENTRY"
    pos = fill(pos, "E", 10, 101000)
    pos = P.add_entry(pos, 10, None, now_ms=5)
    pos = fill(pos, "E", 10, 100300)
    assert (pos.entry_qty, pos.entry_value_paise, pos.quantity) == (30, 3013000, 30)
    assert pos.entry_price == Fraction(3013000, 30) and not pos.entry_open
    lv = exits.levels(LONG, pos.entry_price, pos.best_paise, pos.rules)
    assert lv.initial_stop == Fraction(3013000, 30) * Fraction(99, 100)     # re-based
    assert lv.target == Fraction(3013000, 30) * Fraction(102, 100)
    # the trailing stop keeps the best price since the first entry: 1010 x 0.995
    assert pos.stop == "100495" and pos.best_paise == 101000 and pos.trail_active
    assert P.stale_intent(pos, now_ms=10**9, after_ms=10_000) is None
    pos, decision, _ = P.on_tick(pos, 100400, now_ms=6)
    assert decision.reason == "TRAIL"
    pos = fill(pos, "X", 30, 100400)
    assert pos.state == P.CLOSED and pos.realized_pnl_paise == 30 * 100400 - 3013000


def test_a_partial_entry_holds_what_filled_and_its_cancelled_rest_shrinks_the_order():
    pos = fill(new(qty=10), "E", 4, 100000)
    assert pos.state == P.OPEN and pos.entry_open
    pos, decision, _ = P.on_tick(pos, 98900, now_ms=3)
    assert decision is not None and pos.state == P.EXITING
    pos = fill(pos, "E", 0, 0, seq=1, status="REJECTED", text="cancelled")
    assert pos.state == P.EXITING and not pos.entry_open and pos.quantity == 4
    pos = fill(pos, "X", 4, 98900)
    assert pos.state == P.CLOSED and pos.realized_pnl_paise == 4 * (98900 - 100000)


def test_a_rejected_added_entry_keeps_the_position():
    pos = fill(new(), "E", 10, 100000)
    pos = P.add_entry(pos, 10, None, now_ms=4)
    pos = fill(pos, "E", 0, 0, status="REJECTED", text="margin")
    assert (pos.state, pos.entry_qty, pos.quantity, pos.entry_open) == (P.OPEN, 10, 10, False)


def test_fees_are_charged_once_per_order_that_filled_and_kept_apart():
    pos = fill(new(qty=10, fee_paise=2000), "E", 4, 100000)
    pos = fill(pos, "E", 6, 100000, seq=1)
    pos, _, _ = P.on_tick(pos, 102000, now_ms=3)
    pos = fill(pos, "X", 10, 102000)
    assert (pos.fees_paise, pos.realized_pnl_paise) == (4000, 20000)


@pytest.mark.parametrize("product,exchange,side,expected", [
    ("auto", "NSE", LONG, "DELIVERY"), ("auto", "NSE", SHORT, "INTRADAY"),
    ("auto", "NFO", LONG, "CARRYFORWARD"), ("auto", "NFO", SHORT, "CARRYFORWARD"),
    ("intraday", "NSE", LONG, "INTRADAY"), ("intraday", "NFO", LONG, "INTRADAY"),
    ("delivery", "NSE", LONG, "DELIVERY"), ("delivery", "NSE", SHORT, "DELIVERY"),
    ("delivery", "NFO", SHORT, "CARRYFORWARD"),
])
def test_product_type(product, exchange, side, expected):
    assert P.product_type(product, exchange, side) == expected


def test_a_rejected_exit_drops_the_planned_reverse():
    pos = fill(new(), "E", 10, 100000)
    pos = P.begin_exit(pos, P.SIGNAL, 3, then_open={"side": SHORT, "alert_id": "a2",
                                                    "reference_price_paise": None})
    assert pos.then_open["side"] == SHORT
    pos = fill(pos, "X", 0, 0, status="REJECTED", text="RMS")
    assert pos.state == P.EXITING and pos.then_open is None


def test_a_reverse_has_a_deterministic_id_and_points_back():
    first = new()
    rev = new(alert_id="a2", reverse_of=first.id, side=SHORT)
    assert rev.id == P.reverse_id(first.id) != first.id and rev.reverse_of == first.id


@pytest.mark.parametrize("ticks,exits_at,events", [
    # band 5 %: a one-tick spike to 900 is held, then discarded by 1001: nothing exits
    ([900, 1001, 1002], None, ["HELD", "DISCARDED"]),
    # a real gap: 900 held, 899 confirms it -> the stop (990) exits at 899, one tick later
    ([900, 899], 899, ["HELD", "CONFIRMED"]),
    # within the band: acted on at once
    ([989], 989, []),
])
def test_bad_tick_guard(ticks, exits_at, events):
    pos = fill(new(tick_band_pct="5", target_pct=None), "E", 10, 1000)
    seen, exited = [], None
    for i, price in enumerate(ticks):
        changed, decision, verdict = P.on_tick(pos, price, now_ms=10 + i, offset=100 + i)
        if verdict:
            seen.append(verdict)
        if decision:
            exited = decision.price
            break
        pos = changed or pos
    assert (exited, seen) == (exits_at, events)


def test_without_a_band_a_gap_exits_at_the_gapping_tick():
    pos = fill(new(target_pct=None), "E", 10, 1000)
    _, decision, verdict = P.on_tick(pos, 900, now_ms=3)
    assert decision.price == 900 and verdict is None


def test_old_snapshots_load_with_the_entry_state_derived():
    pos = fill(new(), "E", 10, 100000).to_dict()
    for k in ("entry_open", "entries", "charged_orders"):
        del pos[k]
    assert P.Position.from_dict(pos).entry_open is False


def test_an_entry_fill_after_the_exit_was_sent_gets_its_own_exit():
    pos = fill(new(qty=10), "E", 4, 100000)
    pos, decision, _ = P.on_tick(pos, 98900, now_ms=3)
    assert pos.exit_order_qty == 4
    late = fill(pos, "E", 6, 98900, seq=1)                       # the rest filled meanwhile
    assert late.state == P.EXITING and late.entry_qty == 10
    done = fill(late, "X", 4, 98900)
    assert F.exit_resent(late, done) and done.exit_order_qty == 6
    assert done.exit_order_id.endswith("X1")
    closed = fill(done, "X", 6, 98900)
    assert closed.state == P.CLOSED
    assert closed.realized_pnl_paise == 10 * 98900 - (4 * 100000 + 6 * 98900)
