"""Kite wire details checked against the unmodified SDK: the simulator's packets are what the
SDK's parser reads, and our decoder reads the same from them; the login helpers; the session's
expiry; instrument matching; order parameters."""
from datetime import datetime

import pytest
from kiteconnect import KiteTicker

from connectors.credentials import LoginFailed
from connectors.kite import ticks
from connectors.kite.broker import order_params
from connectors.kite.master import Master
from connectors.kite.session import expires_at_ms, login_url, request_token_from
from connectors.kite.simulator.ticker import frame, packet
from schemas.market_time import IST
from schemas.records import OrderIntent


def _sdk_parse(data: bytes) -> list[dict]:
    return object.__new__(KiteTicker)._parse_binary(data)   # the parser needs no connection


@pytest.mark.parametrize("mode", ["ltp", "quote", "full"])
def test_our_packets_are_what_the_sdk_reads_and_we_read_the_same(mode):
    data = frame([packet(mode, 779521, 81235, 4_200, 1_764_480_000, index=False),
                  packet(mode, 256265, 2_451_055, 0, 1_764_480_000, index=True)])
    sdk = _sdk_parse(data)
    assert [(t["instrument_token"], t["last_price"], t["mode"]) for t in sdk] == [
        (779521, 812.35, mode), (256265, 24510.55, mode)]
    ours = ticks.decode(data)
    assert [(t.instrument_token, t.ltp_paise) for t in ours] == [(779521, 81235),
                                                                 (256265, 2_451_055)]
    if mode != "ltp":
        assert sdk[0]["volume_traded"] == ours[0].volume == 4_200
    assert ours[1].volume is None               # an index has no volume


def test_heartbeats_and_currency_packets_give_no_ticks():
    assert ticks.decode(b"\x00") == []
    currency = 1234 << 8 | 3
    assert ticks.decode(frame([packet("ltp", currency, 831_250_000, 0, 0, False)])) == []


def test_the_request_token_is_taken_from_the_redirect_or_as_pasted():
    url = ("https://example.org/kite/redirect?request_token=abcDEF1234567890xyz&action=login"
           "&type=login&status=success")
    assert request_token_from(url + "\n") == "abcDEF1234567890xyz"
    assert request_token_from("  abcDEF1234567890xyz ") == "abcDEF1234567890xyz"
    with pytest.raises(LoginFailed, match="did not succeed"):
        request_token_from(url.replace("status=success", "status=error"))
    with pytest.raises(LoginFailed, match="paste the whole address"):
        request_token_from("https://example.org/kite/redirect?action=login")
    assert login_url("k3y") == "https://kite.zerodha.com/connect/login?api_key=k3y&v=3"


@pytest.mark.parametrize("issued,expires", [
    ("2026-11-30 09:15", "2026-12-01 06:00"),
    ("2026-11-30 05:59", "2026-11-30 06:00"),
    ("2026-11-30 06:00", "2026-12-01 06:00"),
    ("2026-11-30 23:59", "2026-12-01 06:00"),
])
def test_an_access_token_lasts_until_six_the_next_morning(issued, expires):
    ms = int(datetime.strptime(issued, "%Y-%m-%d %H:%M").replace(tzinfo=IST).timestamp() * 1000)
    end = datetime.fromtimestamp(expires_at_ms(ms) / 1000, IST).strftime("%Y-%m-%d %H:%M")
    assert end == expires


def test_instruments_match_by_exchange_token_then_by_name():
    master = Master(session=None)
    master.load([
        {"instrument_token": 779521, "exchange_token": "3045", "tradingsymbol": "SBIN",
         "exchange": "NSE", "lot_size": 1},
        {"instrument_token": 256265, "exchange_token": "1001", "tradingsymbol": "NIFTY 50",
         "exchange": "NSE", "lot_size": 0},
        {"instrument_token": 12345678, "exchange_token": "40001",
         "tradingsymbol": "NIFTY26N2424300CE", "exchange": "NFO", "lot_size": 75}])
    assert master.find("NSE", "3045", "SBIN-EQ").tradingsymbol == "SBIN"
    assert master.find("NSE", "99926000", "Nifty 50").instrument_token == 256265
    option = master.find("NFO", "40001", "NIFTY24NOV2624300CE")   # Angel One spells it otherwise
    assert (option.tradingsymbol, option.lot_size) == ("NIFTY26N2424300CE", 75)
    assert master.find("NSE", "1", "NOSUCH-EQ") is None


def test_order_parameters_in_kites_words():
    intent = OrderIntent(client_order_id="0123456789abcdefE0", position_id="0123456789abcdef",
                         link_id="L", purpose="ENTRY", side="SELL", quantity=3, token="3045",
                         symbol="SBIN-EQ", exchange="NSE", paper=False, created_at_ms=0,
                         order_type="LIMIT", reference_price_paise=80505,
                         product_type="DELIVERY")
    assert order_params(intent, "SBIN") == dict(
        variety="regular", exchange="NSE", tradingsymbol="SBIN", transaction_type="SELL",
        quantity=3, product="CNC", order_type="LIMIT", validity="DAY",
        tag="0123456789abcdefE0", price=805.05)
