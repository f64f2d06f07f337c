"""Charts drawn by the server, read in a real browser: on Orders, the equity curve (realized
P&L added up trade by trade) and the realized P&L per day; on a position's page, its stop,
target and best price as they moved and its fills — each with the points it should have."""
from datetime import datetime

import pytest

from agents.risk import IST
from schemas import sql
from tests.conftest import BROKERS
from tests.e2e.browser import off_loop, register, shot, ticks
from tests.integration.harness import wait_until

pytestmark = pytest.mark.parametrize("kafka_url", BROKERS[:1], indirect=True)


def test_the_orders_page_charts_equity_and_pnl_per_day(site, browser):
    page = register(browser, site, "chitra")
    user = site.rows(sql.users, sql.users.c.username == "chitra")[0]
    link = off_loop(site.add_link, user_id=user["id"], quantity=10, sl_pct="1", target_pct="2")
    for symbol, price, path in (("ASIANPAINT", "2000", ["2040"]),    # target: +400.00
                                ("LT", "3000", ["2970"]),            # stop: -300.00
                                ("KOTAKBANK", "1800", ["1836"])):    # target: +360.00
        pid = site.alert_row(off_loop(site.alert, link, "BUY", symbol, price=price))[
            "position_id"]
        site.position(pid, "OPEN")
        ticks(site, symbol, path)
        site.position(pid, "CLOSED")
    page.goto("/orders")
    points = page.locator("#equity circle.point")
    assert [points.nth(n).get_attribute("data-y") for n in range(points.count())] == \
        ["400.00", "100.00", "460.00"]
    assert [points.nth(n).get_attribute("data-x").split()[-1]
            for n in range(points.count())] == ["ASIANPAINT-EQ", "LT-EQ", "KOTAKBANK-EQ"]
    bars = page.locator("#pnl-per-day rect.bar")
    assert [(bars.nth(n).get_attribute("data-x"), bars.nth(n).get_attribute("data-y"))
            for n in range(bars.count())] == \
        [(datetime.now(IST).date().isoformat(), "460.00")]
    shot(page, "orders-charts")


def _values(page, selector: str) -> list[str]:
    found = page.locator(selector)
    return [found.nth(n).get_attribute("data-y") for n in range(found.count())]


def test_a_positions_chart_has_its_stop_as_it_trailed_its_target_and_its_fills(site, browser):
    page = register(browser, site, "dev")
    user = site.rows(sql.users, sql.users.c.username == "dev")[0]
    link = off_loop(site.add_link, user_id=user["id"], quantity=10, sl_pct="2",
                    target_pct="5", trail_pct="1", trail_activation_pct="0")
    pid = site.alert_row(off_loop(site.alert, link, "BUY", "SUNPHARMA", price="1000"))[
        "position_id"]
    site.position(pid, "OPEN")
    for price in ("1010", "1020"):              # each high seen by the ledger before the next
        ticks(site, "SUNPHARMA", [price])
        wait_until(lambda: site.rows(sql.position_events,
                                     sql.position_events.c.position_id == pid,
                                     sql.position_events.c.best_paise == int(price) * 100), 20,
                   f"the trailing stop moved at {price}")
    ticks(site, "SUNPHARMA", ["1009"])          # under the 1,009.80 stop
    assert site.position(pid, "CLOSED")["exit_reason"] == "TRAIL"
    page.goto(f"/positions/{pid}")
    assert _values(page, "#position-chart circle.point.stop") == ["990.00", "999.90", "1009.80"]
    assert _values(page, "#position-chart circle.point.target") == ["1050.00"]
    assert _values(page, "#position-chart circle.point.best")[-2:] == ["1010.00", "1020.00"]
    assert _values(page, "#position-chart circle.mark.entry") == ["1000.00"]
    assert _values(page, "#position-chart circle.mark.exit") == ["1009.00"]
    shot(page, "position-chart")
