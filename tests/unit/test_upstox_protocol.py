"""Upstox wire details: ticks decoded from FeedResponse messages built with the SDK's own
protobuf classes (every mode, and the simulator's), the login code, the session's end, the
instrument match, the order request."""
import pytest
from upstox_client.feeder.proto import MarketDataFeedV3_pb2 as pb

from connectors.credentials import LoginFailed
from connectors.daily_session import expires_at_ms
from connectors.upstox import ticks
from connectors.upstox.broker import order_request
from connectors.upstox.master import Master
from connectors.upstox.session import UpstoxSession, code_in
from connectors.upstox.simulator.state import UpstoxSim
from connectors.upstox.simulator.streams import feed_response
from schemas.records import OrderIntent

KEY = "NSE_EQ|INE003045A01"


def test_every_feed_mode_decodes_to_price_and_volume():
    message = pb.FeedResponse(type=pb.live_feed, currentTs=1)
    message.feeds[KEY].ltpc.ltp = 812.35
    message.feeds["NSE_EQ|INE001660A01"].fullFeed.marketFF.ltpc.ltp = 410.05
    message.feeds["NSE_EQ|INE001660A01"].fullFeed.marketFF.vtt = 123456
    message.feeds["NSE_INDEX|Nifty 50"].fullFeed.indexFF.ltpc.ltp = 24510.55
    decoded = sorted(ticks.decode(message.SerializeToString()))
    assert decoded == [("NSE_EQ|INE001660A01", 41005, 123456), (KEY, 81235, None),
                       ("NSE_INDEX|Nifty 50", 2451055, None)]


def test_the_simulators_messages_are_what_we_read():
    sim = UpstoxSim([])
    sim.set_price(KEY, 80505)
    sim.set_price(KEY, 80510)
    assert ticks.decode(feed_response(sim, {KEY: "full"}, live=True)) == [(KEY, 80510, 200)]
    assert ticks.decode(feed_response(sim, {KEY: "ltpc"}, live=True)) == [(KEY, 80510, None)]


def test_the_code_is_taken_from_the_redirect_or_as_pasted():
    assert code_in("https://example.org/upstox/redirect?code=Ab12Cd") == "Ab12Cd"
    assert code_in(" Ab12Cd\n") == "Ab12Cd"
    with pytest.raises(LoginFailed, match="paste the whole address"):
        code_in("https://example.org/upstox/redirect?state=x")


def test_an_upstox_token_ends_at_half_past_three():
    from datetime import datetime

    from schemas.market_time import IST
    issued = int(datetime(2026, 11, 30, 9, 15, tzinfo=IST).timestamp() * 1000)
    end = datetime.fromtimestamp(expires_at_ms(issued, *UpstoxSession.EXPIRES) / 1000, IST)
    assert (end.day, end.hour, end.minute) == (1, 3, 30)


def test_instruments_match_by_exchange_token_then_by_name():
    master = Master(session=None, url="")
    master.load([{"segment": "NSE_EQ", "exchange": "NSE", "instrument_key": KEY,
                  "exchange_token": "3045", "trading_symbol": "SBIN", "lot_size": 1},
                 {"segment": "NSE_INDEX", "exchange": "NSE", "instrument_key":
                  "NSE_INDEX|Nifty 50", "trading_symbol": "Nifty 50", "lot_size": 0}])
    assert master.find("NSE", "3045", "SBIN-EQ").instrument_key == KEY
    assert master.find("NSE", "99926000", "Nifty 50").instrument_key == "NSE_INDEX|Nifty 50"
    assert master.find("NSE", "1", "NOSUCH-EQ") is None


def test_the_order_request_in_upstoxs_words():
    intent = OrderIntent(client_order_id="0123456789abcdefX1", position_id="0123456789abcdef",
                         link_id="L", purpose="EXIT", side="SELL", quantity=3, token="3045",
                         symbol="SBIN-EQ", exchange="NSE", paper=False, created_at_ms=0,
                         order_type="LIMIT", reference_price_paise=80505,
                         product_type="INTRADAY")
    request = order_request(intent, KEY).to_dict()
    assert {k: request[k] for k in ("quantity", "product", "validity", "price", "tag",
                                    "instrument_token", "order_type", "transaction_type")} == \
        {"quantity": 3, "product": "I", "validity": "DAY", "price": 805.05,
         "tag": "0123456789abcdefX1", "instrument_token": KEY, "order_type": "LIMIT",
         "transaction_type": "SELL"}
