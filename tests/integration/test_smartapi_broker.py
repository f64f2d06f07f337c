"""The live broker adapter and the order-update listener against the simulator, fault by fault.
Each fault has its assertion about what reached the broker."""
import asyncio
import secrets
import time

import pytest

from connectors.credentials import Credentials
from connectors.smartapi.broker import SmartApiBroker
from connectors.smartapi.orders import SmartApiOrderUpdates as OrderUpdates
from connectors.ratelimit import RateLimiter
from connectors.smartapi.ratelimit import LIMITS
from connectors.smartapi.session import Session
from schemas.records import OrderIntent
from tests.integration.harness import free_port, until


def _session(sim, account, timeout_s=2.0) -> Session:
    creds = Credentials(account_id="acct", client_code=account.client_code,
                        api_key=account.api_key, pin=account.pin, totp_secret=account.totp_secret)
    return Session(creds, sim.root, timeout_s, limiter=RateLimiter(LIMITS))


def _intent(qty=5, token="3045", symbol="SBIN-EQ", side="BUY", product="INTRADAY", age_ms=0):
    pid = secrets.token_hex(8)
    return OrderIntent(client_order_id=f"{pid}E0", position_id=pid, link_id="L",
                       purpose="ENTRY", side=side, quantity=qty, token=token, symbol=symbol,
                       exchange="NSE", paper=False, created_at_ms=int(time.time() * 1000) - age_ms,
                       account_id="acct", product_type=product)


def _at_broker(sim, intent) -> list[dict]:
    return [o for o in sim.orders() if o["ordertag"] == intent.client_order_id]


def _place(sim, account, intent, timeout_s=2.0, maybe_placed=False):
    broker = SmartApiBroker(_session(sim, account, timeout_s))
    return asyncio.run(broker.execute(intent, None, int(time.time() * 1000), maybe_placed))


@pytest.fixture(autouse=True)
def no_faults(smartapi_sim):
    yield
    smartapi_sim.faults(place_5xx=0, place_timeout=0, rate_limit=0, reject=0, partial_count=0,
                        expire_sessions=False)


def test_order_carries_the_right_fields_and_ordertag(smartapi_sim, sim_account):
    intent = _intent(qty=7)
    fills = _place(smartapi_sim, sim_account, intent)
    [order] = _at_broker(smartapi_sim, intent)
    assert fills == []
    assert (order["tradingsymbol"], order["symboltoken"], order["transactiontype"],
            order["ordertype"], order["producttype"], order["quantity"], order["exchange"]) == \
        ("SBIN-EQ", "3045", "BUY", "MARKET", "INTRADAY", "7", "NSE")


@pytest.mark.parametrize("faults,timeout_s", [
    ({"place_5xx": 2}, 2.0),                         # 5xx, then success
    ({"place_timeout": 1, "timeout_s": 2.0}, 0.5),   # timed out after the broker accepted
    ({"rate_limit": 3}, 2.0),                        # 403 rate-limit pages, backoff
], ids=["5xx-then-success", "timeout-after-accept-reconciled", "rate-limit-backoff"])
def test_fault_then_exactly_one_order(smartapi_sim, sim_account, faults, timeout_s):
    smartapi_sim.faults(**faults)
    intent = _intent()
    fills = _place(smartapi_sim, sim_account, intent, timeout_s=timeout_s)
    assert fills == [] and len(_at_broker(smartapi_sim, intent)) == 1


def test_redelivered_old_intent_finds_its_order_and_does_not_place_again(smartapi_sim,
                                                                         sim_account):
    intent = _intent()
    _place(smartapi_sim, sim_account, intent)
    redelivered = OrderIntent(**{**intent.asdict(), "created_at_ms": intent.created_at_ms - 60_000})
    fills = _place(smartapi_sim, sim_account, redelivered)
    assert fills == [] and len(_at_broker(smartapi_sim, intent)) == 1


def test_redelivery_after_a_crash_mid_placement_does_not_place_again(smartapi_sim,
                                                                      sim_account):
    intent = _intent()
    _place(smartapi_sim, sim_account, intent)      # placed; the crash lost the executor's record
    fills = _place(smartapi_sim, sim_account, intent, maybe_placed=True)
    assert fills == [] and len(_at_broker(smartapi_sim, intent)) == 1


def test_refused_order_is_a_rejection_with_the_broker_text_and_never_retried(smartapi_sim,
                                                                             sim_account):
    intent = _intent(product="BOGUS")
    fills = _place(smartapi_sim, sim_account, intent)
    assert [(f.status, f.text) for f in fills] == [("REJECTED", "Invalid Product Type (AB1012)")]
    assert _at_broker(smartapi_sim, intent) == []


def test_session_expiry_gets_fresh_tokens_and_the_order_goes_through(smartapi_sim, sim_account):
    for shape in ("alternate", "envelope"):
        session = _session(smartapi_sim, sim_account)
        broker = SmartApiBroker(session)

        async def scenario():
            await session.ensure()
            before = session.client.access_token
            smartapi_sim.faults(expire_sessions=True, expiry_shape=shape)
            intent = _intent()
            fills = await broker.execute(intent, None, int(time.time() * 1000))
            return before, session.client.access_token, intent, fills
        before, after, intent, fills = asyncio.run(scenario())
        assert fills == [] and before != after, shape
        assert len(_at_broker(smartapi_sim, intent)) == 1


def _listen(sim, account, intents_and_faults, ws_url=None, poll_interval_s=1.0):
    """Run the order-update listener while placing orders; return the fills it emitted."""
    session = _session(sim, account)
    broker = SmartApiBroker(session)
    fills = []

    async def emit(fill):
        fills.append(fill)

    async def scenario():
        listener = OrderUpdates(session, ws_url or sim.order_ws_url, emit, poll_interval_s)
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


def test_fill_rejection_and_partial_fill_from_the_order_stream(smartapi_sim, sim_account):
    full, rejected, partial = _intent(qty=4), _intent(qty=2), _intent(qty=10, token="1660",
                                                                       symbol="ITC-EQ")
    fills = _listen(smartapi_sim, sim_account, [
        (full, None), (rejected, {"reject": 1}), (partial, {"partial_qty": 3, "partial_count": 1})])
    by_order = {i.client_order_id: [(f.status, f.quantity) for f in fills
                                    if f.client_order_id == i.client_order_id]
                for i in (full, rejected, partial)}
    assert by_order[full.client_order_id] == [("FILLED", 4)]
    assert by_order[rejected.client_order_id] == [("REJECTED", 0)]
    assert by_order[partial.client_order_id] == [("FILLED", 3), ("REJECTED", 0)]
    [rej] = [f for f in fills if f.client_order_id == rejected.client_order_id]
    assert rej.text.startswith("RMS:Margin Exceeds")
    [filled] = [f for f in fills if f.client_order_id == full.client_order_id]
    assert filled.price_paise == 80500 and filled.position_id == full.position_id


def test_order_book_polling_brings_fills_while_the_socket_is_down(smartapi_sim, sim_account):
    intent = _intent(qty=2)
    fills = _listen(smartapi_sim, sim_account, [(intent, None)],
                    ws_url=f"ws://127.0.0.1:{free_port()}/smart-order-update",
                    poll_interval_s=1.1)
    assert [(f.status, f.quantity) for f in fills if f.client_order_id ==
            intent.client_order_id] == [("FILLED", 2)]


def test_a_new_day_logs_in_again(smartapi_sim, sim_account):
    session = _session(smartapi_sim, sim_account)

    async def scenario():
        await session.ensure()
        first = session.client
        await session.ensure()
        same = session.client is first
        session.login_day = "2000-01-01"          # the session is from before midnight
        await session.ensure()
        return same, session.client is not first and session.client.access_token
    same, fresh = asyncio.run(scenario())
    assert same and fresh
