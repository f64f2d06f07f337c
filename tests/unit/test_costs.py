"""The charges table (agents/costs.py), worked by hand, and a position charged by it fill by
fill (agents/fills.py): what a contract note would show, to the paisa."""
import pytest

from agents import costs, fills, positions
from agents.costs import Charges


@pytest.mark.parametrize("plan,seg,side,value,expected", [
    # intraday BUY 100 × ₹1,000 = ₹1,00,000 on Angel One: brokerage min(₹20, 0.03 % = ₹30);
    # exchange 0.00307 % = ₹3.07; SEBI ₹0.10; GST 18 % of 23.17 = 4.1706; stamp 0.003 % = ₹3
    ("angelone", "intraday", "BUY", 10_000_000, Charges(2000, 0, 307, 417, 10, 300)),
    # its SELL at ₹1,010 (₹1,01,000): STT 0.025 % = ₹25.25; exchange ₹3.1007;
    # GST 18 % of (20 + 3.1007 + 0.101) = 4.1763
    ("angelone", "intraday", "SELL", 10_100_000, Charges(2000, 2525, 310, 418, 10, 0)),
    # delivery BUY 10 × ₹2,500 on Zerodha (no brokerage): STT 0.1 % = ₹25; exchange ₹0.7675;
    # SEBI ₹0.025; GST 18 % of 0.7925 = 0.14265; stamp 0.015 % = ₹3.75
    ("zerodha", "delivery", "BUY", 2_500_000, Charges(0, 2500, 77, 14, 3, 375)),
    # an option SOLD: 75 × ₹120 premium = ₹9,000: STT 0.1 % = ₹9; exchange 0.03553 % =
    # ₹3.1977; SEBI ₹0.009; GST 18 % of 23.2067 = 4.1772
    ("angelone", "options", "SELL", 900_000, Charges(2000, 900, 320, 418, 1, 0)),
    # futures BUY ₹5,00,000 on Upstox: brokerage min(₹20, 0.05 % = ₹250); exchange 0.00183 %
    # = ₹9.15; SEBI ₹0.50; GST 18 % of 29.65 = 5.337; stamp 0.002 % = ₹10
    ("upstox", "futures", "BUY", 50_000_000, Charges(2000, 0, 915, 534, 50, 1000)),
    # a small intraday order: 0.03 % of ₹10,000 = ₹3 of brokerage, below ₹20
    ("zerodha", "intraday", "BUY", 1_000_000, Charges(300, 0, 31, 60, 1, 30)),
    ("none", "intraday", "BUY", 10_000_000, Charges()),
])
def test_an_orders_charges(plan, seg, side, value, expected):
    assert costs.charges(plan, seg, side, value) == expected


def test_segments():
    assert costs.segment("DELIVERY", "NSE", "SBIN-EQ") == "delivery"
    assert costs.segment("INTRADAY", "NSE", "SBIN-EQ") == "intraday"
    assert costs.segment("CARRYFORWARD", "NFO", "NIFTY30DEC2524000CE") == "options"
    assert costs.segment("CARRYFORWARD", "NFO", "NIFTY30DEC25FUT") == "futures"


def _position(plan: str) -> positions.Position:
    return positions.open_position(
        alert_id="a1", link_id="L1", token="2885", symbol="RELIANCE-EQ", exchange="NSE",
        side="LONG", quantity=100, paper=True, sl_pct="1", target_pct=None, trail_pct=None,
        trail_activation_pct=None, slippage_bps=0, reference_price_paise=100_000,
        partition=0, now_ms=1, product="intraday", fee_paise=100, costs=plan)


def _fill(pos, n: int, order: str, qty: int, price: int, order_filled: int, value: int):
    return fills.apply_fill(pos, fill_id=f"f{n}", client_order_id=order,
                            status="FILLED", quantity=qty, price_paise=price, text=None,
                            now_ms=2, order_filled=order_filled, order_value_paise=value)


def test_a_position_is_charged_fill_by_fill_as_its_orders_add_up():
    pos = _position("angelone")
    # the entry, 100 at ₹1,000, in two fills (40, then 60): its charges are the order's
    pos = _fill(pos, 1, pos.entry_order_id, 40, 100_000, 40, 4_000_000)
    # 40 × ₹1,000: brokerage 0.03 % = ₹12; exchange ₹1.228; SEBI ₹0.04; GST 18 % of 13.268;
    # stamp ₹1.20 — and the link's own ₹1 a filled order
    assert pos.fees_paise == 1200 + 123 + 4 + 239 + 120 + 100
    pos = _fill(pos, 2, pos.entry_order_id, 60, 100_000, 100, 10_000_000)
    assert pos.fees_paise == 3034 + 100
    pos = positions.begin_exit(pos, "TARGET", 3, price_paise=101_000)
    pos = _fill(pos, 3, pos.exit_order_id, 100, 101_000, 100, 10_100_000)
    assert (pos.state, pos.fees_paise, pos.realized_pnl_paise) == \
        ("CLOSED", 3034 + 5263 + 200, 100_000)
    flat = _position("none")
    assert _fill(flat, 1, flat.entry_order_id, 100, 100_000, 100, 10_000_000).fees_paise == 100
