"""A trader's close and adjust, decided on the position (agents/manual.py), with hand-worked
levels: entry ₹1,000.00, SL 1 % (₹990.00), target 2 % (₹1,020.00)."""
import pytest

from agents import manual as M
from agents import positions as P
from agents.exits import LONG, SHORT
from tests.unit.test_positions import fill, new

BY = "admin from the API"


def open_(side=LONG, **kw):
    return fill(new(side=side, **kw), "E", 10, 100000)


# -- close ---------------------------------------------------------------------------------
def test_close_of_an_open_position_sells_everything_held():
    answer = M.close(open_(), BY)
    assert answer.outcome == M.CLOSING
    assert answer.reason == f"LONG RELIANCE-EQ: closing 10 at market ({BY})"


def test_close_of_a_pending_entry_cancels_it_once():
    pending = new()
    assert M.close(pending, BY).outcome == M.CANCELLING
    asked = P.close_asked(pending, 5000)
    assert M.close(asked, BY).outcome == M.UNCHANGED


@pytest.mark.parametrize("state,words", [
    (P.EXITING, "already exiting"), (P.CLOSED, "already closed"), (P.REJECTED, "already closed")])
def test_close_changes_nothing_on_a_position_already_closing(state, words):
    pos = P.replace(open_(), state=state, exit_reason="SL")
    answer = M.close(pos, BY)
    assert answer.outcome == M.UNCHANGED and words in answer.reason and answer.position is None


def test_close_of_an_unknown_position_is_refused():
    assert M.close(None, BY).outcome == M.REFUSED


def test_what_fills_after_a_cancel_was_asked_closes_at_once():
    asked = P.close_asked(new(), 5000)
    assert not P.close_due(asked)
    filled = fill(asked, "E", 4, 100000)       # 4 filled before the cancellation
    assert filled.state == P.OPEN and P.close_due(filled)
    closing = P.begin_exit(filled, P.MANUAL, 6000, price_paise=100000)
    assert not P.close_due(closing) and closing.exit_order_qty == 4


# -- adjust --------------------------------------------------------------------------------
@pytest.mark.parametrize("side,levels,last,problem", [
    (LONG, M.Levels(stop=100500), 100400,
     "a stop at ₹1005.00 is at or above the last price ₹1004.00: it would sell at once"),
    (LONG, M.Levels(stop=100400), 100400, "at or above the last price ₹1004.00"),
    (LONG, M.Levels(target=100300), 100400,
     "a target at ₹1003.00 is at or below the last price ₹1004.00: it would close at once"),
    (SHORT, M.Levels(stop=99500), 99600,
     "a stop at ₹995.00 is at or below the last price ₹996.00: it would buy at once"),
    (SHORT, M.Levels(target=99700), 99600, "a target at ₹997.00 is at or above"),
    (LONG, M.Levels(trail_from_now=True), 100400, "trailing from now needs a trailing"),
])
def test_levels_that_would_close_at_once_are_refused_in_words(side, levels, last, problem):
    pos = open_(side)
    answer = M.adjust(pos, levels, last, 7000, BY)
    assert answer.outcome == M.REFUSED and problem in answer.reason, answer.reason
    assert answer.position is None


def test_a_stop_moved_above_entry_locks_profit_and_fires_at_that_price():
    pos = open_()                                   # stop ₹990.00 from SL 1 %
    answer = M.adjust(pos, M.Levels(stop=100250), 100600, 7000, BY)
    assert answer.outcome == M.ADJUSTED and answer.position.stop == "100250"
    assert answer.reason == f"LONG RELIANCE-EQ: stop ₹1002.50, target ₹1020.00 ({BY})"
    moved = answer.position
    unmoved, decision, _ = P.on_tick(moved, 100251, 8000)
    assert decision is None
    closing, decision, _ = P.on_tick(moved, 100250, 8001)
    assert decision.reason == "SL" and closing.exit_trigger_paise == 100250


def test_a_target_set_by_price_and_removed():
    pos = open_(SHORT)                              # SHORT: target ₹980.00
    set_ = M.adjust(pos, M.Levels(target=97000), 99900, 7000, BY).position
    assert set_.target == "97000"
    _, decision, _ = P.on_tick(set_, 97000, 8000)
    assert decision.reason == "TARGET"
    removed = M.adjust(set_, M.Levels(target=M.OFF), 99900, 9000, BY).position
    assert removed.target is None and P.on_tick(removed, 90000, 9500)[1] is None


def test_trail_from_now_trails_from_the_last_price_at_once():
    pos = open_()                                   # last ₹1,004.00, under the 1 % activation
    answer = M.adjust(pos, M.Levels(trail="1", trail_from_now=True), 100400, 7000, BY)
    after = answer.position
    assert answer.outcome == M.ADJUSTED and after.trail_active
    assert after.stop == "99396"                    # 1004.00 x 0.99, above the SL's 990.00
    higher, _, _ = P.on_tick(after, 100800, 8000)
    assert higher.stop == "99792"                   # follows the best price: 1008.00 x 0.99
    _, decision, _ = P.on_tick(higher, 99792, 8001)
    assert decision.reason == "TRAIL"


def test_trail_from_now_under_water_keeps_the_tighter_stop_loss():
    answer = M.adjust(open_(), M.Levels(trail="1", trail_from_now=True), 99500, 7000, BY)
    assert answer.position.trail_active and answer.position.stop == "99000"  # 985.05 < 990


def test_a_trailing_stop_tightened_past_the_last_price_is_refused():
    pos = M.adjust(open_(), M.Levels(trail="1", trail_from_now=True), 100800, 7000,
                   BY).position                     # best ₹1,008.00, the price back at ₹1,000
    answer = M.adjust(pos, M.Levels(trail="0.5"), 100000, 7100, BY)
    assert answer.outcome == M.REFUSED
    assert "the stop would be ₹1002.96 (trailing 0.5 % from the best price), at or above the " \
        "last price ₹1000.00" in answer.reason


def test_trailing_switched_off_and_a_repeat_is_unchanged():
    pos = M.adjust(open_(), M.Levels(trail="1", trail_from_now=True), 100400, 7000,
                   BY).position
    off = M.adjust(pos, M.Levels(trail=M.OFF), 100400, 7100, BY)
    assert off.outcome == M.ADJUSTED and off.position.trail_pct is None
    assert off.position.stop == "99000"             # back to the SL's level
    again = M.adjust(off.position, M.Levels(trail=M.OFF), 100400, 7200, BY)
    assert again.outcome == M.UNCHANGED and again.position is None


def test_levels_of_a_pending_or_exiting_position_are_not_set():
    assert M.adjust(new(), M.Levels(stop=90000), 100000, 7000, BY).outcome == M.REFUSED
    exiting = P.replace(open_(), state=P.EXITING, exit_reason="SL")
    assert M.adjust(exiting, M.Levels(stop=90000), 100000, 7000, BY).outcome == M.UNCHANGED


def test_a_snapshot_with_levels_set_by_hand_restores_them():
    moved = M.adjust(open_(), M.Levels(stop=99500, target=101000), 100000, 7000,
                     BY).position
    restored = P.Position.from_dict(moved.to_dict())
    assert restored.rules == moved.rules and (restored.stop, restored.target) == \
        ("99500", "101000")


# -- reading what a person typed -------------------------------------------------------------
@pytest.mark.parametrize("text,paise", [("2450", 245000), ("2450.5", 245050), ("₹2,450.05", 245005),
                                        ("off", M.OFF), ("OFF", M.OFF), ("", None), (None, None)])
def test_prices_as_a_person_writes_them(text, paise):
    assert M.parse_price(text, "stop") == paise


@pytest.mark.parametrize("text", ["abc", "-5", "0", "1.234", "nan", "inf"])
def test_bad_prices_are_refused_naming_the_field(text):
    with pytest.raises(ValueError, match="^target must be"):
        M.parse_price(text, "target")


@pytest.mark.parametrize("text,value", [("1.5", "1.5"), ("1.50 %", "1.5"), ("10", "10"),
                                        ("off", M.OFF), (None, None)])
def test_trailing_percentages(text, value):
    assert M.parse_trail(text) == value


@pytest.mark.parametrize("text", ["0", "100", "-1", "x"])
def test_bad_trailing_is_refused(text):
    with pytest.raises(ValueError, match="^trail must be"):
        M.parse_trail(text)


def test_an_entry_the_trader_cancelled_is_never_sent_again():
    pending = new()
    assert P.stale_intent(pending, 10**6, 5000) == "ENTRY"       # unanswered: sent again
    asked = P.close_asked(pending, 5000)
    assert not P.entry_outstanding(asked) and P.stale_intent(asked, 10**6, 5000) is None
