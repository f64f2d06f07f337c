"""The payload parser: every documented shape, every kind of bad input."""
import pytest

from schemas.tradingview import MAX_BODY_BYTES, PayloadError, parse


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
