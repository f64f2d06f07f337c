"""The unmodified smartapi-python SDK against the simulator: what works against the simulator
works the same way against Angel One, as far as the SDK can tell."""
import threading

import pytest

from connectors.smartapi.sdk import sdk
from tests.integration.harness import wait_until


@pytest.fixture()
def session(smartapi_sim, sim_account):
    client = sdk().SmartConnect(api_key=sim_account.api_key, root=smartapi_sim.root)
    wait_until(lambda: _login(client, sim_account), 5, "a login within the 1/s limit")
    return client


def limited(call):
    """The call's answer, or None when the simulator's rate limit refused it (retry later)."""
    try:
        return call()
    except sdk().exceptions.DataException as exc:
        if "exceeding rate limit" in str(exc):
            return None
        raise


def _login(client, account):
    data = limited(lambda: client.generateSession(account.client_code, account.pin,
                                                  account.totp()))
    return data if data and data.get("status") else None


def test_login_profile_place_and_order_book(smartapi_sim, sim_account):
    client = sdk().SmartConnect(api_key=sim_account.api_key, root=smartapi_sim.root)
    data = wait_until(lambda: _login(client, sim_account), 5, "login")
    assert data["data"]["clientcode"] == sim_account.client_code
    assert data["data"]["jwtToken"].startswith("Bearer ") and client.feed_token

    bad = sdk().SmartConnect(api_key=sim_account.api_key, root=smartapi_sim.root)
    wrong_pin = "0000" if sim_account.pin != "0000" else "1111"
    wrong = wait_until(lambda: limited(lambda: bad.generateSession(
        sim_account.client_code, wrong_pin, sim_account.totp())), 5, "a refused login")
    assert wrong["status"] is False and wrong["errorcode"] == "AB1007"

    order_id = client.placeOrder({
        "variety": "NORMAL", "tradingsymbol": "SBIN-EQ", "symboltoken": "3045",
        "transactiontype": "BUY", "exchange": "NSE", "ordertype": "MARKET",
        "producttype": "INTRADAY", "duration": "DAY", "price": "0", "quantity": "3",
        "ordertag": "pw1234567890abcdE0"})
    assert order_id

    def completed():
        book = limited(client.orderBook)
        rows = [r for r in ((book or {}).get("data") or []) if r["orderid"] == order_id]
        return rows and rows[0]["status"] == "complete" and rows[0]
    row = wait_until(completed, 10, "the order to complete in the order book", interval_s=0.5)
    assert (row["ordertag"], row["filledshares"], row["transactiontype"]) == \
        ("pw1234567890abcdE0", "3", "BUY")
    assert row["averageprice"] == 805.0


def test_invalid_variety_and_long_ordertag_get_the_real_error_codes(session):
    base = {"variety": "NORMAL", "tradingsymbol": "SBIN-EQ", "symboltoken": "3045",
            "transactiontype": "BUY", "exchange": "NSE", "ordertype": "MARKET",
            "producttype": "INTRADAY", "duration": "DAY", "quantity": "1"}
    assert session.placeOrderFullResponse({**base, "variety": "X"})["errorcode"] == "AB1008"
    assert session.placeOrderFullResponse({**base, "ordertag": "x" * 20})["errorcode"] == "AB4008"


def test_websocket_ticks_decoded_by_the_sdk_equal_the_simulator_prices(smartapi_sim, session):
    ws = sdk().SmartWebSocketV2(session.access_token, session.api_key, session.userId,
                                session.feed_token)
    ws.ROOT_URI = smartapi_sim.ws_url
    received, opened = [], threading.Event()
    ws.on_open = lambda wsapp: (ws.subscribe("t1", ws.QUOTE, [{"exchangeType": 1,
                                                              "tokens": ["1660"]}]), opened.set())
    ws.on_data = lambda wsapp, data: received.append(data)
    ws.on_error = lambda *a: None
    thread = threading.Thread(target=ws.connect, daemon=True)
    thread.start()
    try:
        assert opened.wait(10), "the SDK's websocket did not open"
        wait_until(lambda: received, 10, "the snapshot tick on subscribe")
        prices = ["410.05", "409.95", "411.20", "411.25"]
        for rupees in prices:
            smartapi_sim.price("1660", rupees)
        wait_until(lambda: len(received) >= 1 + len(prices), 10, "every tick")
        ticks = [d for d in received[1:] if d["token"] == "1660"]
        assert [t["last_traded_price"] for t in ticks] == [41005, 40995, 41120, 41125]
        assert all(t["subscription_mode"] == 2 and t["exchange_type"] == 1 for t in ticks)
        assert ticks[0]["closed_price"] == 41005
    finally:
        ws.close_connection()
        thread.join(2)   # a daemon thread: the SDK's run_forever does not always return


def test_resting_limit_order_is_modified_then_cancelled(session):
    order_id = session.placeOrder({
        "variety": "NORMAL", "tradingsymbol": "ITC-EQ", "symboltoken": "1660",
        "transactiontype": "BUY", "exchange": "NSE", "ordertype": "LIMIT",
        "producttype": "DELIVERY", "duration": "DAY", "price": "300", "quantity": "5"})

    def row():
        book = limited(session.orderBook)
        return next((r for r in ((book or {}).get("data") or []) if r["orderid"] == order_id),
                    None)
    assert wait_until(lambda: (r := row()) and r["status"] == "open" and r, 10, "open",
                      interval_s=0.5)["quantity"] == "5"
    modified = session.modifyOrder({"variety": "NORMAL", "orderid": order_id, "quantity": "7",
                                    "price": "301", "ordertype": "LIMIT",
                                    "producttype": "DELIVERY", "duration": "DAY"})
    assert modified["status"] is True
    cancelled = session.cancelOrder(order_id, "NORMAL")
    assert cancelled["status"] is True and cancelled["data"]["orderid"] == order_id
    final = wait_until(lambda: (r := row()) and r["status"] == "cancelled" and r, 10,
                       "cancelled", interval_s=0.5)
    assert (final["quantity"], final["price"], final["filledshares"]) == ("7", 301.0, "0")
    assert session.cancelOrder("nope", "NORMAL")["errorcode"] == "AB1013"
