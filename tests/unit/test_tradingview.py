"""The payload parser: every documented shape, every kind of bad input."""
import json

import pytest
from hypothesis import given, settings, strategies as st

from schemas.tradingview import MAX_BODY_BYTES, MAX_QUANTITY, PayloadError, parse


@pytest.mark.parametrize("body,action,symbol,exchange,strategy,qty,price,own_id", [
    (b'{"strategy":"MySuperTrend","symbol":"RELIANCE","action":"BUY_CALL",'
     b'"timestamp":"2025-05-08T09:20:00Z"}',
     "BUY_CALL", "RELIANCE", "NSE", "MySuperTrend", None, None, "2025-05-08T09:20:00Z"),
    (b'{"passphrase":"s3cret","ticker":"NIFTY","action":"buy","contracts":"50",'
     b'"price":"24510.5","order_id":"Long"}',
     "BUY", "NIFTY", "NSE", None, 50, 2451050, "Long"),
    (b'{"strategy":"st","symbol":"SBIN-EQ","exchange":"NSE","action":"EXIT","qty":10}',
     "EXIT", "SBIN-EQ", "NSE", "st", 10, None, None),
    (b'{"symbol":"BSE:TCS","action":"sell","price":3120.05}\n',          # trailing newline
     "SELL", "TCS", "BSE", None, None, 312005, None),
    (b'  {"Symbol":"itc","Action":"Close","time":"t"}  ',
     "EXIT", "ITC", "NSE", None, None, None, "t"),
])
def test_shapes(body, action, symbol, exchange, strategy, qty, price, own_id):
    s = parse(body)
    assert (s.action, s.symbol, s.exchange, s.strategy, s.quantity, s.price_paise, s.own_id) == \
        (action, symbol, exchange, strategy, qty, price, own_id)


def test_secrets_are_not_kept():
    s = parse(b'{"passphrase":"s3cret","ticker":"NIFTY","action":"buy"}')
    assert "passphrase" not in s.payload and "s3cret" not in repr(s)


@pytest.mark.parametrize("body,message", [
    (b"", "empty"),
    (b"BUY RELIANCE", "not valid JSON"),
    (b"\xff\xfe", "not UTF-8"),
    (b'["BUY"]', "must be a JSON object"),
    (b'{"symbol":"RELIANCE"}', "missing action"),
    (b'{"action":"BUY"}', "missing symbol"),
    (b'{"symbol":"RELIANCE","action":"HOLD"}', "unknown action 'HOLD'"),
    (b'{"symbol":"RELIANCE","action":"{{strategy.order.action}}"}', "placeholder"),
    (b'{"symbol":"RELIANCE","action":"BUY","price":"{{close}}"}',
     "field 'price' still holds the placeholder {{close}}"),
    (b'{"symbol":"RELIANCE","action":"BUY","qty":"2.5"}', "positive whole number"),
    (b'{"symbol":"RELIANCE","action":"BUY","qty":-1}', "positive whole number"),
    (b'{"symbol":"RELIANCE","action":"BUY","price":"abc"}', "not a number"),
    (b'{"symbol":"RELIANCE","action":"BUY","price":0}', "not a positive price"),
    (b'{"symbol":"DROP TABLE;--","action":"BUY"}', "not a valid trading symbol"),
    (b'{"symbol":123,"action":"BUY"}', "must be a string"),
    (b'{"symbol":"X","action":"BUY","strategy":5}', "'strategy' must be a string"),
    (b"{" + b" " * MAX_BODY_BYTES + b"}", "limit"),
])
def test_bad_input(body, message):
    with pytest.raises(PayloadError, match=message.replace("(", r"\(").replace("{", r"\{")
                       .replace("}", r"\}")):
        parse(body)


# -- hostile bodies: every one is a Signal or a PayloadError, never anything else -----------
_scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True),
                     st.text(max_size=30),
                     st.sampled_from(["Infinity", "-Infinity", "NaN", "sNaN", "1e999999", "1e-999",
                                      "9" * 60, "0", "-1", "1.5", "{{close}}", " 12 "]))
_fields = st.sampled_from(["symbol", "ticker", "action", "side", "qty", "quantity", "contracts",
                           "price", "close", "strategy", "exchange", "time", "passphrase"])
_bodies = st.dictionaries(_fields, _scalars, max_size=8)


def _check(body: bytes) -> None:
    try:
        signal = parse(body)
    except PayloadError:
        return
    assert signal.quantity is None or 0 < signal.quantity <= MAX_QUANTITY
    assert signal.price_paise is None or 0 < signal.price_paise <= 10 ** 11


@settings(max_examples=1000, deadline=None, derandomize=True)   # the same bodies every run
@given(_bodies, st.sampled_from(["BUY", "SELL", "EXIT", "buy", None]),
       st.sampled_from(["RELIANCE", "NSE:SBIN", None]))
def test_any_json_object_is_a_signal_or_a_clear_error(body, action, symbol):
    if action is not None:
        body.setdefault("action", action)
    if symbol is not None:
        body.setdefault("symbol", symbol)
    _check(json.dumps(body, allow_nan=True).encode())


@settings(max_examples=500, deadline=None, derandomize=True)
@given(st.binary(max_size=300))
def test_any_bytes_are_a_signal_or_a_clear_error(body):
    _check(body)


def test_numbers_out_of_range_are_clear_errors():
    for body, message in ((b'{"symbol":"SBIN","action":"BUY","qty":"Infinity"}', "whole number"),
                          (b'{"symbol":"SBIN","action":"BUY","qty":1e400}', "more than"),
                          (b'{"symbol":"SBIN","action":"BUY","qty":"1e30"}', "more than"),
                          (b'{"symbol":"SBIN","action":"BUY","price":"1e999999"}', "more than"),
                          # found by the property test: it rounded to a price of 0 paise
                          (b'{"symbol":"SBIN","action":"BUY","price":"1E-3"}', "half a paisa")):
        try:
            parse(body)
        except PayloadError as exc:
            assert message in str(exc), exc
        else:
            raise AssertionError(f"{body!r} was accepted")
