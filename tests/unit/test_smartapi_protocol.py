"""SmartAPI wire details checked against the unmodified SDK: our packet encoder's output is what
the SDK's own parser reads; the import guard; error shapes; rate-limit windows."""
import dataclasses
import subprocess
import sys
from collections import deque

import pytest

from connectors.smartapi import packets
from connectors.ratelimit import MARGIN_S, wait_needed
from connectors.smartapi.ratelimit import LIMITS
from connectors.smartapi.sdk import sdk
from connectors.smartapi.session import _jwt_expiry, error_code


def _sdk_parse(data: bytes) -> dict:
    ws = object.__new__(sdk().SmartWebSocketV2)   # the parser needs no connection
    return ws._parse_binary_data(data)


def _only_fields_of(p: packets.MarketPacket, mode: int) -> packets.MarketPacket:
    """What a packet of this mode carries: the fields of richer modes stay at their defaults."""
    empty = packets.MarketPacket(mode=mode, exchange_type=0, token="", sequence=0,
                                 exchange_ts_ms=0, ltp_paise=0)
    head = ("exchange_type", "token", "sequence", "exchange_ts_ms", "ltp_paise")
    quote = ("last_traded_qty", "avg_price_paise", "volume", "total_buy_qty", "total_sell_qty",
             "open_paise", "high_paise", "low_paise", "close_paise")
    carried = head + (quote if mode >= packets.QUOTE else ())
    if mode == packets.SNAP_QUOTE:
        return p
    return dataclasses.replace(empty, **{f: getattr(p, f) for f in carried})


@pytest.mark.parametrize("mode", [packets.LTP, packets.QUOTE, packets.SNAP_QUOTE])
def test_packets_read_the_same_by_the_sdk_and_by_us(mode):
    p = packets.MarketPacket(
        mode=mode, exchange_type=2, token="35001", sequence=99, exchange_ts_ms=1795270000123,
        ltp_paise=2451055, last_traded_qty=75, avg_price_paise=2450010, volume=123456,
        total_buy_qty=1500.0, total_sell_qty=2250.0, open_paise=2440000, high_paise=2460000,
        low_paise=2435000, close_paise=2445000, last_traded_ts=1795270000,
        open_interest=987654, oi_change_pct=3,
        best_five=tuple((i % 2, 75 * (i + 1), 2451000 + i * 5, i + 1) for i in range(10)),
        upper_circuit=2690000, lower_circuit=2200000, week52_high=2650000, week52_low=2100000)
    data = packets.encode(p)
    assert len(data) == packets.SIZES[mode]
    assert packets.decode(data) == _only_fields_of(p, mode)
    theirs = _sdk_parse(data)
    assert (theirs["token"], theirs["last_traded_price"], theirs["exchange_timestamp"],
            theirs["sequence_number"], theirs["subscription_mode"]) == \
        ("35001", 2451055, 1795270000123, 99, mode)
    if mode >= packets.QUOTE:
        assert (theirs["volume_trade_for_the_day"], theirs["closed_price"],
                theirs["total_sell_quantity"]) == (123456, 2445000, 2250.0)
    if mode == packets.SNAP_QUOTE:
        assert (theirs["open_interest"], theirs["52_week_low_price"]) == (987654, 2100000)
        # the SDK swaps its best-five lists (a known SDK quirk); together they are ours
        levels = theirs["best_5_buy_data"] + theirs["best_5_sell_data"]
        assert sorted(level["price"] for level in levels) == sorted(x[2] for x in p.best_five)


@pytest.mark.parametrize("data,message", [(b"\x01" * 50, "shorter"), (b"\x09" + b"\0" * 60,
                                                                       "unknown subscription")])
def test_bad_packets_are_errors_not_crashes(data, message):
    with pytest.raises(packets.PacketError, match=message):
        packets.decode(data)


def test_importing_the_sdk_does_not_ask_the_internet():
    code = ("import requests\ncalls = []\n"
            "requests.get = lambda *a, **k: calls.append(a)\n"
            "from connectors.smartapi.sdk import sdk\nsdk()\n"
            "assert calls == [], calls\n"
            "import SmartApi.smartConnect\nprint('ok')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr


@pytest.mark.parametrize("response,code", [
    ({"status": True, "message": "SUCCESS", "errorcode": "", "data": {}}, None),
    ({"status": False, "message": "Invalid Token", "errorcode": "AG8001", "data": None}, "AG8001"),
    ({"success": False, "message": "Invalid Token", "errorCode": "AG8001", "data": ""}, "AG8001"),
    ({"status": False, "message": "x"}, "UNKNOWN"),
    (None, None),
])
def test_both_error_shapes(response, code):
    assert error_code(response) == code


def test_jwt_expiry_is_read_when_the_token_is_a_jwt():
    import base64
    import json
    body = base64.urlsafe_b64encode(json.dumps({"exp": 1795300000}).encode()).decode().rstrip("=")
    assert _jwt_expiry(f"h.{body}.s") == 1795300000
    assert _jwt_expiry("opaque-token") is None


def test_order_limits_allow_nine_a_second_and_then_wait():
    calls = deque()
    for n in range(9):
        assert wait_needed(calls, LIMITS["order"], 100.0 + n * 0.01) == 0
        calls.append(100.0 + n * 0.01)
    wait = wait_needed(calls, LIMITS["order"], 100.09)
    assert wait == pytest.approx(100.0 + 1.0 + MARGIN_S - 100.09)


def test_the_minute_window_binds_after_five_hundred():
    calls = deque(100.0 + i * 0.12 for i in range(500))      # 500 calls spread over 60 s
    assert wait_needed(calls, LIMITS["order"], 160.0) > 0
    assert wait_needed(calls, LIMITS["order"], 160.0 + MARGIN_S + 0.01) == 0
