"""A live link on a Zerodha Kite account and on an Upstox account, end to end against their
simulators: the daily login through `pinewire account login`, webhook → order with the broker's
fields and tag → fill from its order updates → its own market data (the feed on the same
account) drives the stop → the exit order; the fault matrix on the way (a 502, a 429, an answer
lost after the broker accepted, dropped sockets, an RMS rejection, a partial fill), each with
exactly one order per intent; an expired session refuses orders with the way to log in again
until the next login; startup reconciliation closes what the broker shows flat and reports
what it holds beyond pinewire. What a failure can do to a trader's money — fills counted again
after a restart, a rejected exit, a square-off at the broker, a crash after the broker accepted
— is tried on Angel One too.

On one Kafka broker only: these check the broker adapters, which do not depend on the Kafka
broker (SmartAPI's live pipeline runs on both: test_live_pipeline.py)."""
import contextlib
import subprocess
from collections import Counter
from dataclasses import dataclass

import pytest

from connectors import credentials
from pinewire import processes
from schemas import sql
from tests.integration.harness import SECRETS, Pipeline, wait_until
from webapp import accounts

TOKEN, SYMBOL = "1394", "HINDUNILVR"
pytestmark = pytest.mark.one_kafka_broker
# what Angel One's own tests cover already (test_live_pipeline.py), or what it lacks (a daily
# login through a redirect, sockets that refuse to reconnect)
KITE_AND_UPSTOX = pytest.mark.parametrize("live", ["kite", "upstox"], indirect=True)


@dataclass
class Live:
    kind: str
    p: Pipeline
    sim: object
    sim_account: object
    account: dict
    login: subprocess.CompletedProcess

    @property
    def name(self) -> str:
        return self.account["name"]

    def redirect(self) -> str:
        return self.sim.redirect_after_login(
            self.sim_account.api_key if self.kind == "kite" else self.sim_account)

    def log_in(self, name: str | None = None) -> subprocess.CompletedProcess:
        """`pinewire account login NAME`, answered with the address the login page sends to."""
        return subprocess.run(self.p.cli("account", "login", name or self.name),
                              input=self.redirect() + "\n", env=self.p.env, capture_output=True,
                              text=True, timeout=60)

    def order(self, tag: str) -> dict | None:
        return next((o for o in self.sim.orders() if _tag(o) == tag), None)

    def tags(self, prefix: str) -> list[str]:
        """The tags of the broker's orders that start with `prefix`, in the order placed."""
        return [_tag(o) for o in self.sim.orders() if _tag(o).startswith(prefix)]

    def by_hand(self, symbol: str, side: str, qty: int) -> None:
        """The trader places an order in the broker's own app."""
        if self.kind == "smartapi":
            from connectors.smartapi.sdk import sdk
            from tests.integration.test_smartapi_sdk import _login
            client = sdk().SmartConnect(api_key=self.sim_account.api_key, root=self.sim.root)
            wait_until(lambda: _login(client, self.sim_account), 5, "a login within 1/s")
            from schemas.instruments import lookup
            order = {"variety": "NORMAL", "tradingsymbol": f"{symbol}-EQ", "exchange": "NSE",
                     "symboltoken": lookup(symbol).token, "transactiontype": side,
                     "ordertype": "MARKET", "producttype": "DELIVERY", "duration": "DAY",
                     "price": "0", "quantity": str(qty)}
            # the SDK answers a refused order (over the 9/s shared with pinewire's own
            # session) with None: the trader taps again, as in the app
            wait_until(lambda: client.placeOrder(dict(order)), 10, "the trader's order placed")
        elif self.kind == "kite":
            from kiteconnect import KiteConnect
            client = KiteConnect(api_key=self.sim_account.api_key, root=self.sim.root)
            client.generate_session(self.sim.request_token(self.sim_account.api_key),
                                    api_secret=self.sim_account.api_secret)
            client.place_order(variety="regular", exchange="NSE", tradingsymbol=symbol,
                               transaction_type=side, quantity=qty, product="CNC",
                               order_type="MARKET")
        else:
            import upstox_client

            from tests.integration.test_upstox_sdk import _conf, _login
            from tests.integration.upstox import instrument_key
            from schemas.instruments import lookup
            token = _login(self.sim, self.sim_account).access_token
            upstox_client.OrderApi(upstox_client.ApiClient(_conf(self.sim, token))).place_order(
                upstox_client.PlaceOrderRequest(
                    quantity=qty, product="D", validity="DAY", price=0, tag=None,
                    instrument_token=instrument_key(lookup(symbol).token), order_type="MARKET",
                    transaction_type=side, disclosed_quantity=0, trigger_price=0,
                    is_amo=False), "2.0")


def _tag(order: dict) -> str:
    """An order's tag in any broker's shape (Angel One calls it ordertag)."""
    return order.get("tag") or order.get("ordertag") or ""


def book(sim) -> list[dict]:
    """The simulator's orders in one shape, whatever the broker's: tag, order id, side,
    symbol (without -EQ), filled quantity, status (lower case)."""
    return [{"tag": _tag(o), "order_id": o.get("orderid") or o.get("order_id"),
             "side": o.get("transactiontype") or o.get("transaction_type"),
             "symbol": (o.get("tradingsymbol") or o.get("trading_symbol")).removesuffix("-EQ"),
             "filled": int(o.get("filledshares") or o.get("filled_quantity") or 0),
             "status": o["status"].lower()} for o in sim.orders()]


def net(orders: list[dict]) -> Counter:
    """Per instrument: bought less sold."""
    held: Counter = Counter()
    for o in orders:
        held[o["symbol"]] += o["filled"] if o["side"] == "BUY" else -o["filled"]
    return held


def add_account(p: Pipeline, key: str, kind: str, sim_account) -> dict:
    """The simulator's account as pinewire's account named after its broker."""
    if kind == "smartapi":
        return accounts.add_account(
            p.engine, key, name=kind, user_id=p.user["id"], client_code=sim_account.client_code,
            api_key=sim_account.api_key, pin=sim_account.pin,
            totp_secret=sim_account.totp_secret)
    SECRETS.add(sim_account.api_secret)
    return accounts.add_account(
        p.engine, key, name=kind, user_id=p.user["id"], broker=kind,
        client_code=sim_account.user_id, api_key=sim_account.api_key,
        api_secret=sim_account.api_secret,
        redirect_uri=getattr(sim_account, "redirect_uri", "") if kind == "upstox" else "")


@contextlib.contextmanager
def started(kind: str, request, kafka_url, tmp_path_factory, **env):
    """A pipeline with an account of this broker — Kite's and Upstox's logged in for the day by
    `pinewire account login` — its feed on that account."""
    sim = request.getfixturevalue(f"{kind}_sim")
    sim_account = request.getfixturevalue("sim_account" if kind == "smartapi" else
                                          f"{kind}_account")
    key = credentials.new_key()
    p = Pipeline(tmp_path_factory.mktemp(f"{kind}-live"), kafka_url, PINEWIRE_SECRET_KEY=key,
                 PINEWIRE_FEED=kind, PINEWIRE_FEED_ACCOUNT=kind, PINEWIRE_FEED_WATCHLIST="",
                 **sim.env(), **env)
    account = add_account(p, key, kind, sim_account)
    feed = None
    try:
        p.prepare_topics()
        live = Live(kind, p, sim, sim_account, account, None)
        if kind != "smartapi":
            live.login = live.log_in()
            assert live.login.returncode == 0, live.login.stdout + live.login.stderr
        p.start_worker()
        p.start_web()
        feed = p.spawn("feed", log="feed.log")
        yield live
    finally:
        if feed is not None:
            processes.stop(feed)
        p.stop()


@pytest.fixture(scope="module", params=["smartapi", "kite", "upstox"])
def live(request, kafka_url, tmp_path_factory):
    with started(request.param, request, kafka_url, tmp_path_factory,
                 **{f"PINEWIRE_{request.param.upper()}_TIMEOUT_S": "2"},
                 PINEWIRE_EXIT_RETRY_FIRST_S="0.5", PINEWIRE_EXIT_RETRY_MAX_S="1",
                 PINEWIRE_STALE_TICK_S="3") as live:
        yield live


@KITE_AND_UPSTOX
def test_the_login_command_stores_the_days_session_and_prints_no_secret(live):
    assert "logged in as SIMULATED TRADER" in live.login.stdout
    assert "the session lasts until " + ("06:00" if live.kind == "kite" else "03:30") + \
        " IST on" in live.login.stdout
    for secret in live.sim.tokens() + [live.sim_account.api_secret]:
        assert secret not in live.login.stdout + live.login.stderr
    [row] = live.p.rows(sql.accounts, sql.accounts.c.id == live.account["id"])
    assert row["broker"] == live.kind and row["session"]
    assert row["version"] > live.account["version"]
    assert all(t not in row["session"] for t in live.sim.tokens())        # sealed
    [shown] = [a for a in live.p.http.get("/api/v1/accounts").json() if a["name"] == live.name]
    ends = "06:00" if live.kind == "kite" else "03:30"
    assert shown["session"].startswith(f"session until {ends} IST on")


@KITE_AND_UPSTOX
def test_a_login_as_another_user_is_refused(live):
    other = accounts.add_account(
        live.p.engine, live.p.env["PINEWIRE_SECRET_KEY"], name=f"other-{live.kind}",
        user_id=live.p.user["id"], broker=live.kind, client_code="ZZ9999",
        api_key=live.sim_account.api_key, api_secret=live.sim_account.api_secret,
        redirect_uri=getattr(live.sim_account, "redirect_uri", ""))
    refused = live.log_in(other["name"])
    assert refused.returncode != 0
    assert f"logged in user {live.sim_account.user_id}, but other-{live.kind} is ZZ9999" in \
        refused.stderr
    assert live.p.rows(sql.accounts, sql.accounts.c.id == other["id"])[0]["session"] is None


@KITE_AND_UPSTOX
def test_a_live_link_end_to_end(live):
    p, sim = live.p, live.sim
    sim.price(TOKEN, "2420")
    link = p.add_link(sl_pct="1", target_pct="5", paper=False, account_id=live.account["id"])
    alert = p.alert_row(p.alert(link, "BUY", SYMBOL, price="2419"))
    assert alert["status"] == "ACCEPTED", alert["reason"]
    pid = alert["position_id"]
    pos = p.position(pid, "OPEN", timeout_s=30)
    assert (pos["entry_qty"], pos["entry_value_paise"]) == (10, 10 * 242000)
    entry = live.order(f"{pid}E0")
    assert (entry["transaction_type"], entry["quantity"], entry["tradingsymbol"],
            entry["order_type"], entry["status"].upper()) == \
        ("BUY", 10, "HINDUNILVR", "MARKET", "COMPLETE")
    assert entry["product"] == {"kite": "CNC", "upstox": "D"}[live.kind]   # the default: delivery

    def exiting():   # each new price is a tick once the feed has subscribed the instrument
        sim.price(TOKEN, "2395")                          # stop 2395.80
        return p.rows(sql.positions, sql.positions.c.id == pid)[0]["state"] in ("EXITING",
                                                                                 "CLOSED")
    wait_until(exiting, 30, "the broker's ticks to trigger the stop", interval_s=0.3)
    pos = p.position(pid, "CLOSED", timeout_s=30)
    assert (pos["exit_reason"], pos["exit_trigger_paise"]) == ("SL", 239500)
    exit_order = live.order(f"{pid}X0")
    assert (exit_order["transaction_type"], exit_order["quantity"],
            exit_order["status"].upper()) == ("SELL", 10, "COMPLETE")
    for order in p.rows_when(sql.orders, sql.orders.c.position_id == pid,
                             sql.orders.c.status == "FILLED", count=2):
        at_broker = live.order(order["client_order_id"])
        [fill] = p.rows_when(sql.fills, sql.fills.c.client_order_id == order["client_order_id"],
                             count=1)
        assert (fill["broker_order_id"], fill["price_paise"], order["filled_qty"]) == \
            (at_broker["order_id"], round(at_broker["average_price"] * 100),
             at_broker["filled_quantity"])
    assert len(live.tags(pid)) == 2


@KITE_AND_UPSTOX
def test_faults_on_the_way_still_give_one_order_and_a_rejection_opens_nothing(live):
    p, sim = live.p, live.sim
    link = p.add_link(paper=False, account_id=live.account["id"])
    sim.faults(place_5xx=1, rate_limit=1)          # the gateway's 502, then a 429: retried
    pid = p.alert_row(p.alert(link, "BUY", "WIPRO", price="245"))["position_id"]
    assert p.position(pid, "OPEN", timeout_s=30)["entry_qty"] == 10
    assert live.tags(pid) == [f"{pid}E0"]
    sim.faults(reject=1)                           # the broker's RMS refuses the next one
    pid = p.alert_row(p.alert(link, "BUY", "ULTRACEMCO", price="11800"))["position_id"]
    snapshot = p.position(pid, "REJECTED", timeout_s=30)["snapshot"]
    assert snapshot["entry_qty"] == 0 and snapshot["note"].startswith("Insufficient funds")
    [order] = p.rows_when(sql.orders, sql.orders.c.position_id == pid,
                          sql.orders.c.status == "REJECTED", count=1)
    assert order["text"].startswith("Insufficient funds")


@KITE_AND_UPSTOX
def test_a_lost_answer_and_dropped_sockets_still_give_one_entry_and_one_exit(live):
    """The broker accepts the entry but its answer comes after the SDK's timeout: the order
    book shows it placed, so it is not placed again. Then every socket of the broker drops
    (order updates and market data): the exit still comes from its ticks, its fill from the
    reconnected stream or the polled book."""
    p, sim = live.p, live.sim
    sim.price("11536", "3500")
    link = p.add_link(sl_pct="1", paper=False, account_id=live.account["id"])
    sim.faults(place_timeout=1, timeout_s=3.5)
    pid = p.alert_row(p.alert(link, "BUY", "TCS", price="3500"))["position_id"]
    assert p.position(pid, "OPEN", timeout_s=30)["entry_qty"] == 10
    wait_until(lambda: sim.held_answers() == 0, 10, "the late answer to go out")
    assert sim.drop_streams() >= 2, "the order-update and the market-data sockets"

    def exiting():
        sim.price("11536", "3460")                          # stop 3465.00
        return p.rows(sql.positions, sql.positions.c.id == pid)[0]["state"] != "OPEN"
    wait_until(exiting, 30, "ticks from the reconnected feed to trigger the stop",
               interval_s=0.3)
    closed = p.position(pid, "CLOSED", timeout_s=30)
    assert (closed["exit_reason"], closed["exit_qty"]) == ("SL", 10)
    assert sorted(live.tags(pid)) == \
        [f"{pid}E0", f"{pid}X0"], "one entry and one exit at the broker"


@KITE_AND_UPSTOX
def test_a_partial_fill_holds_what_filled_and_its_exit_sells_only_that(live):
    p, sim = live.p, live.sim
    sim.faults(partial_qty=4, partial_count=1)     # 4 fill, the rest is cancelled
    link = p.add_link(paper=False, account_id=live.account["id"])
    pid = p.alert_row(p.alert(link, "BUY", "POWERGRID", price="288"))["position_id"]

    def rest_cancelled():
        rows = p.rows(sql.positions, sql.positions.c.id == pid)
        return rows and rows[0]["snapshot"].get("note") and rows[0]
    pos = wait_until(rest_cancelled, 30, "the rest of the order to be cancelled")
    assert (pos["state"], pos["entry_qty"]) == ("OPEN", 4)
    p.alert(link, "EXIT", "POWERGRID")
    assert p.position(pid, "CLOSED", timeout_s=30)["exit_qty"] == 4
    assert live.order(f"{pid}X0")["quantity"] == 4


def test_fills_counted_before_a_restart_are_not_counted_again_from_the_brokers_totals(live):
    """The entry fills 4 of 10; the worker is killed (SIGKILL) and started again, so whatever
    it held in memory about that order is gone; then the other 6 fill. The broker reports the
    order's totals (10 filled): the position holds 10, not 14, and its exit sells 10."""
    p, sim = live.p, live.sim
    sim.price("1660", "420")                                           # ITC
    sim.faults(partial_qty=4, partial_later_count=1)
    link = p.add_link(paper=False, account_id=live.account["id"])
    pid = p.alert_row(p.alert(link, "BUY", "ITC", price="420"))["position_id"]
    wait_until(lambda: p.rows(sql.positions, sql.positions.c.id == pid)[0]["entry_qty"] == 4,
               30, "the first 4 to fill")
    p.worker.kill()
    p.worker.wait()
    p.start_worker()
    sim.price("1660", "421")                                           # the other 6 fill

    def all_counted():
        row = p.rows(sql.positions, sql.positions.c.id == pid)[0]
        return row["entry_qty"] != 4 and row
    pos = wait_until(all_counted, 30, "the rest of the entry to be counted")
    assert (pos["entry_qty"], pos["entry_value_paise"]) == (10, 4 * 42000 + 6 * 42100)
    p.alert(link, "EXIT", "ITC")
    closed = p.position(pid, "CLOSED", timeout_s=30)
    assert closed["exit_qty"] == 10
    assert int(live.order(f"{pid}X0")["quantity"]) == 10
    assert live.tags(pid) == [f"{pid}E0", f"{pid}X0"]


def test_a_rejected_exit_is_retried_at_its_pace_flagged_failing_and_then_fills(live):
    """The broker refuses the exit three times while ticks keep coming under the stop: one
    new exit order per retry (0.5 s, then 1 s), not one per tick; the position is flagged
    'exit failing' at the third; the fourth fills."""
    p, sim = live.p, live.sim
    sim.price("10604", "1600")
    link = p.add_link(sl_pct="1", paper=False, account_id=live.account["id"])
    pid = p.alert_row(p.alert(link, "BUY", "BHARTIARTL", price="1600"))["position_id"]
    assert p.position(pid, "OPEN", timeout_s=30)["entry_qty"] == 10
    sim.faults(reject=3)
    ticks = 0

    def closed():
        nonlocal ticks
        ticks += 1
        sim.price("10604", "1580" if ticks % 2 else "1579.95")      # stop 1584.00
        return p.rows(sql.positions, sql.positions.c.id == pid)[0]["state"] == "CLOSED"
    wait_until(closed, 60, "the exit to fill at its fourth try", interval_s=0.05)
    exits = [o for o in sim.orders() if _tag(o).startswith(f"{pid}X")]
    assert [_tag(o) for o in exits] == [f"{pid}X{n}" for n in range(4)], \
        f"one order per retry, whatever the {ticks} prices set meanwhile"
    assert [o["status"].lower() for o in exits] == ["rejected"] * 3 + ["complete"]
    assert ticks > 20
    sent = [r["created_at_ms"] for r in sorted(
        p.rows_when(sql.orders, sql.orders.c.position_id == pid,
                    sql.orders.c.purpose == "EXIT", count=4),
        key=lambda r: r["client_order_id"])]
    assert [b - a >= wait for a, b, wait in zip(sent, sent[1:], (500, 1000, 1000))] == \
        [True] * 3, f"each retry after its backoff at least: {sent}"
    failing = p.rows_when(sql.position_events, sql.position_events.c.position_id == pid,
                          sql.position_events.c.kind == "EXIT_FAILING", count=1)
    assert "exit failing (3 tries)" in failing[0]["reason"]


@KITE_AND_UPSTOX
def test_with_the_feed_silent_a_live_position_is_priced_over_rest_and_its_stop_exits(live):
    """The broker's sockets drop and refuse to come back: no tick reaches pinewire while the
    price falls through the stop. After PINEWIRE_STALE_TICK_S (3 s here) the worker prices
    the instrument over REST, its rules run on that price, the stop exits; the trader is told
    why."""
    p, sim = live.p, live.sim
    sim.price("2475", "240")
    link = p.add_link(sl_pct="1", target_pct=None, paper=False, account_id=live.account["id"])
    pid = p.alert_row(p.alert(link, "BUY", "ONGC", price="240"))["position_id"]
    assert p.position(pid, "OPEN", timeout_s=30)["entry_qty"] == 10
    sim.faults(refuse_streams=True)
    try:
        assert sim.drop_streams() >= 1
        sim.price("2475", "236")                              # stop 237.60
        closed = p.position(pid, "CLOSED", timeout_s=60)
        assert (closed["exit_reason"], closed["exit_trigger_paise"]) == ("SL", 23600)
        [told] = p.rows_when(sql.position_events, sql.position_events.c.position_id == pid,
                             sql.position_events.c.kind == "PRICED_OVER_REST", count=1)
        assert "priced over REST at ₹236.00" in told["reason"]
    finally:
        sim.faults(refuse_streams=False)


@KITE_AND_UPSTOX
def test_an_expired_session_refuses_orders_until_the_next_login(live):
    p, sim = live.p, live.sim
    link = p.add_link(paper=False, account_id=live.account["id"])
    sim.faults(expire_sessions=True)
    pid = p.alert_row(p.alert(link, "BUY", "NTPC", price="335"))["position_id"]
    note = p.position(pid, "REJECTED", timeout_s=30)["snapshot"]["note"]
    words = {"kite": "Kite", "upstox": "Upstox"}[live.kind]
    assert note == (f"{words} refused the session's token; log in again: pinewire account "
                    f"login {live.name}")
    wait_until(lambda: p.rows(sql.accounts, sql.accounts.c.id == live.account["id"])[0][
        "health"] == note, 20, "the account's health in the ledger")
    assert live.order(f"{pid}E0") is None
    again = live.log_in()
    assert again.returncode == 0, again.stderr
    alert = p.alert_row(p.alert(link, "BUY", "ONGC", price="242"))
    assert alert["status"] == "ACCEPTED", alert["reason"]
    pid = alert["position_id"]
    assert p.position(pid, "OPEN", timeout_s=30)["entry_qty"] > 0
    assert live.order(f"{pid}E0")["status"].upper() == "COMPLETE"
    wait_until(lambda: p.rows(sql.accounts, sql.accounts.c.id == live.account["id"])[0][
        "health"] is None, 20, "the account healthy again")


def test_a_square_off_at_the_broker_closes_the_position_in_session_and_the_rest_is_reported(
        live):
    """The trader squares HDFCBANK off in the broker's own app and buys INFY there: the worker
    holding the account's session sees an order it did not place fill, compares the account
    with the broker at once and closes the HDFCBANK position at the broker's price
    (RECONCILED), sending no order; `pinewire reconcile --broker` then reports INFY, which
    pinewire never trades, and closes nothing twice."""
    p, sim = live.p, live.sim
    sim.price("1333", "1650")
    link = p.add_link(sl_pct="5", target_pct="10", paper=False, account_id=live.account["id"])
    pid = p.alert_row(p.alert(link, "BUY", "HDFCBANK", price="1650"))["position_id"]
    pos = p.position(pid, "OPEN", timeout_s=30)
    sim.price("1333", "1652.5")
    live.by_hand("HDFCBANK", "SELL", pos["entry_qty"])
    closed = p.position(pid, "CLOSED", timeout_s=30)
    assert (closed["exit_reason"], closed["exit_trigger_paise"], closed["exit_qty"]) == \
        ("RECONCILED", 165250, pos["entry_qty"])
    assert closed["realized_pnl_paise"] == pos["entry_qty"] * 165250 - pos["entry_value_paise"]
    assert not live.tags(f"{pid}X"), \
        "reconciliation never sends an order"
    placed_before = len(sim.orders())
    live.by_hand("INFY", "BUY", 7)
    wait_until(lambda: all(o["status"].upper() == "COMPLETE"
                           for o in sim.orders()[placed_before:]), 10,
               "the trader's own order to fill")
    done = subprocess.run(p.cli("reconcile", "--broker"), env=p.env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    held = net(book(sim))["INFY"]          # +7, and whatever other tests left on the account
    assert f"unknown at the broker: INFY-EQ +{held} there, none in pinewire" in done.stdout
    assert f"closed HDFCBANK-EQ {pid}" not in done.stdout, "nothing is closed twice"
    [status] = [r for r in p.http.get("/status.json").json()["broker_reconciliations"]
                if r["account"] == live.name]
    assert f"unknown at the broker: INFY-EQ +{held} there, none in pinewire: never traded by " \
           "pinewire" in status["report"]


@pytest.mark.parametrize("kind", ["smartapi", "kite", "upstox"])
def test_a_worker_killed_after_the_broker_accepted_is_taken_over_without_a_second_order(
        kind, request, kafka_url, tmp_path_factory):
    """The worker dies (SIGKILL) right after the broker accepted the entry, before its outcome
    was recorded; a new worker takes over at once (well under the 10 s after which any intent
    is looked up): the intent's durable 'placing' mark sends it to the order book first, and
    the broker holds one order."""
    with started(kind, request, kafka_url, tmp_path_factory,
                 PINEWIRE_FAULT_POINT="order_placed") as live:
        p, sim = live.p, live.sim
        sim.price("3045", "800")
        link = p.add_link(paper=False, account_id=live.account["id"])
        pid = p.alert_row(p.alert(link, "BUY", "SBIN", price="800"))["position_id"]
        wait_until(lambda: p.worker.poll() is not None, 30, "the worker to die at its point")
        p.start_worker()
        assert p.position(pid, "OPEN", timeout_s=30)["entry_qty"] == 10
        assert live.tags(pid) == [f"{pid}E0"], "one order at the broker"


def test_a_trader_cancels_a_resting_entry_and_closes_a_part_filled_one(live):
    """Nothing filled: the close cancels the entry at the broker and places nothing. 4 of 10
    filled, the rest open: the close cancels the rest and sells the 4."""
    p, sim = live.p, live.sim
    link = p.add_link(paper=False, account_id=live.account["id"], quantity=10)
    sim.faults(partial_qty=0, partial_open_count=1)
    resting = p.alert_row(p.alert(link, "BUY", "TATASTEEL", price="165"))["position_id"]
    wait_until(lambda: (o := live.order(f"{resting}E0")) and o["status"].lower() == "open", 30,
               "the entry resting at the broker")
    answer = p.http.post(f"/api/v1/positions/{resting}/close")
    assert answer.json()["positions"][0]["outcome"] == "CANCELLING", answer.text
    assert p.position(resting, "REJECTED", timeout_s=30)["entry_qty"] == 0
    assert live.order(f"{resting}E0")["status"].lower() == "cancelled"
    assert live.tags(resting) == [f"{resting}E0"]               # nothing else placed

    sim.faults(partial_qty=4, partial_open_count=1)
    part = p.alert_row(p.alert(link, "BUY", "AXISBANK", price="1180"))["position_id"]
    wait_until(lambda: (rows := p.rows(sql.positions, sql.positions.c.id == part)) and
               rows[0]["entry_qty"] == 4, 30, "4 of the entry filled")
    answer = p.http.post(f"/api/v1/positions/{part}/close")
    assert answer.json()["positions"][0]["outcome"] == "CLOSING", answer.text
    closed = p.position(part, "CLOSED", timeout_s=30)
    assert (closed["exit_reason"], closed["exit_qty"]) == ("MANUAL", 4)
    assert net(o for o in book(sim) if o["tag"].startswith(part)) == {"AXISBANK": 0}
