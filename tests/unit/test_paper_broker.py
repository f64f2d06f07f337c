"""The paper broker: exits at their trigger tick, entries at a fresh last tick or the next tick,
partial fills, the fill timeout, cancellation of a resting entry; slippage against the trader."""
import asyncio

import pytest

from connectors.paper.broker import PaperBroker, fill_at_once, fill_now, slipped
from schemas.records import OrderIntent


def intent(side="BUY", ref=None, qty=10, bps=0, purpose="ENTRY", fill="full", coid=None,
           cancel=None):
    return OrderIntent(client_order_id=coid or f"p000000000000000{purpose[1] if purpose == 'EXIT' else 'E'}0",
                       position_id="p000000000000000", link_id="L", purpose=purpose, side=side,
                       quantity=qty, token="2885", symbol="RELIANCE-EQ", exchange="NSE",
                       paper=True, created_at_ms=0, reference_price_paise=ref, slippage_bps=bps,
                       paper_fill=fill, cancel_client_order_id=cancel)


@pytest.mark.parametrize("price,side,bps,expected", [
    (100000, "BUY", 0, 100000), (100000, "BUY", 5, 100050), (100000, "SELL", 5, 99950),
    (100001, "BUY", 5, 100052),   # 100051.0005 rounds up against the buyer
    (100001, "SELL", 5, 99950),   # 99950.9995 rounds down against the seller
])
def test_slippage_is_exact_and_against_the_trader(price, side, bps, expected):
    assert slipped(price, side, bps) == expected


@pytest.mark.parametrize("qty,fill,now", [(10, "full", 10), (10, "partial:0.4", 4),
                                          (10, "partial:0.05", 1), (1, "partial:0.5", 1),
                                          (7, "partial:0.5", 3)])
def test_fill_now(qty, fill, now):
    assert fill_now(qty, fill) == now


def run(broker, *args):
    return asyncio.run(broker.execute(*args))


def new():
    return PaperBroker({}, fill_timeout_ms=30_000)


def test_an_entry_fills_at_the_fresh_last_tick():
    broker = new()
    [fill] = run(broker, intent(ref=150000), 140000, 1)
    assert (fill.status, fill.quantity, fill.price_paise) == ("FILLED", 10, 140000)
    assert broker.book == {}


def test_an_exit_fills_at_its_trigger_tick_whatever_the_last_tick():
    [fill] = run(new(), intent(side="SELL", ref=99000, purpose="EXIT"), 97000, 1)
    assert fill.price_paise == 99000


def test_without_a_fresh_price_the_entry_rests_and_fills_at_the_next_tick():
    broker = new()
    assert run(broker, intent(ref=150000), None, 1) == []
    assert broker.expired(29_999 + 1) == []
    [fill] = broker.on_tick("2885", 141000, 5)
    assert (fill.quantity, fill.price_paise) == (10, 141000) and broker.book == {}
    assert broker.on_tick("2885", 142000, 6) == []


def test_partial_fill_now_and_the_rest_at_the_next_tick_with_distinct_fill_ids():
    broker = new()
    [first] = run(broker, intent(fill="partial:0.4", bps=10), 100000, 1)
    [rest] = broker.on_tick("2885", 100500, 2)
    assert (first.quantity, first.price_paise) == (4, 100100)
    assert (rest.quantity, rest.price_paise) == (6, 100601)
    assert first.fill_id != rest.fill_id


@pytest.mark.parametrize("ref,status,qty,price,text", [
    (150000, "FILLED", 10, 150000, "filled at the alert's price"),
    (None, "REJECTED", 0, 0, "the alert carried no price"),
])
def test_no_tick_within_the_timeout(ref, status, qty, price, text):
    broker = new()
    assert run(broker, intent(ref=ref), None, 1) == []
    assert broker.expired(30_000) == [] and broker.expired(30_001) == [("2885", intent().client_order_id)]
    [fill] = broker.expire("2885", intent().client_order_id, 30_001)
    assert (fill.status, fill.quantity, fill.price_paise) == (status, qty, price)
    assert text in fill.text and broker.book == {}
    assert broker.expire("2885", intent().client_order_id, 30_002) == []   # once


def test_an_exit_cancels_the_rest_of_its_entry_first():
    broker = new()
    run(broker, intent(fill="partial:0.5"), 100000, 1)
    fills = run(broker, intent(side="SELL", purpose="EXIT", ref=99000, qty=5,
                               cancel=intent().client_order_id), None, 2)
    assert [(f.client_order_id[-2:], f.status, f.quantity) for f in fills] == \
        [("E0", "REJECTED", 0), ("X0", "FILLED", 5)]
    assert broker.book == {} and broker.on_tick("2885", 1, 3) == []


def test_same_intent_gives_the_same_fill_id():
    assert run(new(), intent(), 1, 1)[0].fill_id == run(new(), intent(), 2, 2)[0].fill_id


@pytest.mark.parametrize("order,why", [
    (intent(side="SELL", ref=99000, purpose="EXIT"), None),
    (intent(ref=99000), "an entry fills at the last tick when the executor takes it"),
    (intent(side="SELL", ref=None, purpose="EXIT"), "no trigger price: the last tick's"),
    (intent(side="SELL", ref=99000, purpose="EXIT", fill="partial:0.5"), "a rest to rest"),
])
def test_an_exit_on_a_level_is_filled_at_once_as_execute_would(order, why):
    at_once = fill_at_once({}, order, 7)
    if why is None:
        assert at_once == run(new(), order, 97000, 7)[0]
        assert (at_once.price_paise, at_once.quantity) == (99000, 10)
    else:
        assert at_once is None, why


def test_a_signal_exit_or_an_entry_resting_waits_for_execute():
    signal_exit = OrderIntent(**{**intent(side="SELL", ref=99000, purpose="EXIT").asdict(),
                                 "reason": "SIGNAL"})
    assert fill_at_once({}, signal_exit, 1) is None       # the last tick's price, later
    broker = new()
    run(broker, intent(fill="partial:0.5"), 100000, 1)        # 5 of 10 rest
    exit_ = intent(side="SELL", purpose="EXIT", ref=99000, qty=5, cancel=intent().client_order_id)
    assert fill_at_once(broker.book, exit_, 2) is None and broker.book   # its cancel comes first
