"""ChartInk scanner alerts: one body, several stocks; a bad stock is refused alone. And the
entry window a link may set."""
import json
from datetime import datetime

import pytest

from agents import signals
from schemas import chartink, market_time
from schemas.tradingview import PayloadError
from webapp import links

BODY = {"stocks": "SBIN,RELIANCE,TATA STEEL", "trigger_prices": "801.5,1402.1,150",
        "triggered_at": "2:34 pm", "scan_name": "Short term breakouts",
        "scan_url": "short-term-breakouts", "alert_name": "Alert for Short term breakouts",
        "webhook_url": "https://example.invalid/hook/x"}


def _parse(body: dict, action: str = "BUY"):
    return chartink.parse(json.dumps(body).encode(), action)


def test_each_stock_becomes_a_signal_of_the_links_action_with_its_trigger_price():
    found, refused = _parse(BODY, "SELL")
    assert refused == []
    assert [(s.symbol, s.exchange, s.action, s.price_paise) for s in found] == [
        ("SBIN", "NSE", "SELL", 80150), ("RELIANCE", "NSE", "SELL", 140210),
        ("TATA STEEL", "NSE", "SELL", 15000)]
    assert found[0].payload == {"scan_name": "Short term breakouts",
                                "alert_name": "Alert for Short term breakouts",
                                "triggered_at": "2:34 pm", "scan_url": "short-term-breakouts",
                                "stock": "SBIN", "trigger_price": "801.5"}
    assert "webhook_url" not in found[0].payload
    # one payload per stock: each stock has its own dedupe key
    assert len({json.dumps(s.payload, sort_keys=True) for s in found}) == 3


def test_a_bad_stock_or_price_is_refused_alone():
    found, refused = _parse({**BODY, "stocks": "SBIN,BAD$NAME,INFY",
                             "trigger_prices": "801.5,10,-3"})
    assert [s.symbol for s in found] == ["SBIN"]
    assert [r.stock for r in refused] == ["BAD$NAME", "INFY"]
    assert "not a valid trading symbol" in refused[0].reason
    assert refused[1].reason == "trigger price: '-3' is not a positive price"


@pytest.mark.parametrize("body,message", [
    ({"trigger_prices": "1"}, "missing stocks"),
    ({"stocks": "  "}, "missing stocks"),
    ({"stocks": "SBIN,INFY", "trigger_prices": "801.5"}, "2 stocks but 1 trigger prices"),
])
def test_a_body_that_is_no_scan_is_refused_whole(body, message):
    with pytest.raises(PayloadError, match=message):
        _parse(body)


def test_prices_are_optional():
    found, _ = _parse({"stocks": "SBIN"})
    assert found[0].price_paise is None


def _ist_ms(hh: int, mm: int, ss: int = 0) -> int:
    return int(datetime(2026, 11, 27, hh, mm, ss, tzinfo=market_time.IST).timestamp() * 1000)


def test_the_entry_window_includes_its_end_minutes():
    assert not market_time.in_window("09:20-14:30", _ist_ms(9, 19, 59))
    assert market_time.in_window("09:20-14:30", _ist_ms(9, 20))
    assert market_time.in_window("09:20-14:30", _ist_ms(14, 30, 59))
    assert not market_time.in_window("09:20-14:30", _ist_ms(14, 31))
    assert signals.outside_entry_window(None, _ist_ms(3, 0)) is None
    assert signals.outside_entry_window("09:20-14:30", _ist_ms(15, 2, 7)) == \
        "outside the entry window 09:20-14:30 IST (the alert came at 15:02)"


@pytest.mark.parametrize("window,message", [("9:20-14:30", "not a window"),
                                            ("14:30-09:20", "ends before it starts"),
                                            ("09:20", "not a window")])
def test_a_bad_entry_window_is_refused_with_its_reason(window, message):
    with pytest.raises(links.LinkError, match=f"--entry-window: .*{message}"):
        links.validate({"quantity": 1, "entry_window": window})


def test_a_chartink_link_needs_its_action_and_only_it_has_one():
    assert links.validate({"quantity": 1, "kind": "chartink", "scan_action": "buy",
                           "entry_window": " 09:20 - 14:30"})["scan_action"] == "BUY"
    with pytest.raises(links.LinkError, match="needs --action BUY or SELL"):
        links.validate({"quantity": 1, "kind": "chartink"})
    with pytest.raises(links.LinkError, match="--action is for chartink links"):
        links.validate({"quantity": 1, "scan_action": "SELL"})
    with pytest.raises(links.LinkError, match="--kind must be one of tradingview, chartink"):
        links.validate({"quantity": 1, "kind": "gocharting"})
