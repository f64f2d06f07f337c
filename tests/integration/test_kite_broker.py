"""The Kite adapter against the simulator, fault by fault: 5xx, a timeout after the broker
accepted, rate limits, refusals, rejections and partial fills from the order stream, a dropped
socket (the order book is polled), redeliveries, an expired session. Each fault has its
assertion about what reached the broker: exactly one order per intent."""
import asyncio
import secrets
import time

import pytest

from connectors.credentials import AppCredentials, LoginFailed
from connectors.kite.broker import KiteBroker
from connectors.kite.master import Master
from connectors.kite.orders import KiteOrderUpdates
from connectors.kite.ratelimit import LIMITS
from connectors.kite.session import KiteSession, exchange_request_token
from connectors.ratelimit import RateLimiter
from schemas.records import OrderIntent
from tests.integration.harness import free_port, until


def _session(sim, account, timeout_s=2.0, health=None) -> KiteSession:
    access, user = exchange_request_token(account.api_key, account.api_secret,
                                          sim.request_token(account.api_key), sim.root, 5)
    creds = AppCredentials(account_id="acct", client_code=user, broker="kite",
                           api_key=account.api_key, api_secret=account.api_secret,
                           access_token=access, token_at_ms=int(time.time() * 1000))
    return KiteSession(creds, sim.root, timeout_s, limiter=RateLimiter(LIMITS),
                       on_health=health, account_name="zerodha")


def _intent(qty=5, token="3045", symbol="SBIN-EQ", side="BUY", product="INTRADAY", age_ms=0,
            order_type="MARKET", price=None, cancel=None):
    pid = secrets.token_hex(8)
    return OrderIntent(client_order_id=f"{pid}E0", position_id=pid, link_id="L",
                       purpose="ENTRY", side=side, quantity=qty, token=token, symbol=symbol,
                       exchange="NSE", paper=False, created_at_ms=int(time.time() * 1000) - age_ms,
                       account_id="acct", product_type=product, order_type=order_type,
                       reference_price_paise=price, cancel_client_order_id=cancel)


def _at_broker(sim, intent) -> list[dict]:
    return [o for o in sim.orders() if o["tag"] == intent.client_order_id]


def _place(sim, account, intent, timeout_s=2.0, maybe_placed=False, session=None):
    session = session or _session(sim, account, timeout_s)
    broker = KiteBroker(session, Master(session))
    return asyncio.run(broker.execute(intent, None, int(time.time() * 1000), maybe_placed))


@pytest.fixture(autouse=True)
def no_faults(kite_sim):
    yield
    kite_sim.faults(place_5xx=0, place_timeout=0, rate_limit=0, reject=0, partial_count=0,
                    partial_open_count=0, expire_sessions=False)


def test_order_carries_kites_fields_and_the_tag(kite_sim, kite_account):
    intent = _intent(qty=7)
    assert _place(kite_sim, kite_account, intent) == []
    [order] = _at_broker(kite_sim, intent)
    assert (order["tradingsymbol"], order["exchange"], order["transaction_type"],
            order["order_type"], order["product"], order["quantity"], order["variety"],
            order["market_protection"]) == ("SBIN", "NSE", "BUY", "MARKET", "MIS", 7, "regular",
                                            -1)


@pytest.mark.parametrize("faults,timeout_s", [
    ({"place_5xx": 2}, 2.0),                         # the gateway's 502 page, then success
    ({"place_timeout": 1, "timeout_s": 2.0}, 0.5),   # timed out after the broker accepted
    ({"rate_limit": 3}, 2.0),                        # 429 Too many requests, backoff
], ids=["5xx-then-success", "timeout-after-accept-reconciled", "rate-limit-backoff"])
def test_fault_then_exactly_one_order(kite_sim, kite_account, faults, timeout_s):
    kite_sim.faults(**faults)
    intent = _intent()
    assert _place(kite_sim, kite_account, intent, timeout_s=timeout_s) == []
    assert len(_at_broker(kite_sim, intent)) == 1


def test_redeliveries_find_their_order_and_do_not_place_again(kite_sim, kite_account):
    intent = _intent()
    _place(kite_sim, kite_account, intent)
    old = OrderIntent(**{**intent.asdict(), "created_at_ms": intent.created_at_ms - 60_000})
    assert _place(kite_sim, kite_account, old) == []
    assert _place(kite_sim, kite_account, intent, maybe_placed=True) == []
    assert len(_at_broker(kite_sim, intent)) == 1


def test_a_refused_order_is_a_rejection_with_kites_words_never_retried(kite_sim, kite_account):
    intent = _intent(product="BOGUS")
    fills = _place(kite_sim, kite_account, intent)
    assert [(f.status, f.text) for f in fills] == [("REJECTED", "Invalid `product`.")]
    unknown = _intent(token="999999", symbol="NOSUCH-EQ")
    [fill] = _place(kite_sim, kite_account, unknown)
    assert fill.status == "REJECTED" and "not in Kite's instrument list" in fill.text
    assert _at_broker(kite_sim, intent) == [] and _at_broker(kite_sim, unknown) == []


def test_an_expired_session_refuses_with_the_way_to_log_in_and_reports_it(kite_sim,
                                                                         kite_account):
    """The executor turns the refusal (an AccountError) into the order's rejection."""
    reports = []
    session = _session(kite_sim, kite_account, health=lambda a, p: reports.append(p))
    second = _intent()

    async def scenario():
        broker = KiteBroker(session, Master(session))
        first = await broker.execute(_intent(), None, int(time.time() * 1000))
        kite_sim.faults(expire_sessions=True)
        with pytest.raises(LoginFailed) as refused:
            await broker.execute(second, None, int(time.time() * 1000))
        with pytest.raises(LoginFailed):        # and it stays refused, without asking Kite
            await session.ensure()
        return first, str(refused.value)
    first, words = asyncio.run(scenario())
    assert first == [] and words == ("Kite refused the session's token; log in again: "
                                     "pinewire account login zerodha")
    assert reports == [None, words] and _at_broker(kite_sim, second) == []


def test_a_token_from_before_six_has_expired(kite_sim, kite_account):
    session = _session(kite_sim, kite_account)
    yesterday = int(time.time() * 1000) - 24 * 3600 * 1000
    session.creds = AppCredentials(**{**session.creds.__dict__, "token_at_ms": yesterday})
    with pytest.raises(LoginFailed, match="expired at 06:00 IST; log in again"):
        asyncio.run(session.ensure())


def _listen(sim, account, intents_and_faults, ws_url=None, poll_interval_s=1.0):
    """Run the order-update listener while placing orders; the fills it emitted."""
    session = _session(sim, account)
    master = Master(session)
    broker = KiteBroker(session, master)
    fills = []

    async def emit(fill):
        fills.append(fill)

    async def scenario():
        listener = KiteOrderUpdates(session, master, ws_url or sim.ws_url, emit, poll_interval_s)
        task = asyncio.create_task(listener.run())
        try:
            if ws_url is None:
                await asyncio.wait_for(listener.connected.wait(), 10)
            for intent, faults in intents_and_faults:
                if faults:
                    sim.faults(**faults)
                await broker.execute(intent, None, int(time.time() * 1000))
            expected = {i.client_order_id for i, _ in intents_and_faults}
            await until(lambda: expected <= {f.client_order_id for f in fills}, 15,
                        "a fill or rejection for every order")
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        return fills
    return asyncio.run(scenario())


def test_fill_rejection_and_partial_fill_from_the_order_stream(kite_sim, kite_account):
    kite_sim.price("3045", "805")
    full, rejected = _intent(qty=4), _intent(qty=2)
    partial = _intent(qty=10, token="1660", symbol="ITC-EQ")
    fills = _listen(kite_sim, kite_account, [
        (full, None), (rejected, {"reject": 1}), (partial, {"partial_qty": 3, "partial_count": 1})])
    by_order = {i.client_order_id: [(f.status, f.quantity) for f in fills
                                    if f.client_order_id == i.client_order_id]
                for i in (full, rejected, partial)}
    assert by_order == {full.client_order_id: [("FILLED", 4)],
                        rejected.client_order_id: [("REJECTED", 0)],
                        partial.client_order_id: [("FILLED", 3), ("REJECTED", 0)]}
    [rej] = [f for f in fills if f.client_order_id == rejected.client_order_id]
    assert rej.text.startswith("Insufficient funds")
    [filled] = [f for f in fills if f.client_order_id == full.client_order_id]
    assert (filled.price_paise, filled.token, filled.position_id) == (80500, "3045",
                                                                      full.position_id)


def test_order_book_polling_brings_fills_while_the_socket_is_down(kite_sim, kite_account):
    intent = _intent(qty=2)
    fills = _listen(kite_sim, kite_account, [(intent, None)],
                    ws_url=f"ws://127.0.0.1:{free_port()}", poll_interval_s=1.1)
    assert [(f.status, f.quantity) for f in fills
            if f.client_order_id == intent.client_order_id] == [("FILLED", 2)]


def test_a_dropped_socket_reconnects_and_misses_no_fill(kite_sim, kite_account):
    session = _session(kite_sim, kite_account)
    master = Master(session)
    fills = []

    async def emit(fill):
        fills.append(fill)

    async def scenario():
        listener = KiteOrderUpdates(session, master, kite_sim.ws_url, emit, poll_interval_s=30)
        task = asyncio.create_task(listener.run())
        try:
            await asyncio.wait_for(listener.connected.wait(), 10)
            assert kite_sim.drop_streams() >= 1
            await until(lambda: not listener.connected.is_set(), 10, "the drop to be seen")
            intent = _intent(qty=3)       # placed while the socket is down
            await KiteBroker(session, master).execute(intent, None, int(time.time() * 1000))
            await until(lambda: any(f.client_order_id == intent.client_order_id for f in fills),
                        20, "the fill, caught up on reconnecting")
            return intent
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
    intent = asyncio.run(scenario())
    assert [(f.status, f.quantity) for f in fills
            if f.client_order_id == intent.client_order_id] == [("FILLED", 3)]


def test_an_entry_still_open_is_cancelled_before_its_exit(kite_sim, kite_account):
    kite_sim.price("3045", "805")
    entry = _intent(qty=2, order_type="LIMIT", price=70000)         # rests below the market
    session = _session(kite_sim, kite_account)
    _place(kite_sim, kite_account, entry, session=session)
    exit_ = OrderIntent(**{**_intent(qty=2, side="SELL").asdict(),
                           "cancel_client_order_id": entry.client_order_id})
    assert _place(kite_sim, kite_account, exit_, session=session) == []
    [rest] = _at_broker(kite_sim, entry)
    assert rest["status"] == "CANCELLED" and len(_at_broker(kite_sim, exit_)) == 1
