"""Charts drawn by the server, read in a real browser: on Orders, the equity curve (realized
P&L added up trade by trade) and the realized P&L per day have the points they should."""
from datetime import datetime

import pytest

from agents.risk import IST
from schemas import sql
from tests.conftest import BROKERS
from tests.e2e.browser import off_loop, register, shot, ticks

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
