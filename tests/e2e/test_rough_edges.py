"""What a trader notices at once on the pages, each in a real browser: the day's summary,
money in rupees to the paisa, orders with their prices, forms that name their own fields, the charges in rupees, a
link form without another source's settings, refusals in the site's layout, a new account that
has never logged in, a TOTP seed refused saying why, logs that name positions rather than ids,
a new install that opens on its setup, the admin's add-user page, and signing out."""
import csv
import io
import re
from pathlib import Path

import pytest

from schemas import sql
from tests.conftest import BROKERS
from tests.e2e.browser import off_loop, register, shot, ticks, visitor
from tests.integration.harness import Pipeline, wait_until

pytestmark = pytest.mark.parametrize("kafka_url", BROKERS[:1], indirect=True)


def _user_link(site, username: str, **settings) -> dict:
    user = site.rows(sql.users, sql.users.c.username == username)[0]
    return off_loop(site.add_link, user_id=user["id"], **{"quantity": 10, **settings})


def test_money_is_in_rupees_to_the_paisa_and_orders_show_their_prices(site, browser):
    page = register(browser, site, "ravi")
    link = _user_link(site, "ravi", sl_pct="1", target_pct="5")
    pid = site.alert_row(off_loop(site.alert, link, "BUY", "ITC", price="301.5"))["position_id"]
    site.position(pid, "OPEN")
    page.goto("/live")
    row = f"#live-positions tr[data-id='{pid}']"
    # entry; the stop 1 % under it (298.485) and the target 5 % over it (316.575), half up
    assert [page.inner_text(f"{row} td:nth-child({n})") for n in (5, 7, 8)] == \
        ["₹301.50", "₹298.49", "₹316.58"]
    ticks(site, "ITC", ["311"])
    page.wait_for_selector(f"{row} td.pnl >> text=₹95.00", timeout=20_000)   # 9.50 x 10
    page.click(f"{row} button.close")
    site.position(pid, "CLOSED")

    page.goto("/orders")
    rows = page.locator(f"#orders tr:has(a[href='/positions/{pid}'])")
    shown = {r.locator("td:nth-child(3)").inner_text(): (r.locator("td.order-price").inner_text(),
                                                         r.locator("td.fill-price").inner_text())
             for r in (rows.nth(n) for n in range(rows.count()))}
    assert shown["ENTRY"] == ("₹301.50", "₹301.50") and shown["EXIT"][1] == "₹311.00"
    with page.expect_download() as download:
        page.click("#download-csv")
    rows = [r for r in csv.DictReader(io.StringIO(Path(download.value.path()).read_text()))
            if r["position_id"] == pid]
    assert sorted((r["purpose"], r["fill_price"]) for r in rows) == \
        [("ENTRY", "301.50"), ("EXIT", "311.00")]
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+05:30", r["created_at"])
               for r in rows), [r["created_at"] for r in rows]
    shot(page, "orders-prices")


def test_the_days_summary_per_link_and_in_total(site, browser):
    page = register(browser, site, "sara")
    swing = _user_link(site, "sara", name="swing", sl_pct="1", target_pct="2")
    hold = _user_link(site, "sara", name="hold", sl_pct="5", target_pct=None)
    for symbol, price, path in (("TATASTEEL", "150", ["153"]),       # target: +30.00
                                ("AXISBANK", "1000", ["990"])):      # stop: -100.00
        pid = site.alert_row(off_loop(site.alert, swing, "BUY", symbol, price=price))[
            "position_id"]
        site.position(pid, "OPEN")
        ticks(site, symbol, path)
        site.position(pid, "CLOSED")
    site.position(site.alert_row(off_loop(site.alert, hold, "BUY", "MARUTI", price="12000"))[
        "position_id"], "OPEN")
    ticks(site, "MARUTI", ["12010"])                                  # open: +100.00

    def row(name: str) -> list[str]:
        cells = page.locator(f"#today tr:has(td:text-is('{name}')) td")
        return [cells.nth(n).inner_text() for n in range(1, 7)]
    wait_until(lambda: (page.goto("/live"), row("hold")[1] == "₹100.00")[1], 30,
               "the open position's P&L at the last price")
    assert row("swing") == ["-₹70.00", "₹0.00", "2", "50 %", "₹100.00", "0"]
    assert row("hold") == ["₹0.00", "₹100.00", "0", "—", "₹0.00", "1"]
    assert row("Total") == ["-₹70.00", "₹100.00", "2", "50 %", "₹100.00", "1"]
    shot(page, "live-today")


def test_a_row_that_closed_while_the_page_was_not_listening_goes_away(site, browser):
    page = register(browser, site, "vikram")
    link = _user_link(site, "vikram", sl_pct="1", target_pct=None)
    pid = site.alert_row(off_loop(site.alert, link, "BUY", "WIPRO", price="250"))["position_id"]
    site.position(pid, "OPEN")
    page.route("**/live/events", lambda route: route.abort())     # no event reaches the page
    page.goto("/live")
    page.wait_for_selector(f"#live-positions tr[data-id='{pid}']")
    ticks(site, "WIPRO", ["247"])                                # through its 247.50 stop
    site.position(pid, "CLOSED")
    page.unroute("**/live/events")                               # the stream comes back
    page.wait_for_selector("#live-positions tr.empty", timeout=20_000)


def test_the_link_form_names_its_own_fields_and_takes_rupees(site, browser):
    page = register(browser, site, "uma")
    page.goto("/links/new")
    page.fill("#f-name", "forms")
    page.fill("#f-strategy", "st")
    page.fill("#f-quantity", "5")
    page.fill("#f-sl_pct", "150")
    page.click("#save-link")
    assert page.inner_text("#error-sl_pct").startswith(
        "Stop-loss % must be between 0 and 100 percent")
    page.fill("#f-sl_pct", "1")
    page.fill("#f-risk_pct", "2")
    page.click("#save-link")
    assert page.inner_text("#error-capital_paise").startswith(
        "Size by risk: % of capital needs Capital (₹) for risk sizing")
    assert "--" not in page.inner_text("main")            # no CLI flag on the page
    assert "(₹)" in page.inner_text("label:has(#f-fee_paise)")
    page.fill("#f-risk_pct", "")
    page.fill("#f-capital_paise", "150000.5")
    page.fill("#f-fee_paise", "20")
    page.fill("#f-target_pct", "10")
    page.click("#save-link")
    assert "link forms created" in page.inner_text("#message")
    assert "target 10 %" in page.inner_text("#link-forms")          # never "1E+1 %"
    stored = site.rows(sql.links, sql.links.c.name == "forms")[0]
    assert (stored["capital_paise"], stored["fee_paise"]) == (15_000_050, 2_000)

    page.click("#link-forms a:text('Edit')")              # shown in rupees, saved unchanged
    assert (page.input_value("#f-capital_paise"), page.input_value("#f-fee_paise")) == \
        ("150000.50", "20.00")
    page.click("#save-link")
    assert "link forms saved" in page.inner_text("#message")
    stored = site.rows(sql.links, sql.links.c.name == "forms")[0]
    assert (stored["capital_paise"], stored["fee_paise"]) == (15_000_050, 2_000)


def test_a_tradingview_links_form_has_no_chartink_action(site, browser):
    page = register(browser, site, "tara")
    link = _user_link(site, "tara")
    page.goto(f"/links/{link['id']}/edit")
    assert page.is_hidden("#row-scan_action")
    page.select_option("#f-kind", "chartink")
    assert page.is_visible("#row-scan_action")


def test_a_page_not_there_or_not_allowed_keeps_the_sites_layout(site, browser):
    page = register(browser, site, "noor")
    for path, status, words in (("/positions/0123456789abcdef", 404, "No such position."),
                                ("/no-such-page", 404, "There is no such page."),
                                ("/admin", 403, "Only the admin may see this page.")):
        assert page.goto(path).status == status
        assert page.inner_text("#problem") == words
        assert page.is_visible("header nav a[href='/live']") and page.is_visible("#back")
    shot(page, "not-found")


def test_a_new_account_has_never_logged_in_and_a_short_totp_seed_is_refused_saying_why(
        site, browser, sim_account):
    page = register(browser, site, "omar")
    page.goto("/accounts")
    form = {"name": "angel", "client_code": sim_account.client_code,
            "api_key": sim_account.api_key, "pin": sim_account.pin,
            "totp_secret": "JBSWY3DPEHPK3PXP"}                  # 16 characters: 80 bits
    for name, value in form.items():
        page.fill(f"#add-account input[name={name}]", value)
    page.click("#save-account")
    assert "the TOTP secret is 16 characters (80 bits); a seed needs at least 23" in \
        page.inner_text("#error")
    for name, value in {**form, "totp_secret": sim_account.totp_secret}.items():
        page.fill(f"#add-account input[name={name}]", value)
    page.click("#save-account")
    health = "#account-angel td:nth-child(6)"
    assert page.inner_text(health) == "never logged in"
    page.click("#account-angel button.test")
    assert page.inner_text(health) == "ok"


def test_the_logs_name_a_position_by_its_instrument_and_link_to_it(site, browser):
    page = register(browser, site, "leela")
    link = _user_link(site, "leela")
    # no price and no tick: the paper entry waits, then is rejected (PINEWIRE_PAPER_FILL_TIMEOUT_S)
    pid = site.alert_row(off_loop(site.alert, link, "BUY", "TITAN"))["position_id"]
    site.position(pid, "REJECTED", timeout_s=40)
    page.goto("/logs")
    rejected = "#logs tr:has-text('entry order BUY 10 TITAN-EQ rejected')"
    wait_until(lambda: (page.reload(), page.locator(rejected).count() == 1)[1], 20,
               "the rejection in the logs")
    order_ids = {r["client_order_id"] for r in site.rows(sql.orders,
                                                         sql.orders.c.position_id == pid)}
    assert not any(i in page.inner_text("#logs") for i in order_ids | {pid})
    page.click(f"{rejected} a.position")
    assert page.url.endswith(f"/positions/{pid}")


def test_a_new_install_opens_on_the_first_users_setup(kafka_url, browser, tmp_path):
    fresh = Pipeline(tmp_path, kafka_url)
    with fresh.engine.begin() as conn:                   # as before anyone has registered
        conn.execute(sql.api_tokens.delete())
        conn.execute(sql.users.delete())
    try:
        off_loop(fresh.prepare_topics)
        fresh.start_web()           # from this thread: the web app lives as long as its spawner
        page = visitor(browser, fresh.settings.base_url)
        page.goto("/")
        assert page.url.endswith("/register")
        assert page.inner_text("h1") == "Set up pinewire" and page.is_visible("#f-code")
    finally:
        fresh.stop()


def test_the_admins_add_user_page_says_so_and_signing_out_says_so(site, browser):
    page = visitor(browser, site.settings.base_url)
    page.goto("/login")
    page.fill("input[name=username]", "admin")
    page.fill("input[name=password]", site.password)
    page.click("#sign-in")
    page.goto("/admin")
    page.click("a[href='/register']")
    assert page.inner_text("h1") == "Add a user" and page.title().startswith("Add a user")
    page.click("header button.link")
    assert page.url.split("?")[0].endswith("/login")
    assert page.inner_text("#message") == "signed out"
