"""The paper broker: latest tick, else the alert's price; slippage against the trader."""
import asyncio

import pytest

from connectors.paper.broker import PaperBroker, slipped
from schemas.records import OrderIntent


def intent(side="BUY", ref=None, qty=10, bps=0):
    return OrderIntent(client_order_id="p0000000000000E0", position_id="p", link_id="L",
                       purpose="ENTRY", side=side, quantity=qty, token="2885",
                       symbol="RELIANCE-EQ", exchange="NSE", paper=True, created_at_ms=0,
                       reference_price_paise=ref, slippage_bps=bps)


@pytest.mark.parametrize("price,side,bps,expected", [
    (100000, "BUY", 0, 100000), (100000, "BUY", 5, 100050), (100000, "SELL", 5, 99950),
    (100001, "BUY", 5, 100052),   # 100051.0005 rounds up against the buyer
    (100001, "SELL", 5, 99950),   # 99950.9995 rounds down against the seller
])
def test_slippage_is_exact_and_against_the_trader(price, side, bps, expected):
    assert slipped(price, side, bps) == expected


def run(broker, *args):
    return asyncio.run(broker.execute(*args))


def test_fills_at_the_latest_tick_else_the_alert_price_else_rejects():
    broker = PaperBroker()
    assert run(broker, intent(ref=150000), 140000, 1)[0].price_paise == 140000
    assert run(broker, intent(ref=150000), None, 1)[0].price_paise == 150000
    rejected = run(broker, intent(), None, 1)[0]
    assert rejected.status == "REJECTED" and "no price" in rejected.text


def test_same_intent_gives_the_same_fill_id():
    broker = PaperBroker()
    assert run(broker, intent(), 1, 1)[0].fill_id == run(broker, intent(), 2, 2)[0].fill_id
