"""Broker-side stop rules, each adapter against its simulator through the broker's own SDK:
Kite's GTT (stop and target, OCO), Angel One's GTT rule and Upstox's GTT order (the stop only;
the target stays pinewire's). A rule is placed, moved, found again by a redelivered placement
and cancelled by pinewire's exit; a rule that fired is told — Kite and Upstox name its order
(Upstox until it forgets a completed rule), Angel One never does — the exit then places
nothing, and the rule watcher finds the fired rule's order in the book either way. Through the
pipeline: test_broker_stops.py."""
import asyncio
import time

import pytest

from agents.rule_watch import Protected, rule_orders
from connectors.broker import RULE_FIRED
from connectors.credentials import Credentials
from connectors.live import open_account
from connectors.ratelimit import RateLimiter
from connectors.smartapi.ratelimit import LIMITS as SMARTAPI_LIMITS
from schemas.records import OrderIntent
from schemas.settings import Settings
from tests.integration.harness import wait_until
from tests.integration.test_broker_faults import Broker, _intent

pytestmark = pytest.mark.one_kafka_broker
TOKEN, SYMBOL = "1394", "HINDUNILVR"
SMARTAPI_LIMITER = RateLimiter(SMARTAPI_LIMITS)   # as in the workers: one for every session


def _settings(sim) -> Settings:
    return Settings(**{k.removeprefix("PINEWIRE_").lower(): v for k, v in sim.env().items()})


@pytest.fixture(params=["kite", "smartapi", "upstox"])
def rules_broker(request):
    """(broker kind, its simulator, a live account opened as the workers open it)."""
    kind = request.param
    if kind == "smartapi":
        sim, account = request.getfixturevalue("smartapi_sim"), \
            request.getfixturevalue("sim_account")
        creds = Credentials(account_id="acct", client_code=account.client_code,
                            api_key=account.api_key, pin=account.pin,
                            totp_secret=account.totp_secret)
        live = open_account(creds, _settings(sim), _ignore, lambda a, p: None)
        live.session.limiter = SMARTAPI_LIMITER
    else:
        sim = request.getfixturevalue(f"{kind}_sim")
        live = Broker(kind, sim, request.getfixturevalue(f"{kind}_account"), _settings(sim),
                      "", "").open()[0]
    yield kind, sim, live


async def _ignore(fill):
    pass


def rule_at_broker(kind: str, sim, rule_id: str) -> dict:
    """A rule as its simulator keeps it: state (active, fired, cancelled), triggers in rupees,
    and the quantity and side of the order(s) it places."""
    if kind == "kite":
        rule = next(r for r in sim.http.get("/sim/gtts").json() if str(r["id"]) == rule_id)
        return {"state": {"triggered": "fired", "deleted": "cancelled"}.get(rule["status"],
                                                                            rule["status"]),
                "triggers": rule["condition"]["trigger_values"],
                "orders": [(o["quantity"], o["transaction_type"]) for o in rule["orders"]]}
    rule = next(r for r in sim.http.get("/sim/stop-rules").json() if r["rule_id"] == rule_id)
    return {"state": {"triggered": "fired"}.get(rule["status"], rule["status"]),
            "triggers": [rule["trigger_paise"] / 100],
            "orders": [(int(rule["order"]["quantity"]), rule["order"]["transactiontype"])]}


def _protect(qty=10, stop=239580, target=254100, rule_id=None, age_ms=0) -> OrderIntent:
    base = _intent(qty=qty, token=TOKEN, symbol=f"{SYMBOL}-EQ", side="SELL", age_ms=age_ms)
    return OrderIntent(**{**base.asdict(), "purpose": "PROTECT",
                          "client_order_id": base.position_id + "P1", "stop_paise": stop,
                          "target_paise": target, "rule_id": rule_id})


def _exit(rule_id) -> OrderIntent:
    return OrderIntent(**{**_intent(qty=10, token=TOKEN, symbol=f"{SYMBOL}-EQ",
                                    side="SELL").asdict(),
                          "purpose": "EXIT", "cancel_rule_id": rule_id})


def _tag(order: dict) -> str:
    return order.get("tag") or order.get("ordertag") or ""


def _untagged_sells(sim) -> list[dict]:
    return [o for o in sim.orders() if not _tag(o)
            and (o.get("transactiontype") or o.get("transaction_type")) == "SELL"]


def test_a_rule_is_placed_moved_found_again_and_cancelled(rules_broker):
    kind, sim, live = rules_broker
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
    rule = rule_at_broker(kind, sim, placed.broker_order_id)
    # Kite's rule holds the moved stop and the target; the others the moved stop only
    assert (rule["triggers"], rule["orders"]) == (
        ([2400.0, 2541.0], [(10, "SELL")] * 2) if kind == "kite" else
        ([2400.0], [(10, "SELL")]))
    assert again[0].broker_order_id == placed.broker_order_id, \
        "a redelivered placement finds the rule instead of placing a second"
    assert cancelled == "cancelled" and rule["state"] == "cancelled"


@pytest.mark.parametrize("rules_broker", ["smartapi", "upstox"], indirect=True)
def test_without_a_stop_angel_one_and_upstox_get_no_rule_and_say_why(rules_broker):
    kind, sim, live = rules_broker
    [answer] = asyncio.run(live.broker.execute(_protect(stop=None), None,
                                               int(time.time() * 1000)))
    assert answer.status == "REJECTED" and "needs a stop-loss" in answer.text


def test_a_fired_rule_is_told_its_order_found_and_the_exit_places_nothing(rules_broker):
    kind, sim, live = rules_broker
    sim.price(TOKEN, "2420")
    before = len(_untagged_sells(sim))
    [placed] = asyncio.run(live.broker.execute(_protect(stop=239580, target=None), None,
                                               int(time.time() * 1000)))
    rule_id = placed.broker_order_id
    sim.price(TOKEN, "2390")                              # the stop fires at the broker
    assert rule_at_broker(kind, sim, rule_id)["state"] == "fired"
    wait_until(lambda: [o["status"].lower() for o in _untagged_sells(sim)[before:]] ==
               ["complete"], 10, "the rule's order to fill at the broker")
    exit_ = _exit(rule_id)

    async def scenario():
        state = await live.broker.rule_state(rule_id)
        fills = await live.broker.execute(exit_, None, int(time.time() * 1000))
        return state, fills, await live.updates.book()
    state, fills, book = asyncio.run(scenario())
    assert state.status == "triggered"
    assert [f.status for f in fills] == [RULE_FIRED] and \
        [o for o in sim.orders() if _tag(o) == exit_.client_order_id] == [], \
        "the rule's order exits, not pinewire"
    [rule_order] = _untagged_sells(sim)[before:]
    rule_order_id = rule_order.get("orderid") or rule_order["order_id"]
    # Angel One never names the order; Upstox no longer returns its completed rule
    assert state.order_id == (rule_order_id if kind == "kite" else None)
    protecting = {rule_id: Protected(placed.position_id, TOKEN, "SELL", 10)}
    earlier = {o.get("orderid") or o["order_id"] for o in _untagged_sells(sim)[:before]}
    assert rule_orders([state], protecting, book, earlier) == \
        {rule_order_id: placed.position_id}, "not an earlier rule's order, which the ledger has"
