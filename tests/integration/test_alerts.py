"""Alerts through the real gateway: duplicates, strategy mismatch, bot stopped, bad bodies."""
import json

import pytest
from sqlalchemy import select

from schemas import sql
from schemas import topics as registry
from tests.integration.harness import wait_until


def test_same_alert_twice_gives_one_order(pipeline):
    link = pipeline.add_link()
    body = json.dumps({"strategy": "st", "symbol": "HDFCBANK", "action": "BUY", "price": "1980",
                       "time": "2026-11-21T09:20:00Z"})
    first = pipeline.post(link, body).json()["alert_id"]
    second = pipeline.post(link, body + "\n", **{"content-type": "text/plain"}).json()["alert_id"]
    assert pipeline.alert_row(first)["status"] == "ACCEPTED"
    dup = pipeline.alert_row(second)
    assert dup["status"] == "IGNORED" and f"duplicate of alert {first}" in dup["reason"]
    # the ledger writes each topic's records in its own batches: the order may follow the alert
    orders = pipeline.rows_when(sql.orders, sql.orders.c.link_id == link["id"], count=1)
    assert len(orders) == 1
    intents = [r for r in pipeline.topic_records(registry.ORDERS) if r[3]["link_id"] == link["id"]]
    assert [i[3]["alert_id"] for i in intents] == [first]


def test_strategy_mismatch_is_ignored_and_recorded(pipeline):
    link = pipeline.add_link(strategy="supertrend")
    alert = pipeline.alert_row(pipeline.alert(link, "BUY", "ICICIBANK", price="1380",
                                              strategy="other"))
    assert alert["status"] == "IGNORED" and "does not match" in alert["reason"]
    assert pipeline.rows(sql.orders, sql.orders.c.link_id == link["id"]) == []


def test_bot_stopped_ignores_new_alerts_while_open_position_still_exits(pipeline):
    link = pipeline.add_link(sl_pct="1", target_pct="2")
    opened = pipeline.alert_row(pipeline.alert(link, "BUY", "LT", price="3600"))
    pipeline.position(opened["position_id"], "OPEN")
    pipeline.set_bot(False)
    try:
        ignored = pipeline.alert_row(pipeline.alert(link, "SELL", "AXISBANK", price="1180"))
        assert ignored["status"] == "IGNORED" and ignored["reason"] == "bot is stopped"
        pipeline.ticks("LT", ["3590", "3564"])            # stop 3564
        pos = pipeline.position(opened["position_id"], "CLOSED")
        assert pos["exit_reason"] == "SL"
    finally:
        pipeline.set_bot(True)


def test_an_exit_alert_closes_with_the_bot_stopped_and_with_the_link_disabled(pipeline):
    """Stopping means 'open nothing new': the alerts that close still close."""
    link = pipeline.add_link(sl_pct="5", target_pct="5")
    first = pipeline.alert_row(pipeline.alert(link, "BUY", "SUNPHARMA", price="1700"))
    second = pipeline.alert_row(pipeline.alert(link, "BUY", "TITAN", price="3300"))
    pipeline.position(first["position_id"], "OPEN")
    pipeline.position(second["position_id"], "OPEN")
    pipeline.set_bot(False)
    try:
        closing = pipeline.alert_row(pipeline.alert(link, "EXIT", "SUNPHARMA"))
        assert closing["status"] == "ACCEPTED" and "closing is never blocked" in \
            closing["reason"]
        assert pipeline.position(first["position_id"], "CLOSED")["exit_reason"] == "SIGNAL"
    finally:
        pipeline.set_bot(True)
    pipeline.set_link(link["name"], enabled=False)
    closing = pipeline.alert_row(pipeline.alert(link, "SELL", "TITAN", price="3310"))
    assert closing["status"] == "ACCEPTED" and "link is disabled" in closing["reason"]
    assert pipeline.position(second["position_id"], "CLOSED")["exit_reason"] == "SIGNAL"
    refused = pipeline.alert_row(pipeline.alert(link, "BUY", "TITAN", price="3310"))
    assert refused["status"] == "IGNORED" and refused["reason"] == "link is disabled"


@pytest.mark.parametrize("body,status,message", [
    (b"BUY RELIANCE", 422, "not valid JSON"),
    (b'{"symbol":"RELIANCE","action":"{{strategy.order.action}}"}', 422, "placeholder"),
    (b'{"symbol":"RELIANCE","action":"HOLD"}', 422, "unknown action"),
    (b'{"action":"BUY"}', 422, "missing symbol"),
    (b'{"symbol":"NOSUCHCO","action":"BUY"}', 422, "unknown symbol"),
    (b'{"symbol":"RELIANCE","action":"BUY","pad":"' + b"x" * 17000 + b'"}', 413, "larger"),
])
def test_malformed_bodies_get_4xx_and_nothing_reaches_the_orders_topic(pipeline, body, status,
                                                                       message):
    link = pipeline.add_link()
    response = pipeline.post(link, body)
    assert response.status_code == status and message in response.json()["error"]
    rejections = pipeline.rows(sql.webhook_rejections,
                               sql.webhook_rejections.c.link_id == link["id"])
    assert [r["status_code"] for r in rejections] == [status]
    assert pipeline.rows(sql.alerts, sql.alerts.c.link_id == link["id"]) == []
    assert not [r for r in pipeline.topic_records(registry.ORDERS)
                if r[3]["link_id"] == link["id"]]
    assert link["token"] not in (pipeline.data_dir / "logs" / "web.log").read_text()


def test_webhook_tokens_are_kept_sealed_and_never_logged_however_the_url_is_spelled(pipeline):
    link = pipeline.add_link()
    token = link["token"]
    for path in (f"/HOOK/{token.upper()}", f"/Hook/{token}", f"/{token}",
                 f"/hook/{token}/again", f"/api/hook/{token}"):
        assert 400 <= pipeline.http.post(path, content=b"{}").status_code < 500, path
    assert pipeline.post(link, b"{}").status_code == 422
    log = pipeline.data_dir / "logs" / "web.log"
    text = wait_until(lambda: "POST /api/hook/<token> " in (t := log.read_text()) and
                      "POST /<token?> " in t and t, 10, "the requests in the access log")
    assert token not in text and token.upper() not in text
    with pipeline.engine.connect() as conn:
        row = conn.execute(select(sql.links).where(sql.links.c.id == link["id"])).one()
    assert token not in " ".join(str(v) for v in row), "the links table holds no clear token"
    shown = pipeline.http.get("/api/v1/links").json()
    assert f"/hook/{token}" in next(v["webhook_url"] for v in shown if v["id"] == link["id"])


def test_unknown_token_is_a_bare_404(pipeline):
    response = pipeline.http.post("/hook/not-a-real-token", content=b'{"action":"BUY"}')
    assert response.status_code == 404 and response.json() == {"error": "not found"}
