"""A live link on a Zerodha Kite account end to end, against the Kite simulator: the daily
login through `pinewire account login`, webhook → order with Kite's fields and tag → fill from
the ticker's order updates → Kite ticks (the feed on the same account) drive the stop → the
exit order. Then the session expires: orders are refused with the way to log in again, the
account reports it, and a new login (which the feed and the workers pick up) trades again."""
import subprocess

import pytest

from connectors import credentials
from schemas import sql
from tests.integration.harness import SECRETS, Pipeline, wait_until
from webapp import accounts

TOKEN, SYMBOL = "1394", "HINDUNILVR"


def _login(p: Pipeline, sim, api_key: str, name: str = "zerodha") -> subprocess.CompletedProcess:
    """`pinewire account login NAME`, answered with the address the login page redirects to."""
    return subprocess.run(p.cli("account", "login", name), input=sim.redirect_after_login(
        api_key) + "\n", env=p.env, capture_output=True, text=True, timeout=60)


@pytest.fixture(scope="module")
def kite_live(kafka_url, kite_sim, kite_account, tmp_path_factory):
    key = credentials.new_key()
    p = Pipeline(tmp_path_factory.mktemp("kite-live"), kafka_url, PINEWIRE_SECRET_KEY=key,
                 PINEWIRE_FEED="kite", PINEWIRE_FEED_ACCOUNT="zerodha",
                 PINEWIRE_FEED_WATCHLIST="", **kite_sim.env())
    SECRETS.add(kite_account.api_secret)
    account = accounts.add_account(p.engine, key, name="zerodha", user_id=p.user["id"],
                                   broker="kite", client_code=kite_account.user_id,
                                   api_key=kite_account.api_key,
                                   api_secret=kite_account.api_secret)
    feed = None
    try:
        p.prepare_topics()
        login = _login(p, kite_sim, kite_account.api_key)
        assert login.returncode == 0, login.stdout + login.stderr
        p.start_worker()
        p.start_web()
        feed = p.spawn("feed", log="feed.log")
        yield p, kite_sim, account, login
    finally:
        if feed is not None:
            from pinewire import processes
            processes.stop(feed)
        p.stop()


def _order(sim, tag):
    return next((o for o in sim.orders() if o["tag"] == tag), None)


def test_the_login_command_stores_the_days_session_and_prints_no_secret(kite_live,
                                                                        kite_account):
    p, sim, account, login = kite_live
    assert "logged in as SIMULATED TRADER" in login.stdout
    assert "the session lasts until 06:00 IST on" in login.stdout
    for secret in sim.tokens() + [kite_account.api_secret]:
        assert secret not in login.stdout + login.stderr
    [row] = p.rows(sql.accounts, sql.accounts.c.id == account["id"])
    assert row["broker"] == "kite" and row["session"] and row["version"] > account["version"]
    assert all(t not in row["session"] for t in sim.tokens())        # sealed


def test_a_login_as_another_kite_user_is_refused(kite_live, kite_account):
    p, sim, _, _ = kite_live
    other = accounts.add_account(p.engine, p.env["PINEWIRE_SECRET_KEY"], name="other-user",
                                 user_id=p.user["id"], broker="kite", client_code="ZZ9999",
                                 api_key=kite_account.api_key,
                                 api_secret=kite_account.api_secret)
    refused = _login(p, sim, kite_account.api_key, name=other["name"])
    assert refused.returncode != 0
    assert f"Kite logged in user {kite_account.user_id}, but other-user is ZZ9999" in \
        refused.stderr
    assert p.rows(sql.accounts, sql.accounts.c.id == other["id"])[0]["session"] is None


def test_a_live_link_on_kite_end_to_end(kite_live):
    p, sim, account, _ = kite_live
    sim.price(TOKEN, "2420")
    link = p.add_link(sl_pct="1", target_pct="5", paper=False, account_id=account["id"])
    alert = p.alert_row(p.alert(link, "BUY", SYMBOL, price="2419"))
    assert alert["status"] == "ACCEPTED", alert["reason"]
    pid = alert["position_id"]
    pos = p.position(pid, "OPEN", timeout_s=30)
    assert (pos["entry_qty"], pos["entry_value_paise"]) == (10, 10 * 242000)
    entry = _order(sim, f"{pid}E0")
    assert (entry["transaction_type"], entry["quantity"], entry["tradingsymbol"],
            entry["order_type"], entry["product"], entry["status"]) == \
        ("BUY", 10, "HINDUNILVR", "MARKET", "CNC", "COMPLETE")     # a link's default: delivery

    def exiting():   # each new price is a tick once the feed has subscribed the instrument
        sim.price(TOKEN, "2395")                          # stop 2395.80
        return p.rows(sql.positions, sql.positions.c.id == pid)[0]["state"] in ("EXITING",
                                                                                 "CLOSED")
    wait_until(exiting, 30, "Kite's ticks to trigger the stop", interval_s=0.3)
    pos = p.position(pid, "CLOSED", timeout_s=30)
    assert (pos["exit_reason"], pos["exit_trigger_paise"]) == ("SL", 239500)
    exit_order = _order(sim, f"{pid}X0")
    assert (exit_order["transaction_type"], exit_order["quantity"], exit_order["status"]) == \
        ("SELL", 10, "COMPLETE")
    for order in p.rows_when(sql.orders, sql.orders.c.position_id == pid,
                             sql.orders.c.status == "FILLED", count=2):
        at_broker = _order(sim, order["client_order_id"])
        [fill] = p.rows_when(sql.fills, sql.fills.c.client_order_id == order["client_order_id"],
                             count=1)
        assert (fill["broker_order_id"], fill["price_paise"], order["filled_qty"]) == \
            (at_broker["order_id"], round(at_broker["average_price"] * 100),
             at_broker["filled_quantity"])
    assert len([o for o in sim.orders() if (o["tag"] or "").startswith(pid)]) == 2


def test_an_expired_session_refuses_orders_until_the_next_login(kite_live, kite_account):
    p, sim, account, _ = kite_live
    link = p.add_link(paper=False, account_id=account["id"])
    sim.faults(expire_sessions=True)
    pid = p.alert_row(p.alert(link, "BUY", "NTPC", price="335"))["position_id"]
    note = p.position(pid, "REJECTED", timeout_s=30)["snapshot"]["note"]
    assert note == ("Kite refused the session's token; log in again: pinewire account login "
                    "zerodha")
    wait_until(lambda: p.rows(sql.accounts, sql.accounts.c.id == account["id"])[0]["health"]
               == note, 20, "the account's health in the ledger")
    assert _order(sim, f"{pid}E0") is None
    again = _login(p, sim, kite_account.api_key)
    assert again.returncode == 0, again.stderr
    alert = p.alert_row(p.alert(link, "BUY", "ONGC", price="242"))
    assert alert["status"] == "ACCEPTED", alert["reason"]
    pid = alert["position_id"]
    assert p.position(pid, "OPEN", timeout_s=30)["entry_qty"] > 0
    assert _order(sim, f"{pid}E0")["status"] == "COMPLETE"
    wait_until(lambda: p.rows(sql.accounts, sql.accounts.c.id == account["id"])[0]["health"]
               is None, 20, "the account healthy again")


def test_startup_reconciliation_closes_what_the_broker_shows_flat_and_reports_the_rest(
        kite_live, kite_account):
    """The trader squares ITC off in Kite's own app and buys INFY there: `pinewire reconcile
    --broker` closes the ITC position at Kite's price (RECONCILED) and reports INFY, which it
    never trades."""
    from kiteconnect import KiteConnect
    p, sim, account, _ = kite_live
    sim.price("1660", "410")
    link = p.add_link(sl_pct="5", target_pct="10", paper=False, account_id=account["id"])
    alert = p.alert_row(p.alert(link, "BUY", "ITC", price="410"))
    pid = alert["position_id"]
    pos = p.position(pid, "OPEN", timeout_s=30)
    by_hand = KiteConnect(api_key=kite_account.api_key, root=sim.root)
    by_hand.generate_session(sim.request_token(kite_account.api_key),
                             api_secret=kite_account.api_secret)
    sim.price("1660", "412.5")
    for symbol, side, qty in (("ITC", "SELL", pos["entry_qty"]), ("INFY", "BUY", 7)):
        by_hand.place_order(variety="regular", exchange="NSE", tradingsymbol=symbol,
                            transaction_type=side, quantity=qty, product="CNC",
                            order_type="MARKET")
    wait_until(lambda: all(o["status"] == "COMPLETE" for o in by_hand.orders()), 10,
               "the trader's own orders to fill")
    done = subprocess.run(p.cli("reconcile", "--broker"), env=p.env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert f"closed ITC-EQ {pid}: flat at the broker" in done.stdout
    assert "unknown at the broker: INFY-EQ +7 there, none in pinewire" in done.stdout
    closed = p.position(pid, "CLOSED", timeout_s=30)
    assert (closed["exit_reason"], closed["exit_trigger_paise"], closed["exit_qty"]) == \
        ("RECONCILED", 41250, pos["entry_qty"])
    assert closed["realized_pnl_paise"] == pos["entry_qty"] * 41250 - pos["entry_value_paise"]
    assert not [o for o in sim.orders() if (o["tag"] or "").startswith(f"{pid}X")], \
        "reconciliation never sends an order"
    [status] = [r for r in p.http.get("/status.json").json()["broker_reconciliations"]
                if r["account"] == "zerodha"]
    assert status["report"] == ["unknown at the broker: INFY-EQ +7 there, none in pinewire: "
                                "never traded by pinewire"]
    assert len(status["closed"]) == 1 and pid in status["closed"][0]
    again = subprocess.run(p.cli("reconcile", "--broker"), env=p.env, capture_output=True,
                           text=True, timeout=120)
    assert "closed" not in again.stdout, "nothing is closed twice"
