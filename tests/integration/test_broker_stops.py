"""Broker-side stop rules (a live link's --broker-stop gtt). Kite's adapter against its
simulator: it places, moves, finds and cancels a GTT and tells a fired one (Angel One's and
Upstox's: test_broker_stop_rules.py). Through the pipeline, on each of the three brokers: the
rule follows the entry and the trailing stop, pinewire's own exit cancels it first (one exit),
and with the worker down the rule exits at the broker and pinewire, back, records that exit
once (BROKER_STOP). On one Kafka broker: the broker adapters are what is tested."""
import asyncio
import time

import pytest

from schemas import sql
from schemas.records import OrderIntent
from tests.integration.harness import wait_until
from tests.integration.test_broker_faults import Broker, _intent
from tests.integration.test_broker_pipelines import started
from tests.integration.upstox import instrument_key as upstox_key

pytestmark = pytest.mark.one_kafka_broker
TOKEN, SYMBOL = "1394", "HINDUNILVR"


@pytest.fixture
def kite(kite_sim, kite_account) -> Broker:
    from schemas.settings import Settings
    settings = Settings(**{k.removeprefix("PINEWIRE_").lower(): v
                           for k, v in kite_sim.env().items()})
    yield Broker("kite", kite_sim, kite_account, settings, "Insufficient funds", "CNC")
    kite_sim.faults(place_timeout=0)


def _protect(qty=10, stop=239580, target=254100, rule_id=None, age_ms=0) -> OrderIntent:
    base = _intent(qty=qty, token=TOKEN, symbol=f"{SYMBOL}-EQ", side="SELL", age_ms=age_ms)
    return OrderIntent(**{**base.asdict(), "purpose": "PROTECT",
                          "client_order_id": base.position_id + "P1", "stop_paise": stop,
                          "target_paise": target, "rule_id": rule_id})


def _gtt(sim, rule_id) -> dict:
    return next(r for r in sim.http.get("/sim/gtts").json() if str(r["id"]) == str(rule_id))


def test_the_adapter_places_moves_finds_and_cancels_a_gtt(kite):
    kite.sim.price(TOKEN, "2420")
    live = kite.open()[0]
    now = int(time.time() * 1000)

    async def scenario():
        [placed] = await live.broker.execute(_protect(), None, now)
        rule = placed.broker_order_id
        [moved] = await live.broker.execute(_protect(stop=240000, rule_id=rule), None, now)
        again = await live.broker.execute(_protect(stop=240000, age_ms=60_000), None, now)
        return placed, moved, again, await live.broker.cancel_rule(rule)
    placed, moved, again, cancelled = asyncio.run(scenario())
    assert placed.status == "PROTECTED" and moved.broker_order_id == placed.broker_order_id
    rule = _gtt(kite.sim, placed.broker_order_id)
    assert (rule["type"], rule["condition"]["trigger_values"]) == ("two-leg", [2400.0, 2541.0])
    assert [(o["transaction_type"], o["quantity"], o["price"]) for o in rule["orders"]] == [
        ("SELL", 10, 2376.0), ("SELL", 10, 2515.55)]
    assert again[0].broker_order_id == placed.broker_order_id, \
        "a redelivered placement finds the rule instead of placing a second"
    assert cancelled == "cancelled" and rule["status"] == "deleted"


def test_a_fired_rule_is_told_and_the_exit_then_places_nothing(kite):
    kite.sim.price(TOKEN, "2420")
    live = kite.open()[0]
    protect = _protect(stop=239580, target=None)
    [placed] = asyncio.run(live.broker.execute(protect, None, int(time.time() * 1000)))
    kite.sim.price(TOKEN, "2390")                        # the stop fires at the broker
    rule = _gtt(kite.sim, placed.broker_order_id)
    assert rule["status"] == "triggered"
    order_id = rule["orders"][0]["result"]["order_result"]["order_id"]
    exit_ = OrderIntent(**{**_intent(qty=10, token=TOKEN, symbol=f"{SYMBOL}-EQ",
                                     side="SELL").asdict(),
                           "purpose": "EXIT", "cancel_rule_id": placed.broker_order_id})

    async def scenario():
        states = await live.broker.rules()
        return states, await live.broker.execute(exit_, None, int(time.time() * 1000))
    states, fills = asyncio.run(scenario())
    assert [(s.status, s.order_id) for s in states if s.rule_id == placed.broker_order_id] == \
        [("triggered", order_id)]
    assert fills == [] and kite.at_broker(exit_) == [], "the rule's order exits, not pinewire"


@pytest.fixture(scope="module", params=["kite", "smartapi", "upstox"])
def pipeline(request, kafka_url, tmp_path_factory):
    with started(request.param, request, kafka_url, tmp_path_factory,
                 PINEWIRE_BROKER_STOP_EVERY_S="1") as live:
        yield live


def _rule(live, rule_id) -> tuple[str, list[float]]:
    """(state, triggers in rupees) of a rule at the broker: active, fired or cancelled."""
    if live.kind == "kite":
        rule = _gtt(live.sim, rule_id)
        return ({"triggered": "fired", "deleted": "cancelled"}.get(rule["status"],
                                                                   rule["status"]),
                rule["condition"]["trigger_values"])
    rule = next(r for r in live.sim.http.get("/sim/stop-rules").json()
                if r["rule_id"] == rule_id)
    return ({"triggered": "fired"}.get(rule["status"], rule["status"]),
            [rule["trigger_paise"] / 100])


def _open_protected(live, symbol, token, price, **link):
    p = live.p
    live.sim.price(token, price)
    link = p.add_link(paper=False, account_id=live.account["id"], broker_stop="gtt", **link)
    alert = p.alert_row(p.alert(link, "BUY", symbol, price=price))
    assert alert["status"] == "ACCEPTED", alert["reason"]
    pid = alert["position_id"]
    p.position(pid, "OPEN", timeout_s=30)
    [protect] = p.rows_when(sql.orders, sql.orders.c.position_id == pid,
                            sql.orders.c.status == "PROTECTED", count=1, timeout_s=30)
    [answer] = p.rows(sql.fills, sql.fills.c.client_order_id == protect["client_order_id"])
    return link, pid, answer["broker_order_id"]


def _sells(live, token, since: int) -> list[tuple[str, str]]:
    """(tag, status) of the SELL orders on the instrument among the simulator's orders from
    the since-th on, whatever the broker's field names."""
    field, key = {"kite": ("instrument_token", str(int(token) << 8 | 1)),
                  "smartapi": ("symboltoken", token),
                  "upstox": ("instrument_token", upstox_key(token))}[live.kind]
    return [(o.get("tag") or o.get("ordertag") or "", o["status"].upper())
            for o in live.sim.orders()[since:]
            if str(o.get(field)) == key and
            (o.get("transaction_type") or o.get("transactiontype")) == "SELL"]


def test_pinewire_exits_first_its_rule_is_cancelled_and_one_exit_is_made(pipeline):
    live = pipeline
    since = len(live.sim.orders())
    link, pid, rule_id = _open_protected(live, "ITC", "1660", "410", sl_pct="1",
                                         target_pct="3.3")
    # Kite's rule holds both levels; Angel One's and Upstox's the stop only
    assert _rule(live, rule_id) == ("active", [405.9, 423.55] if live.kind == "kite" else
                                    [405.9])
    # pinewire's target is 423.53; Kite's rule's, on the tick above, 423.55: pinewire first
    wait_until(lambda: live.sim.price("1660", "423.54") or live.p.rows(
        sql.positions, sql.positions.c.id == pid)[0]["state"] != "OPEN", 30,
        "pinewire's target exit", interval_s=0.3)
    closed = live.p.position(pid, "CLOSED", timeout_s=30)
    assert closed["exit_reason"] == "TARGET"
    assert _rule(live, rule_id)[0] == "cancelled"
    assert [tag for tag, _ in _sells(live, "1660", since)] == [f"{pid}X0"], \
        "one exit, pinewire's"


def test_with_the_worker_down_the_rule_exits_and_pinewire_records_it_once(pipeline):
    from pinewire import processes
    live, p = pipeline, pipeline.p
    since = len(live.sim.orders())
    link, pid, rule_id = _open_protected(live, SYMBOL, TOKEN, "2420", sl_pct="1",
                                         target_pct="5")
    processes.stop(p.worker)                          # pinewire, its host or network dies
    live.sim.price(TOKEN, "2390")                     # through the stop: the rule fires
    assert _rule(live, rule_id)[0] == "fired"
    wait_until(lambda: _sells(live, TOKEN, since) == [("", "COMPLETE")], 10,
               "the rule's order to fill at the broker")
    assert p.rows(sql.positions, sql.positions.c.id == pid)[0]["state"] == "OPEN"
    p.start_worker()
    closed = p.position(pid, "CLOSED", timeout_s=45)
    assert (closed["exit_reason"], closed["exit_qty"], closed["exit_trigger_paise"]) == \
        ("BROKER_STOP", 10, 239000)
    assert closed["realized_pnl_paise"] == 10 * (239000 - 242000)
    live.sim.price(TOKEN, "2389")                     # pinewire's own stop sees it too now
    p.committed()
    assert len(_sells(live, TOKEN, since)) == 1, "exactly one exit: the rule's"
    closes = [e for e in p.rows(sql.position_events, sql.position_events.c.position_id == pid)
              if e["state"] == "CLOSED"]
    assert len({e["reason"] for e in closes}) == 1


def test_the_rule_follows_the_trailing_stop(pipeline):
    live = pipeline
    link, pid, rule_id = _open_protected(live, "SBIN", "3045", "805", sl_pct="1",
                                         trail_pct="1", target_pct=None)
    assert _rule(live, rule_id)[1] == [796.95]
    prices = iter(range(82000, 83000, 5))           # new bests: the trailing stop rises

    def followed():
        live.sim.price("3045", f"{next(prices) / 100:.2f}")
        return _rule(live, rule_id)[1][0] > 811
    wait_until(followed, 20, "the rule to move with the trailing stop", interval_s=0.6)
    assert _rule(live, rule_id)[0] == "active"
    live.p.alert(link, "EXIT", "SBIN")               # the strategy's own exit: the rule goes
    assert live.p.position(pid, "CLOSED", timeout_s=30)["exit_reason"] != "BROKER_STOP"
    assert _rule(live, rule_id)[0] == "cancelled"
