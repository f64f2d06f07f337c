"""The Kite and Upstox adapters against their simulators, fault by fault: 5xx, a timeout after
the broker accepted, rate limits, refusals, rejections and partial fills from the order
stream, a dropped socket (the order book is polled), redeliveries, an expired session, an open
entry cancelled before its exit. Each fault has its assertion about what reached the broker:
exactly one order per intent. (SmartAPI's own: test_smartapi_broker.py.)"""
import asyncio
import secrets
import socket
import threading
import time
from dataclasses import dataclass

import pytest

from connectors.credentials import AppCredentials, LoginFailed
from connectors.live import complete_login, open_account
from connectors.ratelimit import RateLimiter
from schemas.records import OrderIntent
from schemas.settings import Settings
from tests.integration.harness import free_port, until


@dataclass
class Broker:
    """One broker's simulator, account and words, as these tests need them."""
    kind: str
    sim: object
    account: object
    settings: Settings
    reject_text: str          # how its RMS words a rejection
    product: str              # its word for a delivery order

    def redirect(self) -> str:
        return self.sim.redirect_after_login(
            self.account.api_key if self.kind == "kite" else self.account)

    def credentials(self) -> AppCredentials:
        blank = AppCredentials(account_id="acct", client_code="", broker=self.kind,
                               api_key=self.account.api_key,
                               api_secret=self.account.api_secret,
                               redirect_uri=getattr(self.account, "redirect_uri", ""))
        access, user = complete_login(blank, self.redirect(), self.settings)
        return AppCredentials(**{**blank.__dict__, "client_code": user, "access_token": access,
                                 "token_at_ms": int(time.time() * 1000)})

    def open(self, timeout_s: float = 2.0, health=None, ws_url: str | None = None,
             root: str | None = None):
        """A fresh login; (session, broker, order updates) as the workers open them. root:
        where the calls after the login go (the simulator's by default)."""
        settings = self.settings.model_copy(update={
            f"{self.kind}_timeout_s": timeout_s,
            **({f"{self.kind}_root": root} if root else {})})
        fills = []

        async def emit(fill):
            fills.append(fill)
        live = open_account(self.credentials(), settings, emit, health or (lambda a, p: None),
                            "zerodha" if self.kind == "kite" else "upstox")
        from connectors.kite.ratelimit import LIMITS as KITE
        from connectors.upstox.ratelimit import LIMITS as UPSTOX
        live.session.limiter = RateLimiter(KITE if self.kind == "kite" else UPSTOX)
        if ws_url is not None:
            live.updates.ws_root = ws_url
        return live, fills

    def at_broker(self, intent) -> list[dict]:
        return [o for o in self.sim.orders() if o["tag"] == intent.client_order_id]


@pytest.fixture(params=["kite", "upstox"])
def broker(request) -> Broker:
    if request.param == "kite":
        sim, account = request.getfixturevalue("kite_sim"), request.getfixturevalue("kite_account")
        settings = Settings(**{k.removeprefix("PINEWIRE_").lower(): v
                               for k, v in sim.env().items()})
        yield Broker("kite", sim, account, settings, "Insufficient funds", "CNC")
    else:
        sim = request.getfixturevalue("upstox_sim")
        account = request.getfixturevalue("upstox_account")
        settings = Settings(**{k.removeprefix("PINEWIRE_").lower(): v
                               for k, v in sim.env().items()})
        yield Broker("upstox", sim, account, settings, "Insufficient funds", "D")
    sim.faults(place_5xx=0, place_timeout=0, rate_limit=0, reject=0, partial_count=0,
               partial_open_count=0, expire_sessions=False, refuse_streams=False)


def _intent(qty=5, token="3045", symbol="SBIN-EQ", side="BUY", product="INTRADAY", age_ms=0,
            order_type="MARKET", price=None):
    pid = secrets.token_hex(8)
    return OrderIntent(client_order_id=f"{pid}E0", position_id=pid, link_id="L",
                       purpose="ENTRY", side=side, quantity=qty, token=token, symbol=symbol,
                       exchange="NSE", paper=False, created_at_ms=int(time.time() * 1000) - age_ms,
                       account_id="acct", product_type=product, order_type=order_type,
                       reference_price_paise=price)


def _place(broker: Broker, intent, timeout_s=2.0, maybe_placed=False, live=None):
    live = live or broker.open(timeout_s)[0]
    return asyncio.run(live.broker.execute(intent, None, int(time.time() * 1000), maybe_placed))


@pytest.fixture
def silent_server():
    """A server on loopback that takes every connection and never answers."""
    server = socket.create_server(("127.0.0.1", 0))
    held, stop = [], threading.Event()

    def hold():
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except OSError:
                continue
    thread = threading.Thread(target=hold, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}"
    stop.set()
    thread.join(5)
    for conn in held:
        conn.close()
    server.close()


def test_a_broker_that_never_answers_gives_up_at_the_deadline(broker, silent_server):
    """Every call has a deadline that works: with the broker holding its answer for ever, a
    call raises (the caller then looks for the order by its tag) instead of holding the
    account's lane. 30 s is only this test's own bound."""
    live, _ = broker.open(timeout_s=1.0, root=silent_server)

    async def scenario():
        call = asyncio.ensure_future(live.updates.book())
        done, _ = await asyncio.wait({call}, timeout=30)
        if not done:
            call.cancel()
            return None
        return call.exception()
    loop = asyncio.new_event_loop()      # closed without waiting for a call still hanging
    try:
        raised = loop.run_until_complete(scenario())
    finally:
        loop.close()
    assert raised is not None, "the call was still waiting after 30 s: no deadline"


def test_an_order_carries_the_brokers_fields_and_the_tag(broker):
    intent = _intent(qty=7, product="DELIVERY")
    assert _place(broker, intent) == []
    [order] = broker.at_broker(intent)
    assert (order["transaction_type"], order["order_type"], order["quantity"],
            order["product"]) == ("BUY", "MARKET", 7, broker.product)
    assert order.get("tradingsymbol") == "SBIN"


@pytest.mark.parametrize("faults,timeout_s", [
    ({"place_5xx": 2}, 2.0),                         # the gateway's 502 page, then success
    ({"place_timeout": 1, "timeout_s": 2.0}, 0.5),   # timed out after the broker accepted
    ({"rate_limit": 3}, 2.0),                        # 429 Too many requests, backoff
], ids=["5xx-then-success", "timeout-after-accept-reconciled", "rate-limit-backoff"])
def test_fault_then_exactly_one_order(broker, faults, timeout_s):
    broker.sim.faults(**faults)
    intent = _intent()
    assert _place(broker, intent, timeout_s=timeout_s) == []
    assert len(broker.at_broker(intent)) == 1


def test_redeliveries_find_their_order_and_do_not_place_again(broker):
    intent = _intent()
    live = broker.open()[0]
    _place(broker, intent, live=live)
    old = OrderIntent(**{**intent.asdict(), "created_at_ms": intent.created_at_ms - 60_000})
    assert _place(broker, old, live=live) == []
    assert _place(broker, intent, maybe_placed=True, live=live) == []
    assert len(broker.at_broker(intent)) == 1


def test_a_refused_order_is_a_rejection_in_the_brokers_words_never_retried(broker):
    live = broker.open()[0]
    unknown = _intent(token="999999", symbol="NOSUCH-EQ")
    [fill] = _place(broker, unknown, live=live)
    assert fill.status == "REJECTED" and "instrument list" in fill.text
    limit = _intent(order_type="LIMIT", price=0)          # a limit order needs a price
    [fill] = _place(broker, limit, live=live)
    assert fill.status == "REJECTED" and "price" in fill.text.lower()
    assert broker.at_broker(unknown) == [] and broker.at_broker(limit) == []


def test_an_expired_session_refuses_with_the_way_to_log_in_and_reports_it(broker):
    """The executor turns the refusal (an AccountError) into the order's rejection."""
    reports = []
    live = broker.open(health=lambda a, p: reports.append(p))[0]
    second = _intent()
    name = "zerodha" if broker.kind == "kite" else "upstox"
    words = {"kite": "Kite", "upstox": "Upstox"}[broker.kind]

    async def scenario():
        first = await live.broker.execute(_intent(), None, int(time.time() * 1000))
        broker.sim.faults(expire_sessions=True)
        with pytest.raises(LoginFailed) as refused:
            await live.broker.execute(second, None, int(time.time() * 1000))
        with pytest.raises(LoginFailed):        # and it stays refused, without asking again
            await live.session.ensure()
        return first, str(refused.value)
    first, refused = asyncio.run(scenario())
    assert first == [] and refused == (f"{words} refused the session's token; log in again: "
                                       f"pinewire account login {name}")
    assert reports == [None, refused] and broker.at_broker(second) == []


def test_a_token_from_yesterday_has_expired(broker):
    live = broker.open()[0]
    yesterday = int(time.time() * 1000) - 24 * 3600 * 1000
    live.session.creds = AppCredentials(**{**live.session.creds.__dict__,
                                           "token_at_ms": yesterday})
    ends = "06:00" if broker.kind == "kite" else "03:30"
    with pytest.raises(LoginFailed, match=f"expired at {ends} IST; log in again"):
        asyncio.run(live.session.ensure())


def _listen(broker: Broker, intents_and_faults, ws_url=None, poll_interval_s=1.0,
            stream_down=False):
    """Run the order-update listener while placing orders; the fills it emitted. stream_down:
    its socket cannot connect (do not wait for it)."""
    live, fills = broker.open(ws_url=ws_url)
    live.updates.poll_interval_s = poll_interval_s

    async def scenario():
        task = asyncio.create_task(live.updates.run())
        try:
            if not stream_down:
                await asyncio.wait_for(live.updates.connected.wait(), 10)
            for intent, faults in intents_and_faults:
                if faults:
                    broker.sim.faults(**faults)
                await live.broker.execute(intent, None, int(time.time() * 1000))
            expected = {i.client_order_id for i, _ in intents_and_faults}
            await until(lambda: expected <= {f.client_order_id for f in fills}, 15,
                        "a fill or rejection for every order")
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
    asyncio.run(scenario())
    return fills


def test_fill_rejection_and_partial_fill_from_the_order_stream(broker):
    broker.sim.price("3045", "805")
    full, rejected = _intent(qty=4), _intent(qty=2)
    partial = _intent(qty=10, token="1660", symbol="ITC-EQ")
    fills = _listen(broker, [(full, None), (rejected, {"reject": 1}),
                             (partial, {"partial_qty": 3, "partial_count": 1})])
    by_order = {i.client_order_id: [(f.status, f.quantity) for f in fills
                                    if f.client_order_id == i.client_order_id]
                for i in (full, rejected, partial)}
    assert by_order == {full.client_order_id: [("FILLED", 4)],
                        rejected.client_order_id: [("REJECTED", 0)],
                        partial.client_order_id: [("FILLED", 3), ("REJECTED", 0)]}
    [rej] = [f for f in fills if f.client_order_id == rejected.client_order_id]
    assert rej.text.startswith(broker.reject_text)
    [filled] = [f for f in fills if f.client_order_id == full.client_order_id]
    assert (filled.price_paise, filled.token, filled.position_id) == (80500, "3045",
                                                                      full.position_id)


def test_order_book_polling_brings_fills_while_the_socket_is_down(broker):
    intent = _intent(qty=2)
    dead = None
    if broker.kind == "upstox":       # its stream's address comes from the authorize call
        broker.sim.faults(refuse_streams=True)
    else:
        dead = f"ws://127.0.0.1:{free_port()}"
    fills = _listen(broker, [(intent, None)], ws_url=dead, poll_interval_s=1.1,
                    stream_down=True)
    assert [(f.status, f.quantity) for f in fills
            if f.client_order_id == intent.client_order_id] == [("FILLED", 2)]


def test_a_dropped_socket_reconnects_and_misses_no_fill(broker):
    live, fills = broker.open()
    live.updates.poll_interval_s = 30        # only the reconnection's catch-up can bring it

    async def scenario():
        task = asyncio.create_task(live.updates.run())
        try:
            await asyncio.wait_for(live.updates.connected.wait(), 10)
            assert broker.sim.drop_streams() >= 1
            await until(lambda: not live.updates.connected.is_set(), 10, "the drop to be seen")
            intent = _intent(qty=3)       # placed while the socket is down
            await live.broker.execute(intent, None, int(time.time() * 1000))
            await until(lambda: any(f.client_order_id == intent.client_order_id for f in fills),
                        20, "the fill, caught up on reconnecting")
            return intent
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
    intent = asyncio.run(scenario())
    assert [(f.status, f.quantity) for f in fills
            if f.client_order_id == intent.client_order_id] == [("FILLED", 3)]


def test_an_entry_still_open_is_cancelled_before_its_exit(broker):
    broker.sim.price("3045", "805")
    live = broker.open()[0]
    entry = _intent(qty=2, order_type="LIMIT", price=70000)         # rests below the market
    _place(broker, entry, live=live)
    exit_ = OrderIntent(**{**_intent(qty=2, side="SELL").asdict(),
                           "cancel_client_order_id": entry.client_order_id})
    assert _place(broker, exit_, live=live) == []
    [rest] = broker.at_broker(entry)
    assert rest["status"].lower() == "cancelled" and len(broker.at_broker(exit_)) == 1
