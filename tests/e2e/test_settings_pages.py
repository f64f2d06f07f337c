"""Strategies, universes and Telegram messages from the dashboard, as from the terminal: the
same validation (a refusal in its words), a bot token never shown again, a test message through
a fake Bot API; and the JSON API's endpoints for each, where another user's are 404 and never
listed."""
import httpx
import pytest

from schemas import sql
from tests.conftest import BROKERS
from tests.e2e.browser import off_loop, register, shot
from tests.integration.harness import SECRETS
from webapp import users

pytestmark = pytest.mark.parametrize("kafka_url", BROKERS[:1], indirect=True)
BOT_TOKEN = "987654321:" + "AAF" * 12
SECRETS.add(BOT_TOKEN)           # never in a log or a topic (test_zz_secrets_audit)


def _api(site, username: str) -> httpx.Client:
    user = site.rows(sql.users, sql.users.c.username == username)[0]
    token = users.new_token(site.engine, user["id"], "tests")
    SECRETS.add(token)
    return httpx.Client(base_url=site.settings.base_url, timeout=10,
                        headers={"Authorization": f"Bearer {token}"})


def test_strategies_and_universes_from_the_dashboard_and_the_api(site, browser):
    page = register(browser, site, "maya")
    user = site.rows(sql.users, sql.users.c.username == "maya")[0]
    link = off_loop(site.add_link, user_id=user["id"], name="trend")
    page.goto("/strategies")
    page.select_option("#s-name", "sma_cross")
    page.fill("#s-params", '{"fast": 2, "slow": 3, "timeframe": 1')
    page.click("#attach-strategy")
    assert "the parameters are not JSON" in page.inner_text("#error")
    page.fill("#s-params", '{"fast": 2, "slow": 3, "timeframe": 1}')
    page.fill("#s-symbols", "SBIN, NOPE")
    page.click("#attach-strategy")
    assert page.inner_text("#error") == "unknown symbol(s): NOPE"
    page.fill("#s-symbols", "SBIN, INFY")
    page.click("#attach-strategy")
    assert page.inner_text("#message") == "sma_cross attached to link trend (2 instrument(s))"
    assert "NSE:SBIN-EQ, NSE:INFY-EQ" in page.inner_text("#attached-trend")

    page.fill("#u-name", "banks")
    page.fill("#u-symbols", "HDFCBANK\nICICIBANK KOTAKBANK")
    page.click("#save-universe")
    assert page.inner_text("#message") == "universe banks: 3 instrument(s)"
    page.fill("#s-params", '{"fast": 2, "slow": 3, "timeframe": 1}')
    page.select_option("#s-universe", "banks")
    page.click("#attach-strategy")                               # replaces the first
    assert "universe banks (3)" in page.inner_text("#attached-trend")
    shot(page, "strategies")

    mine, other = _api(site, "maya"), (register(browser, site, "neha"), _api(site, "neha"))[1]
    listed = mine.get("/api/v1/strategies").json()
    assert [(a["link"], a["universe"], len(a["symbols"])) for a in listed] == \
        [("trend", "banks", 3)]
    assert other.get("/api/v1/strategies").json() == []
    assert other.get("/api/v1/universes").json() == []
    assert other.delete(f"/api/v1/strategies/{link['id']}").status_code == 404
    assert other.post("/api/v1/strategies", json={
        "link_id": link["id"], "name": "sma_cross", "params": {}, "symbols": ["SBIN"]}
    ).status_code == 404
    bad = mine.post("/api/v1/strategies", json={"link_id": link["id"], "name": "nope",
                                                "params": {}, "symbols": ["SBIN"]})
    assert bad.status_code == 422 and bad.json()["error"].startswith("no strategy named 'nope'")
    assert mine.post("/api/v1/universes", json={"name": "it", "symbols": ["INFY", "TCS"]}
                     ).json() == {"name": "it", "symbols": ["NSE:INFY-EQ", "NSE:TCS-EQ"]}

    page.click("#attached-trend button.detach")
    assert page.inner_text("#message") == "sma_cross detached from link trend"
    assert mine.get("/api/v1/strategies").json() == []


def test_telegram_messages_from_the_dashboard_and_the_api(site, browser, fake_telegram):
    page = register(browser, site, "ira")
    page.goto("/telegram")
    assert "No Telegram chat set" in page.inner_text("#telegram-state")
    page.fill("#t-token", "not-a-token")
    page.fill("#t-chat", "777001")
    page.click("#t-save")
    assert "the bot token is not one BotFather gives" in page.inner_text("#error")
    page.fill("#t-token", BOT_TOKEN)
    page.fill("#t-chat", "777001")
    page.click("#t-save")
    assert "Telegram messages saved" in page.inner_text("#message")
    assert "chat 777001" in page.inner_text("#telegram-state")
    assert BOT_TOKEN not in page.content()
    page.click("#t-test")
    assert page.inner_text("#message") == "sent to chat 777001"
    fake_telegram.wait_for("777001", "test message for ira")
    shot(page, "telegram")

    mine, other = _api(site, "ira"), (register(browser, site, "jai"), _api(site, "jai"))[1]
    assert mine.get("/api/v1/telegram").json() == {"chat_id": "777001", "alert_ignored": False}
    assert other.get("/api/v1/telegram").json() is None
    assert mine.put("/api/v1/telegram", json={"alert_ignored": True}).json()["alert_ignored"]
    assert other.post("/api/v1/telegram/test").status_code == 422      # none set for jai
    page.goto("/telegram")
    page.click("#t-off")
    assert page.inner_text("#message") == "Telegram messages off"
    assert mine.get("/api/v1/telegram").json() is None
