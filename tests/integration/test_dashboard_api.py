"""The JSON API and the dashboard's rules over real HTTP: bearer tokens, per-user data (another
user's objects are 404, never listed, never streamed), CSRF on cookie sessions, login throttling,
security headers, the admin-only status page. On one Kafka broker: the web app's rules are what
is tested (the pipeline under them runs on both elsewhere)."""
import json
import threading

import httpx
import pytest

from connectors import credentials
from schemas import sql
from tests.integration.harness import SECRETS, Pipeline, wait_until
from webapp import users

pytestmark = pytest.mark.one_kafka_broker


@pytest.fixture(scope="module")
def dash(kafka_url, smartapi_sim, tmp_path_factory):
    with Pipeline(tmp_path_factory.mktemp("dashboard"), kafka_url,
                  PINEWIRE_SECRET_KEY=credentials.new_key(), PINEWIRE_PAPER_FILL_TIMEOUT_S="5",
                  **smartapi_sim.env()).running() as p:
        yield p


def client(p, username, password="a-long-password") -> httpx.Client:
    """A user's API client with a bearer token from POST /api/v1/tokens."""
    if users.user_by_name(p.engine, username) is None:
        users.add_user(p.engine, username, password)
    response = httpx.post(f"{p.settings.base_url}/api/v1/tokens",
                          json={"username": username, "password": password})
    assert response.status_code == 201, response.text
    SECRETS.update((password, response.json()["token"]))
    return httpx.Client(base_url=p.settings.base_url, timeout=10,
                        headers={"Authorization": f"Bearer {response.json()['token']}"})


def test_links_are_per_user_and_named_as_in_the_link_record(dash):
    a, b = client(dash, "anna"), client(dash, "bert")
    created = a.post("/api/v1/links", json={"name": "trend", "strategy": "st", "quantity": 5,
                                             "sl_pct": "1.5", "daily_loss_paise": 250000,
                                             "side": "long"})
    assert created.status_code == 201, created.text
    link = created.json()
    assert (link["quantity"], link["sl_pct"], link["daily_loss_paise"], link["side"],
            link["paper"]) == (5, "1.5", 250000, "long", True)
    assert link["webhook_url"].startswith(dash.settings.base_url + "/hook/")
    assert "{{strategy.order.action}}" in link["alert_messages"]["strategy"]
    assert [x["id"] for x in a.get("/api/v1/links").json()] == [link["id"]]
    assert b.get("/api/v1/links").json() == []
    for method in ("GET", "PATCH", "DELETE"):
        answer = b.request(method, f"/api/v1/links/{link['id']}", json={"quantity": 1})
        assert answer.status_code == 404 and answer.json() == {"error": "no such link"}
    assert b.post(f"/api/v1/links/{link['id']}/rotate").status_code == 404

    changed = a.patch(f"/api/v1/links/{link['id']}", json={"max_entries": 3, "sl_pct": "2"})
    assert changed.status_code == 200 and changed.json()["max_entries"] == 3
    bad = a.patch(f"/api/v1/links/{link['id']}", json={"side": "sideways"})
    assert bad.status_code == 422 and bad.json()["error"].startswith("side must be one of") and \
        bad.json()["field"] == "side"
    assert a.post("/api/v1/links", json={"name": "trend", "strategy": "st",
                                         "quantity": 1}).status_code == 409
    rotated = a.post(f"/api/v1/links/{link['id']}/rotate").json()
    assert rotated["webhook_url"] != link["webhook_url"]
    old_token = link["webhook_url"].rsplit("/", 1)[1]
    assert dash.http.post(f"/hook/{old_token}", content=b"{}").status_code == 404


def test_positions_orders_csv_logs_and_events_stay_with_their_owner(dash):
    a, b = client(dash, "anna"), client(dash, "bert")
    link = a.post("/api/v1/links", json={"name": "mine", "strategy": "st", "quantity": 10,
                                         "sl_pct": "1"}).json()
    seen = {"a": [], "b": []}
    ready = {"a": threading.Event(), "b": threading.Event()}

    def listen(who, c):
        with c.stream("GET", "/api/v1/events", timeout=30) as response:
            for line in response.iter_lines():
                ready[who].set()   # the first line comes once the stream is subscribed
                if line.startswith("data:") and '"kind"' in line:
                    seen[who].append(json.loads(line[5:]))
                if any((e.get("position") or {}).get("state") == "OPEN" for e in seen["a"]):
                    return   # anna saw her position open; bert has had every chance by now
    threads = [threading.Thread(target=listen, args=(w, c), daemon=True)
               for w, c in (("a", a), ("b", b))]
    for t in threads:
        t.start()
    wait_until(lambda: ready["a"].is_set() and ready["b"].is_set(), 20, "both streams")
    token = link["webhook_url"].rsplit("/", 1)[1]
    dash.ticks("SBIN", ["805"])
    response = dash.http.post(f"/hook/{token}",
                              content=json.dumps({"symbol": "SBIN", "action": "BUY"}))
    assert response.status_code == 200
    wait_until(lambda: [x for x in a.get("/api/v1/positions").json() if x["symbol"] == "SBIN-EQ"],
               20, "anna's open position")
    assert b.get("/api/v1/positions").json() == []
    wait_until(lambda: seen["a"], 20, "anna's live event")
    for t in threads:
        t.join(timeout=10)
    assert seen["b"] == [], "bert's stream carried anna's events"
    assert any(e.get("position") and e["position"]["symbol"] == "SBIN-EQ" for e in seen["a"])
    csv_a = a.get("/api/v1/orders", params={"format": "csv"}).text
    assert "SBIN-EQ" in csv_a and "SBIN-EQ" not in b.get("/api/v1/orders",
                                                           params={"format": "csv"}).text
    assert b.get("/api/v1/orders").json() == []
    assert any("BUY SBIN-EQ accepted" in e["text"] for e in a.get("/api/v1/logs").json())
    assert b.get("/api/v1/logs").json() == []


def test_bot_put_and_the_admins_switch(dash):
    a = client(dash, "anna")
    assert a.put("/api/v1/bot", json={"running": False}).json()["running"] is False
    assert a.get("/api/v1/bot").json() == {"running": False, "own_switch": False,
                                           "global_switch": True}
    assert a.put("/api/v1/bot", json={"running": True, "everyone": True}).status_code == 403
    assert a.put("/api/v1/bot", json={"running": "yes"}).status_code == 422
    a.put("/api/v1/bot", json={"running": True})


def test_cookie_sessions_need_the_csrf_token_and_pages_carry_security_headers(dash):
    users.add_user(dash.engine, "dora", "dora-password")
    web = httpx.Client(base_url=dash.settings.base_url, timeout=10)
    page = web.get("/login")
    csrf = page.text.split('name="csrf" value="')[1].split('"')[0]
    assert web.post("/login", data={"username": "dora", "password": "dora-password",
                                    "csrf": "forged"}).status_code == 403
    signed = web.post("/login", data={"username": "dora", "password": "dora-password",
                                      "csrf": csrf})
    assert signed.status_code == 303
    cookie = signed.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie
    assert web.post("/bot", data={"running": "0"}).status_code == 403      # no CSRF token
    links = web.get("/links")
    assert links.status_code == 200
    assert links.headers["x-frame-options"] == "DENY"
    assert links.headers["referrer-policy"] == "no-referrer"
    assert "script-src 'self'" in links.headers["content-security-policy"]
    assert "<script>" not in links.text
    assert web.get("/status").status_code == 403 and web.get("/status.json").status_code == 403
    assert web.get("/api/v1/openapi.json").json()["paths"]["/api/v1/links"]


def test_a_users_rows_in_the_ledger_are_theirs_only(dash):
    a = client(dash, "anna")
    anna = users.user_by_name(dash.engine, "anna")
    rows = dash.rows(sql.orders, sql.orders.c.user_id == anna["id"])
    assert len(a.get("/api/v1/orders").json()) == len(rows)


def test_account_test_in_plain_words_and_delete_refused_while_a_live_link_uses_it(dash,
                                                                                  sim_account):
    a = client(dash, "anna")
    good = a.post("/api/v1/accounts", json={
        "name": "angel", "client_code": sim_account.client_code, "api_key": sim_account.api_key,
        "pin": sim_account.pin, "totp_secret": sim_account.totp_secret}).json()
    assert good["client_code"].endswith(sim_account.client_code[-3:])
    assert sim_account.client_code not in json.dumps(good)
    assert a.post(f"/api/v1/accounts/{good['id']}/test").json()["ok"] is True
    wrong = a.post("/api/v1/accounts", json={
        "name": "wrong", "client_code": sim_account.client_code, "api_key": sim_account.api_key,
        "pin": "99999999", "totp_secret": sim_account.totp_secret}).json()
    answer = a.post(f"/api/v1/accounts/{wrong['id']}/test").json()
    assert answer["ok"] is False and "PIN or API key is wrong" in answer["message"]
    assert sim_account.pin not in answer["message"] and "Traceback" not in answer["message"]
    assert client(dash, "bert").post(f"/api/v1/accounts/{good['id']}/test").status_code == 404

    a.post("/api/v1/links", json={"name": "live-one", "strategy": "st", "quantity": 1,
                                  "paper": False, "account_id": good["id"]})
    refused = a.post(f"/accounts/{good['id']}/delete", follow_redirects=False)
    assert "live+link" in refused.headers["location"] and "uses+this+account" in \
        refused.headers["location"]
    assert [x["name"] for x in a.get("/api/v1/accounts").json()] == ["angel", "wrong"]
    a.post(f"/accounts/{wrong['id']}/delete")
    assert [x["name"] for x in a.get("/api/v1/accounts").json()] == ["angel"]


def test_sign_in_throttled_with_a_clear_429(dash):
    # last in this module: the address is throttled too, for every later sign-in from it
    users.add_user(dash.engine, "carla", "carla-password")
    url = f"{dash.settings.base_url}/api/v1/tokens"
    codes = [httpx.post(url, json={"username": "carla", "password": "wrong"}).status_code
             for _ in range(6)]
    assert codes == [401] * 5 + [429]
    answer = httpx.post(url, json={"username": "carla", "password": "carla-password"})
    assert answer.status_code == 429 and int(answer.headers["retry-after"]) > 0
    assert "try again in" in answer.json()["error"]
