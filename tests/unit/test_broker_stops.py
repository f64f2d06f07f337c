"""A broker-side stop rule's decisions, purely: when a position asks for its rule (placed,
then moved with the trailing stop at most every so often), the rule's triggers, what its
answers and its own order do to the position, what an exit carries; each broker's rule as it
is sent and its states as they are read; which book order a fired rule placed."""
from decimal import Decimal

import pytest

from agents import broker_stops as S, fills as F, positions as P
from agents.rule_watch import Protected, rule_orders
from agents.exits import LONG, SHORT
from connectors.broker import RULE_FIRED, RULE_STILL_ACTIVE
from connectors.kite.broker import rule_legs, rule_state
from connectors.order_updates import OrderState
from connectors.placement import Rejected, RuleState
from connectors.smartapi import broker as smartapi
from connectors.upstox import broker as upstox
from schemas.records import OrderIntent

EVERY = 10_000


def opened(side=LONG, trail=None, broker_stop=True, paper=False):
    pos = P.open_position(alert_id="a1", link_id="L", token="2885", symbol="RELIANCE-EQ",
                          exchange="NSE", side=side, quantity=10, paper=paper, sl_pct="1",
                          target_pct="2", trail_pct=trail, trail_activation_pct=None,
                          slippage_bps=0, reference_price_paise=100000, partition=3,
                          now_ms=1000, account_id="acct", broker_stop=broker_stop)
    return F.apply_fill(pos, fill_id="f1", client_order_id=pos.entry_order_id, status="FILLED",
                        quantity=10, price_paise=100000, text=None, now_ms=2000)


def answer(pos, purpose, status, qty=0, price=0, rule="R1", text=None, seq=0):
    coid = {"P": pos.protect_order_id, "X": pos.exit_order_id,
            "B": f"{pos.id}B0"}[purpose]
    return F.apply_fill(pos, fill_id=f"{coid}-{status}-{seq}", client_order_id=coid,
                        status=status, quantity=qty, price_paise=price, text=text, now_ms=3000,
                        broker_order_id=rule)


def test_only_a_live_protected_open_position_asks_for_a_rule_and_once_until_answered():
    assert not S.protection_due(opened(broker_stop=False), 5000, EVERY)
    assert not S.protection_due(opened(paper=True), 5000, EVERY)
    pos = opened()
    assert S.protection_due(pos, 5000, EVERY)
    sent = S.protection_sent(pos, 5000)
    assert (sent.rule_stop_paise, sent.rule_target_paise, sent.rule_qty) == (99000, 102000, 10)
    assert sent.protect_order_id == f"{pos.id}P1"
    assert not S.protection_due(sent, 60_000, EVERY), "the first answer is awaited"
    placed = answer(sent, "P", "PROTECTED")
    assert placed.rule_id == "R1" and not S.protection_due(placed, 60_000, EVERY)


def test_triggers_sit_on_the_tick_away_from_the_price():
    pos = opened(side=SHORT)
    pos = P.replace(pos, sl_pct="0.33", target_pct="0.77")      # 100330, 99230
    assert S.rule_levels(pos) == (100330, 99230)
    pos = P.replace(pos, sl_pct="0.333", target_pct="0.777")    # 100333 -> up, 99223 -> down
    assert S.rule_levels(pos) == (100335, 99220)
    long = P.replace(opened(), sl_pct="0.333", target_pct="0.777")   # 99667 -> down, 100777 -> up
    assert S.rule_levels(long) == (99665, 100780)


def test_the_rule_follows_the_trailing_stop_at_most_every_interval():
    pos = answer(S.protection_sent(opened(trail="1"), 5000), "P", "PROTECTED")
    moved, _, _ = P.on_tick(pos, 101000, 6000)             # trail: 99990 now
    assert moved.stop != pos.stop
    assert not S.protection_due(moved, 6000, EVERY)        # 1 s after the last: not yet
    assert S.protection_due(moved, 15_000, EVERY)
    again = S.protection_sent(moved, 15_000)
    assert (again.rule_stop_paise, again.rule_attempt, again.rule_id) == (99990, 2, "R1")


def test_a_refused_rule_leaves_pinewires_own_exits_and_a_refused_move_is_asked_again():
    refused = answer(S.protection_sent(opened(), 5000), "P", "REJECTED", text="no GTT here")
    assert not refused.broker_stop and refused.rule_id is None
    assert refused.note == "broker stop refused: no GTT here; pinewire's own exits only"
    placed = answer(S.protection_sent(opened(trail="1"), 5000), "P", "PROTECTED")
    moved = S.protection_sent(P.on_tick(placed, 101000, 6000)[0], 20_000)
    kept = answer(moved, "P", "REJECTED", text="busy", seq=1)
    assert kept.rule_id == "R1" and kept.rule_stop_paise is None
    assert S.protection_due(kept, 40_000, EVERY)


def test_an_exit_names_the_rule_or_the_order_placing_it():
    sent = S.protection_sent(opened(), 5000)
    assert sent.rule_to_cancel == sent.protect_order_id        # the answer not heard yet
    assert answer(sent, "P", "PROTECTED").rule_to_cancel == "R1"
    assert opened(broker_stop=False).rule_to_cancel is None


def test_the_rules_order_closes_the_position_once_as_broker_stop():
    pos = answer(S.protection_sent(opened(), 5000), "P", "PROTECTED")
    closed = answer(pos, "B", "FILLED", qty=10, price=98900, rule="B-ORDER")
    assert (closed.state, closed.exit_reason, closed.exit_qty, closed.realized_pnl_paise) == \
        (P.CLOSED, "BROKER_STOP", 10, 10 * (98900 - 100000))
    assert closed.rule_id is None
    after = answer(closed, "B", "FILLED", qty=10, price=98900, rule="B-ORDER", seq=1)
    assert after.exit_qty == 10 and "after the position closed" in after.note
    rejected = answer(pos, "B", "REJECTED", text="circuit limit")
    assert rejected.state == P.OPEN and rejected.rule_id is None


def test_an_exit_refused_after_its_rule_was_cancelled_places_the_rule_again():
    pos = answer(S.protection_sent(opened(), 5000), "P", "PROTECTED")
    exiting = P.begin_exit(pos, "SIGNAL", 6000)
    refused = answer(exiting, "X", "REJECTED", text="RMS: blocked")
    assert refused.state == P.EXITING and refused.rule_id is None
    assert S.protection_due(refused, refused.retry_at_ms - 1, EVERY), \
        "protected while the retry waits"
    assert not S.protection_due(refused, refused.retry_at_ms, EVERY), "the retry is due: not now"
    retried = P.resent(refused, refused.retry_at_ms)
    assert not S.protection_due(retried, 7000, EVERY), "not while the retry is at the broker"
    kept = answer(exiting, "X", "REJECTED", text=f"{RULE_STILL_ACTIVE} (rule R1)", seq=1)
    assert kept.rule_id == "R1"


WAIT = F.ExitRetry(rule_fill_wait_ms=15_000)


def fired_first():
    """pinewire's stop exit found the rule fired: nothing placed, its order exits."""
    pos = answer(S.protection_sent(opened(), 5000), "P", "PROTECTED")
    exiting, _, _ = P.on_tick(pos, 98000, now_ms=6000)
    return F.apply_fill(exiting, fill_id="x0-fired", client_order_id=exiting.exit_order_id,
                        status=RULE_FIRED, quantity=0, price_paise=0, text=None, now_ms=7000,
                        exit_retry=WAIT)


def test_a_fired_rule_gets_its_time_then_pinewires_exit_takes_over_for_what_is_left():
    pos = fired_first()
    assert (pos.state, pos.rule_fired_at_ms, pos.retry_at_ms) == (P.EXITING, 7000, 22000)
    assert P.stale_intent(pos, 21_999, after_ms=10_000) is None
    assert P.stale_intent(pos, 22_000, after_ms=10_000) == "EXIT"
    part = answer(pos, "B", "FILLED", qty=4, price=97500)        # the rule's order, in part
    again = P.resent(part, 22_000)
    assert (again.exit_order_id, again.exit_order_qty, again.exit_base_qty) == \
        (f"{pos.id}X1", 6, 4)


def test_a_fired_rules_order_ended_unfilled_hands_the_exit_back_at_once():
    pos = answer(fired_first(), "B", "REJECTED", text="cancelled")
    assert pos.retry_at_ms == 3000 and pos.rule_id is None and "own exit goes now" in pos.note
    assert P.stale_intent(pos, 3000, after_ms=10_000) == "EXIT"
    open_one = answer(answer(S.protection_sent(opened(), 5000), "P", "PROTECTED"), "B",
                      "REJECTED", text="cancelled")
    assert open_one.state == P.OPEN and open_one.retry_at_ms is None, \
        "not exiting: pinewire's own rules decide"


def test_after_a_fired_rules_order_ended_unfilled_the_exit_cancels_the_rule_placed_since():
    """The fired rule is over once its order ended unfilled: no rule is placed again for an
    exit due now, and an exit retried later (a rule placed again while it waited) cancels
    that new rule first, as any exit does — never the fired rule's order, which would leave
    the new rule active at the broker after pinewire's own exit sold."""
    back = answer(fired_first(), "B", "REJECTED", text="RMS: margin")
    assert back.rule_fired_at_ms is None
    assert not S.protection_due(back, 3000, EVERY), "the exit goes now: no rule first"
    assert not S.protection_due(fired_first(), 8000, EVERY), "the fired rule's order works"
    refused = answer(P.resent(back, 3000), "X", "REJECTED", text="RMS: margin", seq=1)
    assert S.protection_due(refused, refused.retry_at_ms - 1, EVERY), \
        "protected while the retry waits"
    again = S.protection_sent(refused, refused.retry_at_ms - 1)
    retried = P.resent(again, again.retry_at_ms)
    assert retried.rule_fired_at_ms is None and retried.rule_to_cancel == again.protect_order_id


def test_a_fired_rules_order_that_fills_closes_the_position():
    closed = answer(fired_first(), "B", "FILLED", qty=10, price=97500)
    assert (closed.state, closed.exit_reason, closed.exit_qty) == (P.CLOSED, "BROKER_STOP", 10)


def _protect(**change) -> OrderIntent:
    intent = OrderIntent(client_order_id="0123456789abcdefP1", position_id="0123456789abcdef",
                         link_id="L", purpose="PROTECT", side="SELL", quantity=10, token="2885",
                         symbol="RELIANCE-EQ", exchange="NSE", paper=False, created_at_ms=0,
                         product_type="INTRADAY", stop_paise=99000, target_paise=102000)
    return OrderIntent(**{**intent.asdict(), **change})


def test_kites_gtt_legs():
    intent = _protect()
    kind, values, orders = rule_legs(intent, "RELIANCE")
    assert (kind, values) == ("two-leg", [990.0, 1020.0])
    assert [o["price"] for o in orders] == [980.1, 1009.8]      # 1 % beyond, on the tick
    assert {o["transaction_type"] for o in orders} == {"SELL"} and orders[0]["product"] == "MIS"
    buy = OrderIntent(**{**intent.asdict(), "side": "BUY", "target_paise": None})
    assert rule_legs(buy, "RELIANCE")[:2] == ("single", [990.0])
    assert rule_legs(buy, "RELIANCE")[2][0]["price"] == 999.9
    fired = {"id": 7, "status": "triggered", "orders": [
        {"result": None}, {"result": {"order_result": {"order_id": "O9"}}}]}
    assert (rule_state(fired).status, rule_state(fired).order_id) == ("triggered", "O9")
    assert rule_state({"id": 7, "status": "deleted"}).status == "gone"


def test_angel_ones_rule_holds_the_stop_and_its_states_are_read_safely():
    params = smartapi.rule_params(_protect())
    assert (params["transactiontype"], params["triggerprice"], params["price"], params["qty"]) \
        == ("SELL", 990.0, 980.1, 10), "the stop only, its order 1 % beyond"
    with pytest.raises(Rejected, match="needs a stop-loss"):
        smartapi.rule_params(_protect(stop_paise=None))
    states = {s: smartapi.rule_state({"id": 5, "status": s}).status
              for s in ("NEW", "ACTIVE", "SENTTOEXCHANGE", "CANCELLED", "SOMETHING NEW")}
    assert states == {"NEW": "active", "ACTIVE": "active", "SENTTOEXCHANGE": "triggered",
                      "CANCELLED": "gone", "SOMETHING NEW": "active"}, \
        "a status not known is taken as able to fire: no second exit"


def test_upstoxs_rule_is_one_entry_below_the_stop_and_its_states_are_read_safely():
    import upstox_client
    [rule] = upstox.gtt_rules(_protect())
    assert (rule.strategy, rule.trigger_type, rule.trigger_price) == ("ENTRY", "BELOW", 990.0)
    assert upstox.gtt_rules(_protect(side="BUY"))[0].trigger_type == "ABOVE"

    def state(status, order_id=None):
        row = upstox_client.GttOrderDetails(gtt_order_id="GTT-1", rules=[upstox_client.Rule(
            strategy="ENTRY", status=status, order_id=order_id)])
        got = upstox.rule_state(row)
        return got.status, got.order_id
    assert state("SCHEDULED") == ("active", None)
    assert state("TRIGGERED", "O1") == ("triggered", "O1")
    assert state("COMPLETED", "O1") == ("triggered", "O1")
    assert state("FAILED", "O1") == ("gone", None), "its order refused: nothing exited"
    assert state("CANCELLED") == ("gone", None)
    assert state("A NEW WORD") == ("active", None)


def test_the_rule_watcher_takes_each_fired_rules_own_order_once():
    """Two rules on one instrument fire and the broker names neither order: each takes one, the
    newest first, and never one taken before, pinewire's own, or one still open."""
    def order(oid, tag="", qty=10, status="complete"):
        return OrderState(oid, tag, "2885", "SELL", qty, qty, Decimal("988"), status)
    book = [order("1", tag="00112233445566aaX0"), order("2", qty=5), order("3"), order("4")]
    protecting = {"r1": Protected("p1", "2885", "SELL", 10),
                  "r2": Protected("p2", "2885", "SELL", 10)}
    fired = [RuleState("r1", "triggered"), RuleState("r2", "triggered")]
    assert rule_orders(fired, protecting, book, set()) == {"4": "p1", "3": "p2"}, "newest first"
    assert rule_orders(fired, protecting, book, {"4"}) == {"3": "p1"}
    assert rule_orders([RuleState("r1", "triggered", "4")], protecting, book, set()) == \
        {"4": "p1"}
    assert rule_orders(fired[:1], protecting, [order("5", status="open")], set()) == {}


def test_levels_the_trader_moves_while_the_first_placement_is_awaited_follow_its_answer():
    from agents import manual
    sent = S.protection_sent(opened(), 5000)
    moved = manual.adjust(sent, manual.Levels(stop=99500), 100000, 5500, "erin").position
    assert moved.stop_at_paise == 99500
    assert not S.protection_due(moved, 5600, EVERY), "the first answer is still awaited"
    placed = answer(moved, "P", "PROTECTED")                  # at the old levels, 0.1 s later
    assert (placed.rule_stop_paise, placed.rule_id) == (99000, "R1")
    assert S.protection_due(placed, 5600, EVERY), "unpaced: the trader moved the levels"
    again = S.protection_sent(placed, 5600)
    assert again.rule_stop_paise == 99500 and not S.protection_due(again, 5700, EVERY)
