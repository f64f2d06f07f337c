"""Signals from ChartInk scans, and a link's entry window, through the real gateway and
pipeline."""
import json
from datetime import datetime

from schemas import market_time, sql


def test_a_chartink_alert_naming_three_stocks_one_unknown_opens_two_paper_positions(pipeline):
    link = pipeline.add_link(kind="chartink", scan_action="BUY", strategy="breakouts",
                             sl_pct="1", target_pct="2")
    pipeline.ticks("SBIN", ["801.5"])
    pipeline.ticks("RELIANCE", ["1402.1"])
    response = pipeline.post(link, json.dumps({
        "stocks": "SBIN,NOSUCHCO,RELIANCE", "trigger_prices": "801.5,55,1402.1",
        "triggered_at": "2:34 pm", "scan_name": "Short term breakouts",
        "scan_url": "short-term-breakouts", "alert_name": "Alert for Short term breakouts"}))
    assert response.status_code == 200, response.text
    answer = response.json()
    assert [a["stock"] for a in answer["alerts"]] == ["SBIN", "RELIANCE"]
    assert answer["refused"] == [{"stock": "NOSUCHCO", "error": "unknown symbol NSE:NOSUCHCO"}]

    alerts = [pipeline.alert_row(a["alert_id"]) for a in answer["alerts"]]
    assert [(a["status"], a["action"], a["source"], a["price_paise"]) for a in alerts] == [
        ("ACCEPTED", "BUY", "chartink", 80150), ("ACCEPTED", "BUY", "chartink", 140210)]
    assert alerts[0]["payload"]["scan_name"] == "Short term breakouts"
    opened = [pipeline.position(a["position_id"], "OPEN") for a in alerts]
    assert [(p["symbol"], p["side"], p["entry_value_paise"]) for p in opened] == [
        ("SBIN-EQ", "LONG", 10 * 80150), ("RELIANCE-EQ", "LONG", 10 * 140210)]    # 10 each
    rejections = pipeline.rows(sql.webhook_rejections,
                               sql.webhook_rejections.c.link_id == link["id"])
    assert [(r["status_code"], r["reason"]) for r in rejections] == [
        (422, "NOSUCHCO: unknown symbol NSE:NOSUCHCO")]


def test_a_chartink_alert_with_no_known_stock_is_a_422(pipeline):
    link = pipeline.add_link(kind="chartink", scan_action="SELL")
    response = pipeline.post(link, json.dumps({"stocks": "NOSUCHCO,ALSONOT",
                                               "trigger_prices": "1,2"}))
    assert response.status_code == 422
    assert response.json()["error"] == ("NOSUCHCO: unknown symbol NSE:NOSUCHCO; "
                                        "ALSONOT: unknown symbol NSE:ALSONOT")
    assert pipeline.rows(sql.alerts, sql.alerts.c.link_id == link["id"]) == []


def _window_without_now() -> str:
    now = datetime.now(market_time.IST)
    return "00:00-11:59" if now.hour >= 12 else "12:01-23:59"


def test_outside_its_entry_window_a_link_does_not_enter_but_still_exits(pipeline):
    link = pipeline.add_link(sl_pct="1", target_pct="2")
    opened = pipeline.alert_row(pipeline.alert(link, "BUY", "ITC", price="410"))
    pipeline.position(opened["position_id"], "OPEN")
    pipeline.set_link(link["name"], entry_window=_window_without_now())

    ignored = pipeline.alert_row(pipeline.alert(link, "BUY", "WIPRO", price="245"))
    assert ignored["status"] == "IGNORED"
    assert ignored["reason"].startswith(f"outside the entry window {_window_without_now()} IST")
    closing = pipeline.alert_row(pipeline.alert(link, "SELL", "ITC", price="411"))
    assert closing["status"] == "ACCEPTED"
    closed = pipeline.position(opened["position_id"], "CLOSED")
    assert (closed["exit_reason"], closed["exit_value_paise"]) == ("SIGNAL", 10 * 41100)
