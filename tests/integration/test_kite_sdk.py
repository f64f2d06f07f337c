"""The unmodified kiteconnect SDK against the Kite simulator: the daily login, orders, the
order book, cancel, positions, instruments, and the SDK's own KiteTicker (Twisted) for ticks and
order updates — the wire protocol pinewire's adapter speaks is the one the SDK speaks."""
import json
import subprocess
import sys
import textwrap

import pytest
from kiteconnect import KiteConnect, exceptions as kex

from tests.integration.harness import wait_until


@pytest.fixture
def kite(kite_sim, kite_account) -> KiteConnect:
    client = KiteConnect(api_key=kite_account.api_key, root=kite_sim.root)
    client.generate_session(kite_sim.request_token(kite_account.api_key),
                            api_secret=kite_account.api_secret)
    return client


def test_login_exchanges_a_request_token_once_and_only_with_the_right_secret(kite_sim,
                                                                             kite_account):
    client = KiteConnect(api_key=kite_account.api_key, root=kite_sim.root)
    token = kite_sim.request_token(kite_account.api_key)
    with pytest.raises(kex.TokenException):
        client.generate_session(token, api_secret="not" + kite_account.api_secret)
    session = client.generate_session(token, api_secret=kite_account.api_secret)
    assert session["user_id"] == kite_account.user_id and len(session["access_token"]) == 32
    assert client.profile()["user_id"] == kite_account.user_id
    with pytest.raises(kex.TokenException):      # a request token is good for one exchange
        KiteConnect(api_key=kite_account.api_key, root=kite_sim.root).generate_session(
            token, api_secret=kite_account.api_secret)


def test_place_book_cancel_and_positions(kite, kite_sim):
    kite_sim.price("3045", "805")
    filled = kite.place_order(variety="regular", exchange="NSE", tradingsymbol="SBIN",
                              transaction_type="BUY", quantity=3, product="MIS",
                              order_type="MARKET", market_protection=-1, tag="sdkfill1")
    resting = kite.place_order(variety="regular", exchange="NSE", tradingsymbol="SBIN",
                               transaction_type="BUY", quantity=2, product="MIS",
                               order_type="LIMIT", price=700, tag="sdkrest1")
    wait_until(lambda: kite.order_history(filled)[-1]["status"] == "COMPLETE", 10,
               "the market order to fill")
    by_id = {o["order_id"]: o for o in kite.orders()}
    assert (by_id[filled]["filled_quantity"], by_id[filled]["average_price"],
            by_id[filled]["tag"], by_id[filled]["product"]) == (3, 805.0, "sdkfill1", "MIS")
    wait_until(lambda: kite.order_history(resting)[-1]["status"] == "OPEN", 10, "a resting order")
    assert kite.cancel_order("regular", resting) == resting
    assert kite.order_history(resting)[-1]["status"] == "CANCELLED"
    with pytest.raises(kex.InputException):      # a finished order cannot be cancelled
        kite.cancel_order("regular", filled)
    net = {p["tradingsymbol"]: p for p in kite.positions()["net"]}
    assert net["SBIN"]["quantity"] >= 3 and net["SBIN"]["average_price"] > 0
    nse = {i["tradingsymbol"]: i for i in kite.instruments("NSE")}
    assert (nse["SBIN"]["instrument_token"], nse["SBIN"]["exchange_token"]) == (3045 << 8 | 1,
                                                                                "3045")


def test_refusals_are_the_sdks_exceptions(kite, kite_sim):
    with pytest.raises(kex.InputException, match="tradingsymbol"):
        kite.place_order(variety="regular", exchange="NSE", tradingsymbol="NOSUCH",
                         transaction_type="BUY", quantity=1, product="MIS", order_type="MARKET")
    kite_sim.faults(rate_limit=1)
    with pytest.raises(kex.NetworkException) as limited:
        kite.place_order(variety="regular", exchange="NSE", tradingsymbol="SBIN",
                         transaction_type="BUY", quantity=1, product="MIS", order_type="MARKET")
    assert limited.value.code == 429
    kite_sim.faults(place_5xx=1)
    with pytest.raises(kex.DataException):       # the gateway's HTML page
        kite.place_order(variety="regular", exchange="NSE", tradingsymbol="SBIN",
                         transaction_type="BUY", quantity=1, product="MIS", order_type="MARKET")
    kite_sim.faults(expire_sessions=True)
    with pytest.raises(kex.TokenException):
        kite.orders()


TICKER = textwrap.dedent("""
    import json, sys, threading
    from kiteconnect import KiteConnect, KiteTicker
    api_key, access, root, ws_url = sys.argv[1:5]
    out, done = {"ticks": [], "orders": []}, threading.Event()
    kws = KiteTicker(api_key, access, root=ws_url, reconnect=False)
    def on_connect(ws, response):
        ws.subscribe([779521]); ws.set_mode(ws.MODE_FULL, [779521])
        print("subscribed", flush=True)
    def on_ticks(ws, ticks):
        out["ticks"].extend({k: t[k] for k in ("instrument_token", "last_price", "mode",
                                               "volume_traded")} for t in ticks)
    def on_order_update(ws, data):
        out["orders"].append([data["status"], data["filled_quantity"], data["tag"]])
        if data["status"] == "COMPLETE":
            done.set()
    kws.on_connect, kws.on_ticks, kws.on_order_update = on_connect, on_ticks, on_order_update
    kws.connect(threaded=True)
    for line in sys.stdin:             # the test says when to place the order, then waits
        client = KiteConnect(api_key=api_key, access_token=access, root=root)
        client.place_order(variety="regular", exchange="NSE", tradingsymbol="SBIN",
                           transaction_type="SELL", quantity=2, product="MIS",
                           order_type="MARKET", tag="tickerorder1")
        break
    done.wait(10)
    print(json.dumps(out), flush=True)
    kws.stop()
""")


def test_the_sdks_ticker_reads_our_packets_and_order_updates(kite, kite_sim, kite_account):
    """In a process of its own: KiteTicker runs Twisted's reactor, which starts once."""
    proc = subprocess.Popen([sys.executable, "-c", TICKER, kite_account.api_key,
                             kite.access_token, kite_sim.root, kite_sim.ws_url],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "subscribed"
        kite_sim.price("3045", "812.35")
        proc.stdin.write("go\n")
        proc.stdin.flush()
        out, _ = proc.communicate(timeout=30)
    finally:
        proc.kill()
    result = json.loads(out.strip().splitlines()[-1])
    assert {"instrument_token": 779521, "last_price": 812.35, "mode": "full"}.items() <= \
        result["ticks"][-1].items()
    assert result["ticks"][-1]["volume_traded"] > 0
    assert result["orders"][-1] == ["COMPLETE", 2, "tickerorder1"]
    assert [s for s, _, _ in result["orders"]][:2] == ["OPEN PENDING", "OPEN"]
