"""A live link end to end against the simulator: webhook -> placeOrder with the right fields
and ordertag -> fill from the order-update stream -> the simulator's ticks drive a stop-loss ->
the exit order reaches the simulator. The ledger matches the simulator's order book."""
import asyncio
import secrets
import time

import pytest

from connectors import credentials, kafka
from schemas import instruments, sql, topics as registry
from schemas.records import OrderIntent
from tests.integration.harness import SECRETS, Pipeline, wait_until
from webapp import accounts, notifications, users

TOKEN, SYMBOL = "1394", "HINDUNILVR"


@pytest.fixture(scope="module")
def live(kafka_url, smartapi_sim, sim_account, tmp_path_factory, fake_telegram):
    key = credentials.new_key()
    p = Pipeline(tmp_path_factory.mktemp("live"), kafka_url, PINEWIRE_SECRET_KEY=key,
                 PINEWIRE_FEED="smartapi", PINEWIRE_FEED_ACCOUNT="sim",
                 PINEWIRE_FEED_WATCHLIST="", PINEWIRE_LOG_LEVEL="DEBUG",
                 PINEWIRE_SMARTAPI_TIMEOUT_S="40", PINEWIRE_TELEGRAM_API=fake_telegram.url,
                 **smartapi_sim.env())
    account = accounts.add_account(p.engine, key, name="sim", user_id=p.user["id"],
                                   client_code=sim_account.client_code,
                                   api_key=sim_account.api_key, pin=sim_account.pin,
                                   totp_secret=sim_account.totp_secret)
    feed = None
    try:
        p.prepare_topics()
        p.start_worker()
        p.start_web()
        feed = p.spawn("feed", log="feed.log")
        yield p, smartapi_sim, account
    finally:
        if feed is not None:
            from pinewire import processes
            processes.stop(feed)
        p.stop()


def _sim_order(sim, tag):
    return next((o for o in sim.orders() if o["ordertag"] == tag), None)


def test_live_link_end_to_end(live):
    p, sim, account = live
    sim.price(TOKEN, "2420")
    link = p.add_link(sl_pct="1", target_pct="5", paper=False, account_id=account["id"])
    alert = p.alert_row(p.alert(link, "BUY", SYMBOL, price="2419"))
    assert alert["status"] == "ACCEPTED", alert["reason"]
    pid = alert["position_id"]
    pos = p.position(pid, "OPEN", timeout_s=30)
    assert (pos["entry_qty"], pos["entry_value_paise"]) == (10, 10 * 242000)

    entry = _sim_order(sim, f"{pid}E0")
    assert (entry["transactiontype"], entry["quantity"], entry["tradingsymbol"],
            entry["symboltoken"], entry["ordertype"], entry["exchange"], entry["status"]) == \
        ("BUY", "10", "HINDUNILVR-EQ", TOKEN, "MARKET", "NSE", "complete")

    def exiting():   # each new price is a tick once the feed has subscribed the instrument
        sim.price(TOKEN, "2395")                         # stop 2395.80
        row = p.rows(sql.positions, sql.positions.c.id == pid)[0]
        return row["state"] in ("EXITING", "CLOSED")
    wait_until(exiting, 30, "the simulator's ticks to trigger the stop", interval_s=0.3)
    pos = p.position(pid, "CLOSED", timeout_s=30)
    assert (pos["exit_reason"], pos["exit_trigger_paise"]) == ("SL", 239500)
    assert pos["realized_pnl_paise"] == 10 * (239500 - 242000)

    exit_order = _sim_order(sim, f"{pid}X0")
    assert (exit_order["transactiontype"], exit_order["quantity"], exit_order["status"]) == \
        ("SELL", "10", "complete")
    p.rows_when(sql.orders, sql.orders.c.position_id == pid, sql.orders.c.status == "FILLED",
                count=2)
    for order in p.rows(sql.orders, sql.orders.c.position_id == pid):
        at_broker = _sim_order(sim, order["client_order_id"])
        fills = p.rows_when(sql.fills, sql.fills.c.client_order_id == order["client_order_id"],
                            count=1)
        assert (order["status"], order["filled_qty"]) == ("FILLED", int(at_broker["filledshares"]))
        assert [f["broker_order_id"] for f in fills] == [at_broker["orderid"]]
        assert fills[0]["price_paise"] == round(at_broker["averageprice"] * 100)
    assert len([o for o in sim.orders() if o["ordertag"].startswith(pid)]) == 2


def test_an_exit_never_waits_behind_another_accounts_slow_order(live):
    """The broker holds a live placement's answer for 20 s (the SDK waits up to 40 s). A paper
    position's stop meanwhile exits at once: the executor does not wait for the live answer."""
    p, sim, account = live
    paper = p.add_link(sl_pct="1", target_pct=None)
    paper_pid = p.alert_row(p.alert(paper, "BUY", "ITC", price="400"))["position_id"]
    p.position(paper_pid, "OPEN")
    sim.faults(place_timeout=1, timeout_s=20)
    slow = p.add_link(paper=False, account_id=account["id"])
    p.alert(slow, "BUY", "NTPC", price="350")
    wait_until(lambda: sim.held_answers() == 1, 30, "the broker to hold the live answer")
    p.ticks("ITC", ["395"])                           # stop 396
    closed = p.position(paper_pid, "CLOSED", timeout_s=30)
    assert sim.held_answers() == 1, "the paper exit waited for the live placement's answer"
    assert (closed["exit_reason"], closed["exit_trigger_paise"]) == ("SL", 39500)


def test_an_exit_never_waits_behind_its_own_accounts_hung_order(live):
    """One placement of the account is held 20 s by the broker; another position of the same
    account reaches its stop meanwhile: its exit is at the broker while the first answer is
    still held (the account's orders go several at a time; a hung one holds only itself)."""
    p, sim, account = live
    wait_until(lambda: sim.held_answers() == 0, 30, "the answers an earlier test held back")
    steel, finance = (instruments.lookup(s).token for s in ("TATASTEEL", "BAJFINANCE"))
    sim.price(steel, "165")
    sim.price(finance, "920")
    link = p.add_link(sl_pct="1", target_pct=None, paper=False, account_id=account["id"])
    pid = p.alert_row(p.alert(link, "BUY", "TATASTEEL", price="165"))["position_id"]
    p.position(pid, "OPEN", timeout_s=30)
    sim.faults(place_timeout=1, timeout_s=20)
    p.alert(link, "BUY", "BAJFINANCE", price="920")
    wait_until(lambda: sim.held_answers() == 1, 30, "the broker to hold the other answer")

    def exit_at_broker():
        sim.price(steel, "163")                              # stop 163.35
        return any(o["ordertag"] == f"{pid}X0" for o in sim.orders())
    wait_until(exit_at_broker, 15, "the stop's exit at the broker", interval_s=0.3)
    assert sim.held_answers() == 1, "the exit waited for the hung placement"
    assert p.position(pid, "CLOSED", timeout_s=30)["exit_reason"] == "SL"


def _order_offsets(p, committed: bool) -> dict[int, int]:
    name = registry.topic_name(p.settings.namespace, registry.ORDERS)

    async def read():
        ends = await kafka.topic_offsets(p.settings.bootstrap, [name])
        if not committed:
            return ends[name]
        return (await kafka.committed_offsets(p.settings.bootstrap, p.settings.namespace,
                                              ends))[name]
    return asyncio.run(read())


def _intent(pid: str, token: str, symbol: str, **kw) -> OrderIntent:
    return OrderIntent(client_order_id=f"{pid}E0", position_id=pid, link_id="none",
                       purpose="ENTRY", side="BUY", quantity=1, token=token, symbol=symbol,
                       exchange="NSE", created_at_ms=int(time.time() * 1000), **kw)


def test_a_live_orders_offset_is_committed_only_once_its_outcome_is_recorded(live):
    """While a live order is being retried (every placement answers 502), the worker goes on
    with the orders after it, and commits them, but not past the live one: a worker killed now
    would get it again. Once placed, its offset is committed too."""
    p, sim, account = live
    live_token, paper_token = "11630", "1660"            # NTPC and ITC: different partitions
    live_part, paper_part = (registry.instrument_partition(t, p.settings.partitions)
                             for t in (live_token, paper_token))
    assert live_part != paper_part
    sim.faults(place_5xx=1000)
    live_at = _order_offsets(p, committed=False)[live_part]
    slow = _intent(secrets.token_hex(8), live_token, "NTPC-EQ", paper=False,
                   account_id=account["id"])
    p.produce(registry.ORDERS, slow, key=slow.position_id, instrument=live_token)
    wait_until(lambda: sim.faults()["place_5xx"] < 1000, 30, "the first placement")
    paper_at = _order_offsets(p, committed=False)[paper_part]
    quick = _intent(secrets.token_hex(8), paper_token, "ITC-EQ", paper=True)
    p.produce(registry.ORDERS, quick, key=quick.position_id, instrument=paper_token)
    wait_until(lambda: _order_offsets(p, committed=True)[paper_part] > paper_at, 30,
               "the paper order after it to be committed")
    assert _order_offsets(p, committed=True)[live_part] <= live_at, \
        "the live order's offset was committed before its outcome"
    sim.faults(place_5xx=0)
    wait_until(lambda: _order_offsets(p, committed=True)[live_part] > live_at, 60,
               "the live order's offset once placed")
    assert [o["status"] for o in sim.orders() if o["ordertag"] == slow.client_order_id] == \
        ["complete"]


def test_broker_rejection_is_recorded_and_opens_nothing(live):
    p, sim, account = live
    sim.faults(reject=1)
    link = p.add_link(paper=False, account_id=account["id"])
    pid = p.alert_row(p.alert(link, "BUY", "ULTRACEMCO", price="11800"))["position_id"]
    snapshot = p.position(pid, "REJECTED", timeout_s=30)["snapshot"]
    assert snapshot["entry_qty"] == 0 and snapshot["note"].startswith("RMS:Margin Exceeds")
    [order] = p.rows(sql.orders, sql.orders.c.position_id == pid)
    assert order["status"] == "REJECTED" and order["text"].startswith("RMS:Margin Exceeds")


def test_partial_fill_position_holds_what_filled(live):
    p, sim, account = live
    sim.faults(partial_qty=4, partial_count=1)
    link = p.add_link(paper=False, account_id=account["id"])
    pid = p.alert_row(p.alert(link, "BUY", "POWERGRID", price="288"))["position_id"]

    def rest_cancelled():
        rows = p.rows(sql.positions, sql.positions.c.id == pid)
        return rows and rows[0]["snapshot"].get("note") and rows[0]
    pos = wait_until(rest_cancelled, 30, "the rest of the order to be cancelled")
    assert (pos["state"], pos["entry_qty"]) == ("OPEN", 4)
    p.alert(link, "EXIT", "POWERGRID")     # the exit sells only what was bought
    pos = p.position(pid, "CLOSED", timeout_s=30)
    assert _sim_order(sim, f"{pid}X0")["quantity"] == "4"


def test_an_entry_still_partly_open_is_cancelled_at_the_broker_before_its_exit(live):
    p, sim, account = live
    token = "5900"                                   # AXISBANK
    sim.price(token, "1180")
    sim.faults(partial_qty=4, partial_open_count=1)  # 4 fill, the other 6 stay open
    link = p.add_link(sl_pct="1", target_pct=None, paper=False, account_id=account["id"])
    pid = p.alert_row(p.alert(link, "BUY", "AXISBANK", price="1180"))["position_id"]

    def four_filled():
        rows = p.rows(sql.positions, sql.positions.c.id == pid)
        return rows and rows[0]["entry_qty"] == 4 and rows[0]
    assert wait_until(four_filled, 30, "the first 4 to fill")["state"] == "OPEN"
    assert _sim_order(sim, f"{pid}E0")["status"] == "open"
    assert p.rows(sql.positions, sql.positions.c.id == pid)[0]["product_type"] == "DELIVERY"

    def exiting():
        sim.price(token, "1165")                     # stop 1168.20
        return p.rows(sql.positions, sql.positions.c.id == pid)[0]["state"] in ("EXITING",
                                                                                 "CLOSED")
    wait_until(exiting, 30, "the stop", interval_s=0.3)
    pos = p.position(pid, "CLOSED", timeout_s=30)
    entry, exit_ = _sim_order(sim, f"{pid}E0"), _sim_order(sim, f"{pid}X0")
    assert (entry["status"], entry["filledshares"]) == ("cancelled", "4")
    assert (exit_["quantity"], exit_["producttype"]) == ("4", "DELIVERY")
    assert (pos["entry_qty"], pos["exit_qty"]) == (4, 4)


def test_a_wrong_pin_is_tried_once_and_live_orders_are_rejected_with_the_brokers_words(
        live, fake_telegram):
    p, sim, account = live
    code = account["client_code"]
    trader = users.add_user(p.engine, f"t{secrets.token_hex(3)}", "a-long-password-1")
    chat, bot = str(secrets.randbelow(10**9)), f"123456789:{secrets.token_urlsafe(30)}"
    SECRETS.add(bot)                              # the trader hears of it on Telegram
    notifications.set_telegram(p.engine, p.env["PINEWIRE_SECRET_KEY"], trader["id"],
                               chat_id=chat, bot_token=bot)
    wrong = accounts.add_account(p.engine, p.env["PINEWIRE_SECRET_KEY"], name="wrong-pin",
                                 user_id=trader["id"],
                                 client_code=code, api_key=sim.accounts[0].api_key,
                                 pin="00000000", totp_secret=sim.accounts[0].totp_secret)
    p.publish(accounts=[wrong])                   # as `pinewire account add` does
    link = p.add_link(paper=False, account_id=wrong["id"], user_id=trader["id"])
    refused_before = sim.refused_logins(code)
    reason = "login failed: Invalid clientcode or password (AB1007)"
    for symbol in ("NTPC", "ONGC"):                   # the second order asks the session again
        pid = p.alert_row(p.alert(link, "BUY", symbol))["position_id"]
        note = p.position(pid, "REJECTED", timeout_s=30)["snapshot"]["note"]
        assert note.startswith(reason), note
    assert sim.refused_logins(code) == refused_before + 1, "a refused login is not retried"
    health = wait_until(lambda: [a["health"] for a in accounts.account_rows(p.engine)
                                 if a["id"] == wrong["id"] and a["health"]], 20,
                        "the account's health in the ledger")
    assert health[0].startswith(reason)
    assert "WARNING" in (p.data_dir / "logs" / "worker.log").read_text()
    fake_telegram.wait_for(chat, f"broker login refused for account wrong-pin: {reason}")
    fake_telegram.wait_for(chat, "NTPC-EQ LONG entry order rejected")
