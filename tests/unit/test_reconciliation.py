"""Startup reconciliation's decisions: what is closed, at which broker fill, and what is only
reported."""
from decimal import Decimal

from agents.reconciliation import Held, decide
from connectors.order_updates import OrderState

PID = "0123456789abcdef"


def _order(token, side, filled, price, tag="", status="complete", order_id="B1"):
    return OrderState(order_id=order_id, tag=tag, token=token, side=side, quantity=filled,
                      filled=filled, average_price=Decimal(price), status=status)


def test_flat_at_the_broker_closes_at_the_order_that_flattened_it():
    held = [Held(PID, "3045", "SBIN-EQ", "LONG", 10), Held("f" * 16, "3045", "SBIN-EQ",
                                                            "LONG", 5)]
    orders = [_order("3045", "BUY", 10, "800", tag=f"{PID}E0", order_id="B1"),
              _order("3045", "SELL", 15, "790.55", order_id="B2"),     # squared off by hand
              _order("3045", "SELL", 3, "795", status="cancelled", order_id="B3")]
    report = decide(held, {"3045": 0}, orders)
    assert [(c.position_id, c.price_paise, c.broker_order_id) for c in report.closes] == [
        (PID, 79055, "B2"), ("f" * 16, 79055, "B2")]
    assert report.lines == []


def test_a_short_flat_at_the_broker_looks_for_a_buy():
    report = decide([Held(PID, "1660", "ITC-EQ", "SHORT", 4)], {},
                    [_order("1660", "SELL", 4, "410", tag=f"{PID}E0"),
                     _order("1660", "BUY", 4, "405.1", order_id="B9")])
    assert [(c.price_paise, c.broker_order_id) for c in report.closes] == [(40510, "B9")]


def test_pinewires_own_entry_is_never_taken_for_the_closing_order():
    report = decide([Held(PID, "1660", "ITC-EQ", "SHORT", 4)], {"1660": 0},
                    [_order("1660", "BUY", 4, "405", tag=f"{'e' * 16}E0")])
    assert report.closes == []
    assert report.lines == ["flat at the broker: ITC-EQ (-4 in pinewire), but no closing order "
                            "in today's order book: left open"]


def test_an_outstanding_order_of_pinewires_waits_for_its_outcome():
    report = decide([Held(PID, "3045", "SBIN-EQ", "LONG", 10, state="EXITING")], {"3045": 0},
                    [_order("3045", "SELL", 10, "790", tag=f"{PID}X0")])
    assert report.closes == [] and "still outstanding" in report.lines[0]


def test_what_the_broker_holds_beyond_pinewire_is_reported_never_traded():
    held = [Held(PID, "3045", "SBIN-EQ", "LONG", 10), Held("a" * 16, "2885", "RELIANCE-EQ",
                                                            "LONG", 10)]
    report = decide(held, {"3045": 10, "2885": 4, "1594": -7, "1660": 0}, [],
                    symbols={"1594": "INFY-EQ"})
    assert report.closes == []
    assert report.lines == [
        "less at the broker: RELIANCE-EQ +4 there, +10 in pinewire: left as it is",
        "unknown at the broker: INFY-EQ -7 there, none in pinewire: never traded by pinewire"]
    assert report.unknown == 1
    flipped = decide([Held(PID, "3045", "SBIN-EQ", "LONG", 10)], {"3045": -10}, [])
    assert flipped.lines == ["unknown at the broker: SBIN-EQ -10 there, +10 in pinewire: never "
                             "traded by pinewire"]
