"""Broker-side stop rules on Angel One (GTT) and Upstox (GTT), each adapter against its
simulator through the broker's own SDK: a rule placed at the position's stop (the target stays
pinewire's), moved, found again by a redelivered placement, cancelled by pinewire's exit; a
rule that fired is told — Upstox by the order it names until it forgets a completed rule, Angel
One never naming it — and the exit then places nothing; the rule watcher finds the fired
rule's order in the book either way. (Kite's GTT: test_broker_stops.py.)"""
import asyncio
import time

import pytest

from agents.rule_watch import Protected, rule_orders
from connectors.credentials import Credentials
from connectors.live import open_account
from connectors.ratelimit import RateLimiter
from connectors.smartapi.ratelimit import LIMITS as SMARTAPI_LIMITS
from schemas.records import OrderIntent
from schemas.settings import Settings
from tests.integration.harness import wait_until
from tests.integration.test_broker_faults import Broker, _intent
from tests.integration.test_broker_stops import _protect

pytestmark = pytest.mark.one_kafka_broker
TOKEN, SYMBOL = "1394", "HINDUNILVR"
SMARTAPI_LIMITER = RateLimiter(SMARTAPI_LIMITS)   # as in the workers: one for every session


def _settings(sim) -> Settings:
    return Settings(**{k.removeprefix("PINEWIRE_").lower(): v for k, v in sim.env().items()})


@pytest.fixture(params=["smartapi", "upstox"])
def rules_broker(request):
    """(the simulator, a live account opened as the workers open it)."""
    if request.param == "upstox":
        sim = request.getfixturevalue("upstox_sim")
        broker = Broker("upstox", sim, request.getfixturevalue("upstox_account"),
                        _settings(sim), "Insufficient funds", "D")
        yield sim, broker.open()[0]
        return
    sim, account = request.getfixturevalue("smartapi_sim"), request.getfixturevalue("sim_account")
    creds = Credentials(account_id="acct", client_code=account.client_code,
                        api_key=account.api_key, pin=account.pin, totp_secret=account.totp_secret)
    live = open_account(creds, _settings(sim), _ignore, lambda a, p: None)
    live.session.limiter = SMARTAPI_LIMITER
    yield sim, live


async def _ignore(fill):
    pass


def _rule(sim, rule_id) -> dict:
    return next(r for r in sim.http.get("/sim/stop-rules").json() if r["rule_id"] == rule_id)


def _exit(rule_id) -> OrderIntent:
    return OrderIntent(**{**_intent(qty=10, token=TOKEN, symbol=f"{SYMBOL}-EQ",
                                    side="SELL").asdict(),
                          "purpose": "EXIT", "cancel_rule_id": rule_id})


def _untagged_sells(sim) -> list[dict]:
    return [o for o in sim.orders() if not (o.get("ordertag") or o.get("tag"))
            and (o.get("transactiontype") or o.get("transaction_type")) == "SELL"]


def test_a_rule_is_placed_at_the_stop_moved_found_again_and_cancelled(rules_broker):
    sim, live = rules_broker
    sim.price(TOKEN, "2420")
    now = int(time.time() * 1000)

    async def scenario():
        [placed] = await live.broker.execute(_protect(), None, now)
        rule = placed.broker_order_id
        [moved] = await live.broker.execute(_protect(stop=240000, rule_id=rule), None, now)
        again = await live.broker.execute(_protect(stop=240000, age_ms=60_000), None, now)
        return placed, moved, again, await live.broker.cancel_rule(rule)
    placed, moved, again, cancelled = asyncio.run(scenario())
    assert placed.status == "PROTECTED", placed.text
    assert moved.broker_order_id == placed.broker_order_id
    rule = _rule(sim, placed.broker_order_id)
    assert (rule["trigger_paise"], rule["from_above"], rule["order"]["quantity"],
            rule["order"]["transactiontype"]) == (240000, True, "10", "SELL"), \
        "one trigger, at the moved stop; the target is pinewire's"
    assert again[0].broker_order_id == placed.broker_order_id, \
        "a redelivered placement finds the rule instead of placing a second"
    assert cancelled == "cancelled" and rule["status"] == "cancelled"


def test_a_link_without_a_stop_gets_no_rule_and_says_why(rules_broker):
    sim, live = rules_broker
    [answer] = asyncio.run(live.broker.execute(_protect(stop=None), None,
                                               int(time.time() * 1000)))
    assert answer.status == "REJECTED" and "needs a stop-loss" in answer.text


def test_a_fired_rule_is_told_its_order_found_and_the_exit_places_nothing(rules_broker):
    sim, live = rules_broker
    sim.price(TOKEN, "2420")
    before = len(_untagged_sells(sim))
    [placed] = asyncio.run(live.broker.execute(_protect(stop=239580, target=None), None,
                                               int(time.time() * 1000)))
    rule_id = placed.broker_order_id
    sim.price(TOKEN, "2390")                              # the stop fires at the broker
    assert _rule(sim, rule_id)["status"] == "triggered"
    wait_until(lambda: [o["status"] for o in _untagged_sells(sim)[before:]] == ["complete"],
               10, "the rule's order to fill at the broker")
    exit_ = _exit(rule_id)

    async def scenario():
        state = await live.broker.rule_state(rule_id)
        fills = await live.broker.execute(exit_, None, int(time.time() * 1000))
        return state, fills, await live.updates.book()
    state, fills, book = asyncio.run(scenario())
    assert state.status == "triggered"
    assert fills == [] and [o for o in sim.orders() if
                            (o.get("ordertag") or o.get("tag")) == exit_.client_order_id] == [], \
        "the rule's order exits, not pinewire"
    [rule_order] = _untagged_sells(sim)[before:]
    protecting = {rule_id: Protected(placed.position_id, TOKEN, "SELL", 10)}
    assert rule_orders([state], protecting, book, set()) == \
        {rule_order.get("orderid") or rule_order["order_id"]: placed.position_id}
