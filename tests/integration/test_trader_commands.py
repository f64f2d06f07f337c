"""The trader's hand on positions over the real pipeline (paper): close one now, close all of
a link or of everything, cancel a pending entry, move a stop and see it fire at the new level
on replayed ticks; from the API and the CLI, each answered with its command's outcome, and
another user's attempt on the first's position is "not found"."""
import subprocess

from agents import manual
from schemas import sql
from tests.integration.test_dashboard_api import client
from webapp import commands, queries, users


def _open(p, link: dict, symbol: str, price: str) -> str:
    position_id = p.alert_row(p.alert(link, "BUY", symbol, price=price))["position_id"]
    p.position(position_id, "OPEN")
    return position_id


def test_a_stop_moved_from_the_api_fires_at_its_new_level(pipeline):
    owner, intruder = pipeline.http, client(pipeline, "dave")
    link = pipeline.add_link(quantity=10, sl_pct="1", target_pct="5")
    pid = _open(pipeline, link, "HINDUNILVR", "2420")       # SL 1 %: ₹2,395.80
    for method, path, body in (("POST", f"/api/v1/positions/{pid}/close", None),
                               ("PATCH", f"/api/v1/positions/{pid}", {"stop": "2400"}),
                               ("GET", f"/api/v1/positions/{pid}", None)):
        answer = intruder.request(method, path, json=body)
        assert (answer.status_code, answer.json()) == (404, {"error": "no such position"})

    above = owner.patch(f"/api/v1/positions/{pid}", json={"stop": "2430"})
    assert above.status_code == 422, above.text
    assert "a stop at ₹2430.00 is at or above the last price ₹2420.00" in above.json()["error"]
    typo = owner.patch(f"/api/v1/positions/{pid}", json={"stop": "24x0"})
    assert typo.status_code == 400 and typo.json()["error"].startswith("stop must be a price")

    moved = owner.patch(f"/api/v1/positions/{pid}", json={"stop": "2410"})
    assert moved.status_code == 200, moved.text
    answer = moved.json()
    assert [p["outcome"] for p in answer["positions"]] == [manual.ADJUSTED]
    assert (answer["by"], answer["origin"], answer["levels"]) == ("admin", "api",
                                                                  {"stop": 241000})
    assert "stop ₹2410.00" in answer["summary"]
    assert intruder.get(f"/api/v1/commands/{answer['command_id']}").status_code == 404
    assert owner.get(f"/api/v1/commands/{answer['command_id']}").json()["done"] is True

    pipeline.ticks("HINDUNILVR", ["2411", "2410"])          # only the moved stop is at ₹2,410
    closed = pipeline.position(pid, "CLOSED")
    assert (closed["exit_reason"], closed["exit_trigger_paise"]) == ("SL", 241000)
    steps = queries.timeline(pipeline.engine, pipeline.user["id"], pid)
    assert any(s["what"] == "manual" and "stop ₹2410.00," in s["detail"] for s in steps), steps


def test_close_now_close_a_link_and_close_everything(pipeline):
    carla = client(pipeline, "carla")
    user = users.user_by_name(pipeline.engine, "carla")
    trend = pipeline.add_link(user_id=user["id"], quantity=5)
    swing = pipeline.add_link(user_id=user["id"], quantity=5)
    maruti, axis = _open(pipeline, trend, "MARUTI", "12600"), \
        _open(pipeline, trend, "AXISBANK", "1180")
    bajaj, kotak = _open(pipeline, swing, "BAJFINANCE", "920"), \
        _open(pipeline, swing, "KOTAKBANK", "2100")

    one = carla.post(f"/api/v1/positions/{kotak}/close")
    assert one.status_code == 200, one.text
    assert one.json()["positions"][0]["reason"] == \
        "LONG KOTAKBANK-EQ: closing 5 at market (carla from the API)"
    closed = pipeline.position(kotak, "CLOSED")
    assert (closed["exit_reason"], closed["exit_value_paise"]) == ("MANUAL", 5 * 210000)
    again = carla.post(f"/api/v1/positions/{kotak}/close").json()
    assert again["positions"][0]["outcome"] == manual.UNCHANGED   # nothing sent twice

    done = subprocess.run(pipeline.cli("position", "close", "--link", trend["name"], "--user",
                                       "carla"), env=pipeline.env, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "closing 5 at market (carla from the CLI)" in done.stdout
    for pid in (maruti, axis):
        assert pipeline.position(pid, "CLOSED")["exit_reason"] == "MANUAL"
    assert pipeline.rows(sql.positions, sql.positions.c.id == bajaj)[0]["state"] == "OPEN"

    bare = carla.post("/api/v1/positions/close", json={})
    assert bare.status_code == 422 and '{"all": true}' in bare.json()["error"]
    everything = carla.post("/api/v1/positions/close", json={"all": True})
    assert everything.status_code == 200 and everything.json()["done"], everything.text
    assert [p["position_id"] for p in everything.json()["positions"]] == [bajaj]
    assert pipeline.position(bajaj, "CLOSED")["exit_reason"] == "MANUAL"
    audit = pipeline.rows(sql.commands, sql.commands.c.user_id == user["id"])
    assert sorted((c["kind"], c["origin"]) for c in audit) == [
        ("CLOSE", "api"), ("CLOSE", "api"), ("CLOSE_ALL", "api"), ("CLOSE_ALL", "cli")]


def test_a_pending_paper_entry_is_cancelled(pipeline):
    link = pipeline.add_link(quantity=3)
    alert_id = pipeline.alert(link, "BUY", "NTPC")          # no price, no tick: it rests
    pid = pipeline.alert_row(alert_id)["position_id"]
    assert pipeline.rows(sql.positions, sql.positions.c.id == pid)[0]["state"] == "PENDING"
    answer = pipeline.http.post(f"/api/v1/positions/{pid}/close").json()
    assert answer["positions"][0]["outcome"] == manual.CANCELLING, answer
    gone = pipeline.position(pid, "REJECTED")
    assert gone["snapshot"]["note"] == "cancelled by the trader" and gone["entry_qty"] == 0
    assert commands.summary(answer).startswith("LONG NTPC-EQ: its entry is cancelled")
