"""A sweep with a walk-forward split, from the command line, and the HTML report of the
combination it chose, read in Chromium: every figure, curve, bar and mark the JSON of the same
run says it should have — each trade's own chart with its stop and fills too — and nothing
fetched from anywhere but the file itself."""
import json
import subprocess
from fractions import Fraction

import pytest

from bench.backtest import write_year
from schemas import instruments
from schemas.money import paise_to_rupees, signed_rupees
from tests.conftest import BROKERS
from tests.e2e.browser import off_loop, shot

pytestmark = pytest.mark.parametrize("kafka_url", BROKERS[:1], indirect=True)


def test_a_walk_forward_sweeps_report_opens_with_its_charts_drawn(site, browser, tmp_path):
    off_loop(site.add_link, name="swept", quantity=1, sl_pct="1", target_pct="2")
    token = instruments.lookup("RELIANCE").token
    ticks, report, found = tmp_path / "ticks.csv", tmp_path / "report.html", tmp_path / "r.json"
    write_year(ticks, token, seed=5, days=10)     # 2 to 15 January 2025, 1-minute candles
    done = subprocess.run(site.cli(
        "backtest", "--strategy", "sma_cross", "--params", '{"timeframe": 1}', "--link",
        "swept", "--ticks", str(ticks), "--grid", "fast=3..9:3,slow=6..12:3", "--train",
        "2025-01-01..2025-01-09", "--test", "2025-01-10..2025-01-31", "--top", "3", "--html",
        str(report), "--json", str(found)), env=site.env, capture_output=True, text=True,
        timeout=120)
    assert done.returncode == 0, done.stderr
    assert "walk-forward: 6 combinations ranked by net" in done.stdout
    result = json.loads(found.read_text())
    rows = result["sweep"]["walk_forward"]["rows"]
    assert len(rows) == 3 and result["params"] == rows[0]["params"]
    assert result["pnl_paise"] == rows[0]["test"]["pnl_paise"]     # the report is the test's
    trades = result["trades"]
    closed = [t for t in trades if t["pnl_paise"] is not None]
    assert closed, "the chosen parameters traded nothing in the test days"

    page = browser.new_page()
    fetched: list[str] = []
    page.on("request", lambda r: fetched.append(r.url))
    page.goto(report.as_uri())
    assert set(fetched) == {report.as_uri()}
    figures = dict(zip(page.locator("#figures th").all_inner_texts(),
                       page.locator("#figures td").all_inner_texts()))
    assert (figures["Trades"], figures["Net P&L"]) == (str(len(trades)),
                                                       signed_rupees(result["pnl_paise"]))
    assert page.locator("#walk-forward tr").count() == 1 + 3
    equity = page.locator("#equity circle.point")
    assert equity.count() == len(closed)
    assert equity.nth(len(closed) - 1).get_attribute("data-y") == \
        signed_rupees(result["pnl_paise"])
    assert page.locator("#drawdown circle.point").count() == len(closed)
    assert page.locator("#months rect.bar").all() and \
        page.locator("#months rect.bar").first.get_attribute("data-x") == "2025-01"
    chart = page.locator(f"#price-{token}")
    assert chart.locator("polyline.price").count() == 1
    assert chart.locator("circle.mark.entry").count() == len(trades)
    assert chart.locator("circle.mark.exit").count() == \
        sum(1 for t in trades if t["exit_paise"])
    assert page.locator("#trades tr").count() == 1 + len(trades)
    # each trade's own chart, as a position's page draws it: the first's stop is 1 % below
    # its entry (the link's), its entry and exit fills marked
    assert page.locator("details[id^=trade-]").count() == len(trades)
    first = trades[0]
    page.locator("#trade-1 summary").click()
    chart = page.locator("#trade-chart-1")
    assert chart.locator("circle.point.stop").first.get_attribute("data-y") == \
        paise_to_rupees(Fraction(first["entry_paise"] * 99, 100) if first["side"] == "LONG"
                        else Fraction(first["entry_paise"] * 101, 100))
    marks = chart.locator("circle.mark")
    assert [marks.nth(n).get_attribute("data-y") for n in range(marks.count())] == \
        [paise_to_rupees(first["entry_paise"])] + \
        ([paise_to_rupees(first["exit_paise"])] if first["exit_paise"] else [])
    shot(page, "backtest-report")
    page.close()
