"""Fills from the broker's truth: an order's state seen again after a restart (the order-update
listener's memory gone) or an account edit adds only what the position had not counted, and no
order fills a position beyond its own quantity or what the position holds."""
from decimal import Decimal

from agents import fills as F
from agents import positions as P
from agents.exits import LONG
from connectors.order_updates import OrderState, new_fills


def opened(qty=10):
    return P.open_position(alert_id="a1", link_id="L", token="2885", symbol="RELIANCE-EQ",
                           exchange="NSE", side=LONG, quantity=qty, paper=False, sl_pct="1",
                           target_pct="2", trail_pct=None, trail_activation_pct=None,
                           slippage_bps=0, reference_price_paise=100000, partition=0, now_ms=1)


def state(pos, purpose, filled, average, quantity=10, status="open"):
    tag = pos.entry_order_id if purpose == "E" else pos.exit_order_id
    return OrderState(order_id=f"B-{tag}", tag=tag, token="2885", side="BUY", quantity=quantity,
                      filled=filled, average_price=Decimal(average), status=status)


def apply(pos, fill):
    return F.apply_fill(pos, fill_id=fill.fill_id, client_order_id=fill.client_order_id,
                        status=fill.status, quantity=fill.quantity,
                        price_paise=fill.price_paise, text=fill.text, now_ms=fill.at_ms,
                        order_filled=fill.order_filled,
                        order_value_paise=fill.order_value_paise)


def seen_by_a_new_listener(pos, order):
    """What a listener that remembers nothing (a restart, an account edit) emits for it."""
    for fill in new_fills(order, (0, 0), 5)[0]:
        pos = apply(pos, fill) or pos
    return pos


def test_an_order_seen_whole_after_a_restart_adds_only_its_new_part():
    pos = seen_by_a_new_listener(opened(), state(opened(), "E", 5, "1000"))
    assert pos.entry_qty == 5
    pos = seen_by_a_new_listener(pos, state(pos, "E", 10, "1000.10", status="complete"))
    assert pos.entry_qty == 10, "5 filled before the restart, 10 in all: not 15"
    assert pos.entry_value_paise == 1_000_100      # 10 x 1000.10 rupees, exact
    assert not pos.entry_open


def test_the_same_state_seen_again_changes_nothing():
    pos = seen_by_a_new_listener(opened(), state(opened(), "E", 10, "1000"))
    assert seen_by_a_new_listener(pos, state(pos, "E", 10, "1000")) == pos


def test_the_exit_after_a_restart_sells_what_the_broker_filled():
    pos = seen_by_a_new_listener(opened(), state(opened(), "E", 5, "1000"))
    pos = seen_by_a_new_listener(pos, state(pos, "E", 10, "1000", status="complete"))
    pos, decision, _ = P.on_tick(pos, 98_000, now_ms=10)
    assert decision is not None and pos.exit_order_qty == 10
    pos = seen_by_a_new_listener(pos, state(pos, "X", 4, "980"))
    pos = seen_by_a_new_listener(pos, state(pos, "X", 10, "980", status="complete"))
    assert pos.state == P.CLOSED and pos.exit_qty == 10
    assert pos.realized_pnl_paise == 10 * (98_000 - 100_000)


def test_no_order_fills_beyond_its_quantity():
    pos = seen_by_a_new_listener(opened(), state(opened(), "E", 12, "1000", quantity=12))
    assert pos.entry_qty == 10, "the entry order was for 10"
    assert "check the account" in pos.note


def test_an_exit_never_counts_more_than_the_position_holds():
    pos = seen_by_a_new_listener(opened(), state(opened(), "E", 10, "1000", status="complete"))
    pos, _, _ = P.on_tick(pos, 98_000, now_ms=10)
    pos = seen_by_a_new_listener(pos, state(pos, "X", 14, "980", quantity=14,
                                            status="complete"))
    assert pos.state == P.CLOSED and pos.exit_qty == 10
    assert pos.exit_value_paise == 10 * 98_000


def test_increments_without_cumulative_figures_still_add_up():
    pos = F.apply_fill(opened(), fill_id="f1", client_order_id=opened().entry_order_id,
                       status="FILLED", quantity=4, price_paise=100_000, text=None, now_ms=2)
    pos = F.apply_fill(pos, fill_id="f2", client_order_id=pos.entry_order_id, status="FILLED",
                       quantity=6, price_paise=100_010, text=None, now_ms=3)
    assert pos.entry_qty == 10 and pos.order_fills[pos.entry_order_id] == [10, 1_000_060]
    assert P.Position.from_dict(pos.to_dict()) == pos


def test_two_brokers_orders_numbered_alike_are_two_fills():
    """Angel One and Kite can give two orders the same number: their fills are still two (the
    ledger keeps one row per fill id)."""
    first = state(opened(), "E", 10, "1000")
    second = OrderState(**{**first.__dict__, "tag": "00000000000000aaE0"})
    [a], _ = new_fills(first, (0, 0), 1)
    [b], _ = new_fills(second, (0, 0), 1)
    assert first.order_id == second.order_id and a.fill_id != b.fill_id
