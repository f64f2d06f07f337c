"""The dashboard in a real browser (Debian's Chromium driven by Playwright) against a real
pipeline: two traders register; A adds a broker account against the SmartAPI simulator and tests
it, creates a paper link, copies its URL, sends an alert, watches the position open and close on
replayed ticks without reloading, downloads the CSV, stops the bot and finds the next alert
ignored in Logs; B sees none of it. A screenshot of every page goes to the run's artifacts."""
import csv
import io
import json
from pathlib import Path

import httpx
import pytest

from schemas import sql
from tests.conftest import BROKERS
from tests.e2e.browser import off_loop, register, shot, ticks
from tests.integration.harness import wait_until

# The browser's side does not change with the broker; the pipeline under it runs on both in
# tests/integration. Here: the first of the session's brokers only.
pytestmark = pytest.mark.parametrize("kafka_url", BROKERS[:1], indirect=True)


def test_two_traders_in_the_dashboard(site, browser, sim_account, smartapi_sim):
    a = register(browser, site, "asha")
    shot(a, "live-empty")

    a.goto("/accounts")
    a.fill("#add-account input[name=name]", "angel")
    a.fill("#add-account input[name=client_code]", sim_account.client_code)
    a.fill("#add-account input[name=api_key]", sim_account.api_key)
    a.fill("#add-account input[name=pin]", sim_account.pin)
    a.fill("#add-account input[name=totp_secret]", sim_account.totp_secret)
    a.click("#save-account")
    assert "credentials are encrypted" in a.inner_text("#message")
    page_text = a.content()
    for secret in (sim_account.api_key, sim_account.pin, sim_account.totp_secret):
        assert secret not in page_text
    a.click("#account-angel button.test")
    assert a.inner_text("#message").startswith("Connection OK: logged in as")
    shot(a, "accounts")

    a.goto("/links/new")
    shot(a, "link-form")
    a.fill("#f-name", "demo")
    a.fill("#f-strategy", "st")
    a.fill("#f-quantity", "0")
    a.click("#save-link")
    assert "at least 1" in a.inner_text("#error-quantity")       # next to its field
    a.fill("#f-quantity", "10")
    a.fill("#f-sl_pct", "1")
    a.fill("#f-target_pct", "")
    a.click("#save-link")
    assert "link demo created" in a.inner_text("#message")
    a.click("#link-demo button.copy >> nth=0")
    url = a.evaluate("navigator.clipboard.readText()")
    assert url == a.inner_text("#link-demo .webhook-url") and "/hook/" in url
    shot(a, "links")

    a.goto("/live")
    ticks(site, "RELIANCE", ["1405"])
    assert httpx.post(url, content=json.dumps({"strategy": "st", "symbol": "RELIANCE",
                                               "action": "BUY"})).status_code == 200
    a.wait_for_selector("#live-positions tr[data-id] >> text=RELIANCE-EQ", timeout=20_000)
    a.wait_for_selector("#live-positions td.state >> text=OPEN", timeout=20_000)
    shot(a, "live-open")
    pid = a.get_attribute("#live-positions tr[data-id]", "data-id")
    stop = a.inner_text("#live-positions tr[data-id] td:nth-child(7)")
    assert stop == "₹1,390.95", stop                            # 1 % under the 1405 entry
    ticks(site, "RELIANCE", ["1400", "1390.95"])
    a.wait_for_selector("#live-positions tr.empty", timeout=20_000)   # closed, no reload

    a.goto(f"/positions/{pid}")
    timeline = a.inner_text("#timeline")
    assert "alert" in timeline and "fill" in timeline and "EXIT SELL 10" in timeline
    shot(a, "position")

    a.goto("/orders")
    with a.expect_download() as download:
        a.click("#download-csv")
    rows = list(csv.DictReader(io.StringIO(Path(download.value.path()).read_text())))
    assert sorted((r["purpose"], r["status"], r["quantity"]) for r in rows
                  if r["position_id"] == pid) == [("ENTRY", "FILLED", "10"),
                                                   ("EXIT", "FILLED", "10")]
    shot(a, "orders")

    a.click("#bot-stop")
    assert a.inner_text("#bot-state") == "stopped"
    assert httpx.post(url, content=json.dumps({"strategy": "st", "symbol": "SBIN",
                                               "action": "BUY"})).status_code == 200
    a.goto("/logs")
    wait_until(lambda: "bot is stopped" in (a.reload() and a.inner_text("#logs")), 20,
               "the ignored alert in Logs", interval_s=0.5)
    shot(a, "logs")

    b = register(browser, site, "bala")
    for path in ("/live", "/links", "/accounts", "/orders", "/logs"):
        b.goto(path)
        text = b.content()
        assert "RELIANCE" not in text and "demo" not in text and "angel" not in text, path
        assert "/hook/" not in text, path
    assert b.goto(f"/positions/{pid}").status == 404
    assert b.request.get("/api/v1/positions?state=closed").json() == []
    assert "RELIANCE" not in b.request.get("/orders.csv").text()
    assert b.goto("/status").status == 403
    shot(b, "other-trader")

    admin = browser.new_context(base_url=site.settings.base_url).new_page()
    admin.goto("/login")
    shot(admin, "login")
    admin.fill("input[name=username]", "admin")
    admin.fill("input[name=password]", site.password)
    admin.click("#sign-in")
    admin.goto("/status")
    assert "pinewire status" in admin.content()
    shot(admin, "status")
    admin.goto("/password")
    shot(admin, "password")
    admin.goto("/admin")
    assert "asha" in admin.inner_text("#user-bots") and "stopped" in admin.inner_text("#user-bots")
    shot(admin, "admin")


def test_a_kite_account_added_and_logged_in_for_the_day_in_the_browser(site, browser, kite_sim,
                                                                      kite_account):
    k = register(browser, site, "kiran")
    k.goto("/accounts")
    k.select_option("#broker", "kite")
    assert k.is_hidden("#add-account input[name=pin]")        # SmartAPI's fields go away
    k.fill("#add-account input[name=name]", "zerodha")
    k.fill("#add-account input[name=client_code]", kite_account.user_id)
    k.fill("#add-account input[name=api_key]", kite_account.api_key)
    k.fill("#add-account input[name=api_secret]", kite_account.api_secret)
    k.click("#save-account")
    assert "credentials are encrypted" in k.inner_text("#message")
    assert "Zerodha Kite" in k.inner_text("#account-zerodha")
    assert k.inner_text("#account-zerodha .session") == "(not logged in)"
    account_id = k.get_attribute("#account-zerodha form.inline", "action").split("/")[2]
    # "Log in at Zerodha Kite" goes to Kite's own page for this app
    to_kite = k.request.get(f"/accounts/{account_id}/broker-login", max_redirects=0)
    assert to_kite.status == 302 and to_kite.headers["location"] == \
        f"{kite_sim.root}/connect/login?api_key={kite_account.api_key}&v=3"
    k.click("#account-zerodha details.daily-login summary")
    k.fill("#account-zerodha input[name=redirect]",
           kite_sim.redirect_after_login(kite_account.api_key))   # what Kite sends back
    k.click("#account-zerodha details.daily-login button")
    assert "logged in; the session lasts until 06:00 IST on" in k.inner_text("#message")
    assert "(session until 06:00 IST on" in k.inner_text("#account-zerodha .session")
    k.click("#account-zerodha button.test")
    assert k.inner_text("#message").startswith("Connection OK: logged in as SIMULATED TRADER")
    page_text = k.content()
    for secret in [kite_account.api_secret, kite_account.api_key] + kite_sim.tokens():
        assert secret not in page_text
    shot(k, "accounts-kite")


def test_a_trader_moves_a_stop_closes_one_and_flattens_everything(site, browser):
    """On a position's page a stop above the price is refused in words, a stop moved to
    ₹2,410 fires there on replayed ticks; on Live one row's Close closes it at market, and
    Flatten closes the rest only once FLATTEN is typed; a row drawn live has its Close and its
    unrealized P&L follows the price."""
    page = register(browser, site, "erin")
    erin = site.rows(sql.users, sql.users.c.username == "erin")[0]
    link = off_loop(site.add_link, user_id=erin["id"], quantity=10, sl_pct="1", target_pct="5")
    opened = {symbol: site.alert_row(off_loop(site.alert, link, "BUY", symbol,
                                              price=price))["position_id"]
              for symbol, price in (("HINDUNILVR", "2420"), ("HCLTECH", "1480"),
                                    ("ONGC", "242"), ("NTPC", "335"))}
    for pid in opened.values():
        site.position(pid, "OPEN")

    pid = opened["HINDUNILVR"]
    page.goto(f"/positions/{pid}")
    page.fill("#levels input[name=stop]", "2430")
    page.click("#levels button")
    assert "a stop at ₹2430.00 is at or above the last price ₹2420.00" in \
        page.inner_text("#message")
    page.fill("#levels input[name=stop]", "2410")
    page.click("#levels button")
    assert "stop ₹2410.00" in page.inner_text("#message") and \
        "(erin from the dashboard)" in page.inner_text("#message")
    shot(page, "position-levels")
    ticks(site, "HINDUNILVR", ["2411", "2410"])
    closed = site.position(pid, "CLOSED")
    assert (closed["exit_reason"], closed["exit_trigger_paise"]) == ("SL", 241000)

    page.goto("/live")
    page.click(f"#live-positions tr[data-id='{opened['HCLTECH']}'] button.close")
    assert "LONG HCLTECH-EQ: closing 10 at market (erin from the dashboard)" in \
        page.inner_text("#message")
    assert site.position(opened["HCLTECH"], "CLOSED")["exit_reason"] == "MANUAL"

    page.goto("/live")
    page.fill("#flatten input[name=confirm]", "yes")
    page.click("#flatten button")
    assert "nothing closed: type FLATTEN" in page.inner_text("#message")
    assert site.rows(sql.positions, sql.positions.c.id == opened["ONGC"])[0]["state"] == "OPEN"
    page.fill("#flatten input[name=confirm]", "FLATTEN")
    page.click("#flatten button")
    assert "closing 10 at market" in page.inner_text("#message")
    for symbol in ("ONGC", "NTPC"):
        assert site.position(opened[symbol], "CLOSED")["exit_reason"] == "MANUAL"
    page.wait_for_selector("#live-positions tr.empty", timeout=20_000)
    shot(page, "live-flattened")

    # a position that opens while the page is open: drawn with its Close, its P&L follows
    pid = site.alert_row(off_loop(site.alert, link, "BUY", "POWERGRID", price="288"))[
        "position_id"]
    row = f"#live-positions tr[data-id='{pid}']"
    page.wait_for_selector(f"{row} button.close", timeout=20_000)
    ticks(site, "POWERGRID", ["290.50"])
    page.wait_for_selector(f"{row} td.pnl >> text=25.00", timeout=20_000)   # 2.50 x 10
    page.click(f"{row} button.close")
    assert site.position(pid, "CLOSED")["exit_reason"] == "MANUAL"
