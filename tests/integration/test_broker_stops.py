"""Broker-side stop rules (a live link's --broker-stop gtt) through the pipeline, on Kite,
Angel One and Upstox each (the adapters alone: test_broker_stop_rules.py): the rule follows the
entry and the trailing stop, pinewire's own exit cancels it first (one exit), and with the
worker down the rule exits at the broker and pinewire, back, records that exit once
(BROKER_STOP). On one Kafka broker: the broker adapters are what is tested."""
import pytest

from schemas import sql
from tests.integration.harness import wait_until
from tests.integration.test_broker_pipelines import started
from tests.integration.test_broker_stop_rules import rule_at_broker
from tests.integration.upstox import instrument_key as upstox_key

pytestmark = pytest.mark.one_kafka_broker
TOKEN, SYMBOL = "1394", "HINDUNILVR"


@pytest.fixture(scope="module", params=["kite", "smartapi", "upstox"])
def pipeline(request, kafka_url, tmp_path_factory):
    with started(request.param, request, kafka_url, tmp_path_factory,
                 PINEWIRE_BROKER_STOP_EVERY_S="1", PINEWIRE_BROKER_STOP_FILL_WAIT_S="1") as live:
        yield live


def _rule(live, rule_id) -> tuple[str, list[float]]:
    """(state, triggers in rupees) of a rule at the broker: active, fired or cancelled."""
    rule = rule_at_broker(live.kind, live.sim, rule_id)
    return rule["state"], rule["triggers"]


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


def test_a_fired_rule_whose_order_does_not_fill_hands_the_exit_back_to_pinewire(pipeline):
    """The price gaps through the stop beyond the rule's limit (1 % past its trigger): the rule
    fires and its order rests unfilled. pinewire's own stop exit finds the rule fired, waits
    PINEWIRE_BROKER_STOP_FILL_WAIT_S (1 s here), cancels the rule's order and places its own:
    the position closes on one filled exit, and nothing is left working at the broker."""
    live = pipeline
    since = len(live.sim.orders())
    link, pid, rule_id = _open_protected(live, "AXISBANK", "5900", "1180", sl_pct="1",
                                         target_pct=None)                  # stop 1168.20
    prices = iter(["1150", "1149.95"] * 200)        # below the rule's limit, 1156.50

    def closed():
        live.sim.price("5900", next(prices))
        return live.p.rows(sql.positions, sql.positions.c.id == pid)[0]["state"] == "CLOSED"
    wait_until(closed, 60, "pinewire's own exit after the rule's order did not fill",
               interval_s=0.3)
    assert _rule(live, rule_id)[0] == "fired"
    pos = live.p.position(pid, "CLOSED")
    assert pos["exit_qty"] == 10 and pos["exit_reason"] == "SL"
    sells = _sells(live, "5900", since)
    assert [status for tag, status in sells if not tag] == ["CANCELLED"], sells
    assert [status for tag, status in sells if tag] == ["COMPLETE"], \
        "one exit of pinewire's, filled"


def test_the_rule_follows_a_stop_the_trader_moves(pipeline):
    live = pipeline
    link, pid, rule_id = _open_protected(live, "LT", "11483", "3620", sl_pct="1",
                                         target_pct=None)
    assert _rule(live, rule_id)[1] == [3583.8]
    moved = live.p.http.patch(f"/api/v1/positions/{pid}", json={"stop": "3600"})
    assert moved.status_code == 200, moved.text
    wait_until(lambda: _rule(live, rule_id)[1] == [3600.0], 20, "the rule at the new stop",
               interval_s=0.3)
    assert _rule(live, rule_id)[0] == "active"
    live.p.http.post(f"/api/v1/positions/{pid}/close")      # the trader's close: the rule goes
    assert live.p.position(pid, "CLOSED", timeout_s=30)["exit_reason"] == "MANUAL"
    assert _rule(live, rule_id)[0] == "cancelled"
