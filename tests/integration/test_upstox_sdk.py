"""The unmodified upstox-python-sdk against the Upstox simulator: the OAuth login, orders, the
order book, cancel, positions, holdings, the instrument file, and both feeds opened the SDK's
way (its authorize calls, its request builder, its transport, its protobuf classes) — the wire
protocol pinewire's adapter speaks is the one the SDK speaks. (The SDK's streamer classes
connect to api.upstox.com itself, so they cannot be pointed at a simulator.)"""
import json
import time

import pytest
import upstox_client
import websocket
from upstox_client.feeder.market_data_feeder_v3 import MarketDataFeederV3
from upstox_client.feeder.proto import MarketDataFeedV3_pb2 as pb
from upstox_client.rest import ApiException

from connectors.upstox.master import download
from tests.integration.harness import wait_until
from tests.integration.upstox import instrument_key

SBIN = instrument_key("3045")


def _conf(sim, token=None):
    conf = upstox_client.Configuration()
    conf.host = conf.order_host = sim.root
    if token:
        conf.access_token = token
    return conf


def _login(sim, account, secret=None):
    return upstox_client.LoginApi(upstox_client.ApiClient(_conf(sim))).token(
        "2.0", code=sim.code(account), client_id=account.api_key,
        client_secret=secret or account.api_secret, redirect_uri=account.redirect_uri,
        grant_type="authorization_code")


@pytest.fixture
def client(upstox_sim, upstox_account):
    return upstox_client.ApiClient(_conf(upstox_sim, _login(upstox_sim, upstox_account)
                                         .access_token))


def test_login_exchanges_a_code_only_with_the_right_secret(upstox_sim, upstox_account):
    with pytest.raises(ApiException) as refused:
        _login(upstox_sim, upstox_account, secret="wrong" + upstox_account.api_secret)
    assert refused.value.status == 401
    token = _login(upstox_sim, upstox_account)
    assert token.user_id == upstox_account.user_id and token.access_token
    client = upstox_client.ApiClient(_conf(upstox_sim, token.access_token))
    assert upstox_client.UserApi(client).get_profile("2.0").data.user_id == \
        upstox_account.user_id
    bad = upstox_client.ApiClient(_conf(upstox_sim, "not-a-token"))
    with pytest.raises(ApiException) as unauthorized:
        upstox_client.UserApi(bad).get_profile("2.0")
    assert unauthorized.value.status == 401


def test_place_book_cancel_positions_and_instruments(client, upstox_sim):
    upstox_sim.price("3045", "805")
    orders = upstox_client.OrderApi(client)

    def place(qty, order_type, price, tag):
        return orders.place_order(upstox_client.PlaceOrderRequest(
            quantity=qty, product="I", validity="DAY", price=price, tag=tag,
            instrument_token=SBIN, order_type=order_type, transaction_type="BUY",
            disclosed_quantity=0, trigger_price=0, is_amo=False), "2.0").data.order_id
    filled, resting = place(3, "MARKET", 0, "sdkfill"), place(2, "LIMIT", 700, "sdkrest")

    def book():
        return {o.order_id: o for o in orders.get_order_book("2.0").data}
    wait_until(lambda: book()[filled].status == "complete" and book()[resting].status == "open",
               10, "one order filled, one resting")
    row = book()[filled]
    assert (row.filled_quantity, row.average_price, row.tag, row.instrument_token) == \
        (3, 805.0, "sdkfill", SBIN)
    assert orders.cancel_order(resting, "2.0").data.order_id == resting
    assert book()[resting].status == "cancelled"
    with pytest.raises(ApiException) as finished:
        orders.cancel_order(filled, "2.0")
    assert finished.value.status == 400
    net = {p.instrument_token: p.quantity
           for p in upstox_client.PortfolioApi(client).get_positions("2.0").data}
    assert net[SBIN] >= 3
    assert upstox_client.PortfolioApi(client).get_holdings("2.0").data == []
    listed = {r["instrument_key"]: r for r in download(upstox_sim.instruments_url)}
    assert (listed[SBIN]["exchange_token"], listed[SBIN]["trading_symbol"]) == ("3045", "SBIN")


def test_refusals_are_the_sdks_exceptions(client, upstox_sim):
    orders = upstox_client.OrderApi(client)
    request = upstox_client.PlaceOrderRequest(
        quantity=1, product="I", validity="DAY", price=0, tag="x", instrument_token=SBIN,
        order_type="MARKET", transaction_type="BUY", disclosed_quantity=0, trigger_price=0,
        is_amo=False)
    for fault, status in (("rate_limit", 429), ("place_5xx", 502)):
        upstox_sim.faults(**{fault: 1})
        with pytest.raises(ApiException) as answer:
            orders.place_order(request, "2.0")
        assert answer.value.status == status
    upstox_sim.faults(expire_sessions=True)
    with pytest.raises(ApiException) as expired:
        orders.get_order_book("2.0")
    assert expired.value.status == 401


def test_both_feeds_the_sdks_way(client, upstox_sim):
    feeds = upstox_client.WebsocketApi(client)
    market_url = feeds.get_market_data_feed_authorize_v3().data.authorized_redirect_uri
    market = websocket.create_connection(market_url, timeout=10)
    portfolio = websocket.create_connection(
        feeds.get_portfolio_stream_feed_authorize("2.0").data.authorized_redirect_uri,
        timeout=10)
    try:
        market.send_binary(MarketDataFeederV3(api_client=client).build_request(
            [SBIN], "sub", "full"))
        initial = pb.FeedResponse()
        initial.ParseFromString(market.recv())
        assert initial.type == pb.initial_feed and SBIN in initial.feeds
        upstox_sim.price("3045", "812.35")
        live = pb.FeedResponse()
        live.ParseFromString(market.recv())
        full = live.feeds[SBIN].fullFeed.marketFF
        assert (live.type, full.ltpc.ltp) == (pb.live_feed, 812.35) and full.vtt > 0
        upstox_client.OrderApi(client).place_order(upstox_client.PlaceOrderRequest(
            quantity=2, product="I", validity="DAY", price=0, tag="streamed",
            instrument_token=SBIN, order_type="MARKET", transaction_type="SELL",
            disclosed_quantity=0, trigger_price=0, is_amo=False), "2.0")
        seen, deadline = [], time.monotonic() + 10
        while not seen or seen[-1] != "complete":
            assert time.monotonic() < deadline, seen
            update = json.loads(portfolio.recv())
            if update["tag"] == "streamed":
                seen.append(update["status"])
        assert seen[:2] == ["open pending", "open"] and update["filled_quantity"] == 2
    finally:
        market.close()
        portfolio.close()
    with pytest.raises(websocket.WebSocketBadStatusException):   # a code opens one socket
        websocket.create_connection(market_url, timeout=5)
