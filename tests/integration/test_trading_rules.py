"""The trading rules per link, end to end on the paper broker: real broker, real worker, the web
app over HTTP, replayed ticks. An alert posted with a price comes with a tick at that price
(tests/integration/harness.py), so paper entries fill at it; exits fill at their trigger tick."""
import subprocess
import time

from schemas import ids, sql, topics as registry
from schemas.records import Alert, Exposure
from tests.integration.harness import wait_until


def positions_of(pipeline, link, *states):
    rows = pipeline.rows(sql.positions, sql.positions.c.link_id == link["id"])
    return sorted((r for r in rows if not states or r["state"] in states),
                  key=lambda r: r["created_at_ms"])


def events_of(pipeline, kind, **where):
    rows = pipeline.rows(sql.position_events, sql.position_events.c.kind == kind)
    return [r for r in rows if all(r[k] == v for k, v in where.items())]


def entry_filled(pipeline, position_id, quantity):
    return wait_until(lambda: (rows := pipeline.rows(sql.positions, sql.positions.c.id ==
                                                     position_id))
                      and rows[0]["entry_qty"] == quantity and rows[0], 20,
                      f"{quantity} filled on {position_id}")


def test_pyramid_of_three_entries_exits_with_the_hand_computed_pnl(pipeline):
    link = pipeline.add_link(max_entries=3, sl_pct="1", target_pct=None)
    pid = pipeline.alert_row(pipeline.alert(link, "BUY", "RELIANCE", price="1400"))["position_id"]
    entry_filled(pipeline, pid, 10)
    second = pipeline.alert_row(pipeline.alert(link, "BUY", "RELIANCE", price="1414"))
    assert second["status"] == "ACCEPTED" and second["position_id"] == pid, second["reason"]
    entry_filled(pipeline, pid, 20)
    pipeline.alert_row(pipeline.alert(link, "BUY", "RELIANCE", price="1407"))
    pos = entry_filled(pipeline, pid, 30)
    fourth = pipeline.alert_row(pipeline.alert(link, "BUY", "RELIANCE", price="1410"))
    assert fourth["status"] == "IGNORED" and "3 of 3 entries" in fourth["reason"]
    # average (1400 + 1414 + 1407) / 3 = 1407; stop 1% below it = 1392.93
    assert (pos["entries"], pos["entry_value_paise"], pos["stop"]) == (3, 4221000, "139293")
    pipeline.ticks("RELIANCE", ["1395", "1392.95", "1392.90", "1380"])
    pos = pipeline.position(pid, "CLOSED")
    assert (pos["exit_reason"], pos["exit_trigger_paise"]) == ("SL", 139290)
    assert pos["realized_pnl_paise"] == 30 * 139290 - (10 * 140000 + 10 * 141400 + 10 * 140700)
    orders = pipeline.rows_when(sql.orders, sql.orders.c.position_id == pid,
                                sql.orders.c.status == "FILLED", count=4)
    assert sorted((o["client_order_id"][-2:], o["quantity"], o["status"]) for o in orders) == \
        [("E0", 10, "FILLED"), ("E1", 10, "FILLED"), ("E2", 10, "FILLED"), ("X0", 30, "FILLED")]


def test_side_long_ignores_a_sell_that_would_open_a_short_and_link_set_applies(pipeline):
    link = pipeline.add_link(side="long")
    ignored = pipeline.alert_row(pipeline.alert(link, "SELL", "HCLTECH", price="1480"))
    assert ignored["status"] == "IGNORED" and "trades long only" in ignored["reason"]
    pipeline.set_link(link["name"], side="both")         # a new version, the same token
    opened = pipeline.alert_row(pipeline.alert(link, "SELL", "HCLTECH", price="1481"))
    assert opened["status"] == "ACCEPTED", opened["reason"]
    assert pipeline.position(opened["position_id"], "OPEN")["side"] == "SHORT"


def test_stop_and_reverse_exits_first_then_enters_the_other_side(pipeline):
    link = pipeline.add_link(reverse=True, sl_pct="2", target_pct=None)
    first = pipeline.alert_row(pipeline.alert(link, "BUY", "BHARTIARTL", price="1950"))
    pipeline.position(first["position_id"], "OPEN")
    flip = pipeline.alert_row(pipeline.alert(link, "SELL", "BHARTIARTL", price="1962"))
    assert flip["status"] == "ACCEPTED" and "then opens a SHORT" in flip["reason"]
    closed = pipeline.position(first["position_id"], "CLOSED")
    reverse = wait_until(lambda: positions_of(pipeline, link, "OPEN"), 20, "the reverse to open")[0]
    assert (reverse["side"], reverse["reverse_of"]) == ("SHORT", first["position_id"])
    assert (closed["exit_reason"], closed["realized_pnl_paise"]) == ("SIGNAL", 10 * 1200)
    exit_fill = pipeline.rows_when(sql.fills, sql.fills.c.client_order_id == f"{closed['id']}X0",
                                   count=1)[0]
    entry_fill = pipeline.rows_when(sql.fills,
                                    sql.fills.c.client_order_id == f"{reverse['id']}E0", count=1)[0]
    assert exit_fill["at_ms"] <= reverse["created_at_ms"] <= entry_fill["at_ms"], \
        "the reverse entry was sent before the exit filled"
    assert closed["closed_at_ms"] <= reverse["created_at_ms"]
    assert entry_fill["price_paise"] == 196200


def test_reverse_on_stop_loss_but_not_on_target(pipeline):
    link = pipeline.add_link(reverse_on_sl=True, sl_pct="1", target_pct="1")
    lost = pipeline.alert_row(pipeline.alert(link, "BUY", "TITAN", price="3500"))["position_id"]
    pipeline.position(lost, "OPEN")
    pipeline.ticks("TITAN", ["3480", "3465"])                    # stop 3465
    assert pipeline.position(lost, "CLOSED")["exit_reason"] == "SL"
    # the reverse enters at the exit's price (a fresh tick, or the fill timeout's fallback)
    reverse = wait_until(lambda: positions_of(pipeline, link, "OPEN"), 20, "the reverse")[0]
    assert (reverse["side"], reverse["reverse_of"]) == ("SHORT", lost)
    assert reverse["entry_value_paise"] == 10 * 346500
    pipeline.ticks("TITAN", ["3440", "3430.35"])                  # target 1% below 3465
    closed = pipeline.position(reverse["id"], "CLOSED")
    assert closed["exit_reason"] == "TARGET"
    # a target exit never reverses: the next alert's outcome shows the slot is free
    probe = pipeline.alert_row(pipeline.alert(link, "EXIT", "TITAN"))
    assert probe["status"] == "IGNORED" and "no open position" in probe["reason"]
    assert [p["id"] for p in positions_of(pipeline, link)] == [lost, reverse["id"]]
    assert not positions_of(pipeline, link, "PENDING", "OPEN", "EXITING")


def test_daily_loss_breaker_blocks_entries_until_reset_and_yesterday_does_not_count(pipeline):
    link = pipeline.add_link(daily_loss_paise="100", sl_pct="1", target_pct=None)
    # a loss from yesterday, far over the limit: a new day starts with a clean breaker
    pipeline.produce(registry.EXPOSURE, Exposure(
        position_id="yesterday0000000", link_id=link["id"], token="3045", side="LONG",
        state="CLOSED", entry_qty=10, entry_value_paise=1_000_000, exit_qty=10,
        exit_value_paise=0, created_at_ms=0, version=1, realized_pnl_paise=-1_000_000,
        closed_at_ms=int(time.time() * 1000) - 86_400_000), key="yesterday0000000")
    pid = pipeline.alert_row(pipeline.alert(link, "BUY", "LT", price="3620"))["position_id"]
    pipeline.position(pid, "OPEN")
    pipeline.ticks("LT", ["3600", "3583.80"])                     # stop 3583.80: -362.00 today
    assert pipeline.position(pid, "CLOSED")["realized_pnl_paise"] == -36200
    blocked = pipeline.alert_row(pipeline.alert(link, "BUY", "LT", price="3580"))
    assert blocked["status"] == "IGNORED" and "daily loss breaker" in blocked["reason"]
    [trip] = wait_until(lambda: events_of(pipeline, "BREAKER_TRIPPED", link_id=link["id"]), 20,
                        "the BREAKER_TRIPPED event")
    assert "362.00 lost today, limit 100.00" in trip["reason"]
    status = pipeline.http.get("/status.json").json()
    [shown] = [r for r in status["risk_limits"] if r["scope"] == f"link {link['name']}"]
    assert (shown["tripped"], shown["day_pnl"], shown["daily_loss"]) == (True, "-362.00", "100.00")
    assert "TRIPPED" in pipeline.http.get("/status").text
    row = pipeline.set_link(link["name"], sl_pct="1")  # settings change: the breaker holds
    assert pipeline.alert_row(pipeline.alert(link, "BUY", "LT", price="3581"))["status"] == \
        "IGNORED"
    reset = subprocess.run(pipeline.cli("breaker", "reset", "--link", row["name"]),
                           env=pipeline.env, capture_output=True, text=True, timeout=60)
    assert reset.returncode == 0, reset.stderr
    again = pipeline.alert_row(pipeline.alert(link, "BUY", "LT", price="3582"))
    assert again["status"] == "ACCEPTED", again["reason"]


def test_max_open_counts_the_links_positions_across_symbols(pipeline):
    link = pipeline.add_link(max_open=2)
    for symbol, price in (("ONGC", "242"), ("NTPC", "335")):
        assert pipeline.alert_row(pipeline.alert(link, "BUY", symbol, price=price))["status"] \
            == "ACCEPTED"
    third = pipeline.alert_row(pipeline.alert(link, "BUY", "POWERGRID", price="288"))
    assert third["status"] == "IGNORED" and "has 2 open position(s), its limit is 2" in \
        third["reason"]


def test_risk_sizing_in_whole_lots(pipeline):
    # 1 % of 1,00,000 = 1,000 at risk; 10 % of 120.00 = 12.00 per unit -> 83 units -> 1 lot of 75
    link = pipeline.add_link(risk_pct="1", capital_paise="100000", sl_pct="10", target_pct=None)
    # an option contract as the gateway sends it (lots of 75), with the premium as its price
    alert = Alert(id=ids.digest("sized", time.time_ns()),
                  dedupe_key=ids.digest("k", time.time_ns()), dedupe_window_s=10, link_id=link["id"], link_version=link["version"],
                  bot_version=0, action="BUY", symbol="NIFTY26DEC2524500CE", exchange="NFO",
                  token="61001", received_at_ms=int(time.time() * 1000), lot_size=75,
                  price_paise=12000)
    pipeline.produce(registry.ALERTS, alert, key=link["id"], instrument=alert.token)
    alert_id = alert.id
    pos = pipeline.position(pipeline.alert_row(alert_id)["position_id"], "OPEN")
    assert (pos["quantity"], pos["entry_qty"], pos["product_type"]) == (75, 75, "CARRYFORWARD")
    equity = pipeline.add_link(risk_pct="1", capital_paise="100000", sl_pct="2")
    pos = pipeline.position(pipeline.alert_row(pipeline.alert(equity, "BUY", "SBIN",
                                                              price="800"))["position_id"], "OPEN")
    assert pos["entry_qty"] == 62                                 # 1,000 / 16.00 = 62.5
    tiny = pipeline.add_link(risk_pct="0.01", capital_paise="1000", sl_pct="2")
    zero = pipeline.alert_row(pipeline.alert(tiny, "BUY", "MARUTI", price="12600"))
    assert zero["status"] == "IGNORED" and "risk sizing gives 0" in zero["reason"]


def test_bad_tick_spike_is_held_and_a_confirmed_gap_exits_one_tick_later(pipeline):
    link = pipeline.add_link(tick_band_pct="5", sl_pct="1", target_pct=None)
    pid = pipeline.alert_row(pipeline.alert(link, "BUY", "WIPRO", price="250"))["position_id"]
    pipeline.position(pid, "OPEN")
    pipeline.ticks("WIPRO", ["250.10", "200", "250.20"])          # a one-tick bad print
    wait_until(lambda: events_of(pipeline, "TICK_DISCARDED", position_id=pid), 20,
               "the spike to be discarded")
    assert pipeline.rows(sql.positions, sql.positions.c.id == pid)[0]["state"] == "OPEN"
    pipeline.ticks("WIPRO", ["230", "229.90", "229"])             # a real gap, confirmed
    pos = pipeline.position(pid, "CLOSED")
    assert (pos["exit_reason"], pos["exit_trigger_paise"]) == ("SL", 22990)
    assert len(events_of(pipeline, "TICK_HELD", position_id=pid)) == 2
    assert len(events_of(pipeline, "TICK_CONFIRMED", position_id=pid)) == 1


def test_partial_paper_entry_exits_exactly_what_filled(pipeline):
    link = pipeline.add_link(paper_fill="partial:0.4", sl_pct="1", target_pct=None)
    pid = pipeline.alert_row(pipeline.alert(link, "BUY", "ICICIBANK", price="1380"))[
        "position_id"]                                           # a fresh price: 4 fill now
    pos = entry_filled(pipeline, pid, 4)
    assert pos["state"] == "OPEN" and pos["entry_value_paise"] == 4 * 138000
    pipeline.ticks("ICICIBANK", ["1366.20"])                     # stop 1366.20: exit the 4
    pos = pipeline.position(pid, "CLOSED")
    assert (pos["entry_qty"], pos["exit_qty"], pos["realized_pnl_paise"]) == (4, 4, -5520)
    orders = {o["client_order_id"][-2:]: o for o in
              pipeline.rows_when(sql.orders, sql.orders.c.position_id == pid, count=2)}
    assert orders["X0"]["quantity"] == 4
    wait_until(lambda: pipeline.rows(sql.fills, sql.fills.c.client_order_id == f"{pid}E0",
                                     sql.fills.c.status == "REJECTED"), 20,
               "the rest of the entry to be cancelled")


def test_paper_buy_outside_the_watchlist_fills_at_the_first_tick_after_the_alert(pipeline):
    link = pipeline.add_link()
    alert = pipeline.alert_row(pipeline.alert(link, "BUY", "TATASTEEL"))   # no price, no tick
    assert pipeline.rows(sql.positions, sql.positions.c.id == alert["position_id"])[0][
        "state"] == "PENDING"
    pipeline.ticks("TATASTEEL", ["165.45", "166"])             # within the fill timeout
    pos = pipeline.position(alert["position_id"], "OPEN")
    assert pos["entry_value_paise"] == 10 * 16545
    assert [r for r in pipeline.topic_records(registry.SUBSCRIPTIONS)
            if r[2] == "3499" and r[3]["active"]], "the instrument was subscribed"


def test_account_limits_apply_across_its_links(pipeline):
    from cryptography.fernet import Fernet

    from webapp import accounts
    account = accounts.add_account(pipeline.engine, Fernet.generate_key().decode(),
                                   name="shared", client_code="SH1", api_key="k", pin="1",
                                   totp_secret="JBSWY3DPEHPK3PXPJBSWY3DP",
                                   user_id=pipeline.user["id"])
    pipeline.publish(accounts=[accounts.set_account(pipeline.engine, account["id"],
                                                    max_open="1")])
    first = pipeline.add_link(account_id=account["id"])
    second = pipeline.add_link(account_id=account["id"])
    assert pipeline.alert_row(pipeline.alert(first, "BUY", "ITC", price="411"))["status"] == \
        "ACCEPTED"
    blocked = pipeline.alert_row(pipeline.alert(second, "BUY", "TCS", price="3120"))
    assert blocked["status"] == "IGNORED" and "account shared has 1 open position(s)" in \
        blocked["reason"]
