"""What an operator sees: the status page, `pinewire topics`, `pinewire tail`, clear errors,
the subscriptions the feeds follow, and a 503 when Kafka is gone."""
import json
import subprocess

from schemas import sql, topics as registry
from schemas.settings import webhook_token_key
from tests.integration.harness import Pipeline, free_port, wait_until


def _run(pipeline, *args):
    return subprocess.run(pipeline.cli(*args), env=pipeline.env, capture_output=True, text=True,
                          timeout=60)


def test_status_shows_broker_topics_workers_open_position_and_last_price(pipeline):
    link = pipeline.add_link(sl_pct="5", target_pct="5")
    pid = pipeline.alert_row(pipeline.alert(link, "BUY", "TITAN", price="3520"))["position_id"]
    pipeline.position(pid, "OPEN")
    pipeline.ticks("TITAN", ["3521.50"])
    status = pipeline.http.get("/status.json").json()
    assert status["broker"]["reachable"] is True
    topics = {t["name"]: t for t in status["broker"]["topics"]}
    alerts = topics[registry.topic_name(pipeline.settings.namespace, registry.ALERTS)]
    assert alerts["partitions"] == pipeline.settings.partitions and alerts["records"] >= 1
    assert "lag" in alerts and "ledger_lag" in alerts
    events = topics[registry.topic_name(pipeline.settings.namespace, registry.EVENTS)]
    assert "lag" not in events and "ledger_lag" in events    # only the ledger reads events
    assert any(w["alive"] and w["active_partitions"] for w in status["workers"])

    def shown():
        s = pipeline.http.get("/status.json").json()
        return next((p for p in s["open_positions"]
                     if p["id"] == pid and p["last_price"] == "3521.50"), None) and s
    s = wait_until(shown, 20, "the open position with its last price on the status page")
    assert s["last_tick_age_s"] is not None
    html = pipeline.http.get("/status").text
    assert pid in html and "reachable" in html and "TITAN-EQ" in html


def test_subscriptions_follow_open_and_close(pipeline):
    link = pipeline.add_link(sl_pct="1", target_pct=None)
    pid = pipeline.alert_row(pipeline.alert(link, "BUY", "MARUTI", price="12600"))["position_id"]
    pipeline.position(pid, "OPEN")
    pipeline.ticks("MARUTI", ["12474"])
    pipeline.position(pid, "CLOSED")
    token = "10999"

    def ended():
        states = [r[3]["active"] for r in pipeline.topic_records(registry.SUBSCRIPTIONS)
                  if r[2] == token]
        return states if states and states[-1] is False else None
    assert wait_until(ended, 20, "the subscription to end") == [True, False]


def test_topics_and_tail_commands(pipeline):
    link = pipeline.add_link()
    alert_id = pipeline.alert(link, "BUY", "ASIANPAINT", price="2400")
    pipeline.alert_row(alert_id)
    out = _run(pipeline, "topics")
    assert out.returncode == 0, out.stderr
    line = next(l for l in out.stdout.splitlines()
                if l.startswith(registry.topic_name(pipeline.settings.namespace, registry.ALERTS)))
    assert line.split()[1] == str(pipeline.settings.partitions)
    # the worker's line: alive, owning every partition (the session's only worker)
    beat = next(w for w in pipeline.http.get("/status.json").json()["workers"] if w["alive"])
    mine = next(l.split() for l in out.stdout.splitlines() if l.startswith(beat["worker_id"]))
    assert mine[1] == "alive" and mine[3] == ",".join(map(str, range(pipeline.settings.partitions)))
    tail = _run(pipeline, "tail", "alerts")
    records = [json.loads(l) for l in tail.stdout.splitlines()]
    assert any(r["value"]["id"] == alert_id and r["key"] == link["id"] for r in records)


def test_cli_errors_are_one_line(pipeline):
    out = _run(pipeline, "alert", "no-such-link", "BUY", "SBIN")
    assert out.returncode == 1
    assert out.stderr.strip().splitlines() == \
        ["pinewire: error: no link named 'no-such-link' (see: pinewire link list)"]
    out = _run(pipeline, "tail", "nonsense")
    assert out.returncode == 1 and "unknown topic 'nonsense'" in out.stderr
    assert "Traceback" not in out.stderr


def test_kafka_unreachable_gives_503_and_records_nothing_but_the_rejection(tmp_path):
    from webapp import links
    down = Pipeline(tmp_path, f"127.0.0.1:{free_port()}")   # nothing listens there
    try:
        down.start_web()
        link = links.add_link(down.engine, name="down", strategy="st", quantity=1,
                              user_id=down.user["id"],
                              token_key=webhook_token_key(down.settings))
        response = down.post(link, b'{"strategy":"st","symbol":"SBIN","action":"BUY"}')
        assert response.status_code == 503 and "Kafka unavailable" in response.json()["error"]
        assert down.rows(sql.alerts) == []
        assert [r["status_code"] for r in down.rows(sql.webhook_rejections)] == [503]
    finally:
        down.stop()


def test_accounts_are_encrypted_at_rest_and_never_printed(pipeline):
    import pyotp

    from connectors.credentials import new_key
    key, seed = new_key(), pyotp.random_base32(32)
    env = {**pipeline.env, "PINEWIRE_SECRET_KEY": key}

    def run(*args, env=env):
        return subprocess.run(pipeline.cli(*args), env=env, capture_output=True, text=True,
                              timeout=60)
    out = run("account", "add", "--name", "main", "--client-code", "A1234567",
              "--api-key", "apikey-9f8e7d", "--pin", "4321", "--totp-secret", seed)
    assert out.returncode == 0, out.stderr
    listing = run("account", "list")
    assert "main" in listing.stdout and "A1234567" in listing.stdout
    for text in (out.stdout + out.stderr, listing.stdout + listing.stderr):
        assert "apikey-9f8e7d" not in text and seed not in text and "4321" not in text
    [row] = pipeline.rows(sql.accounts, sql.accounts.c.name == "main")
    assert "apikey-9f8e7d" not in row["secrets"] and seed not in row["secrets"]

    no_key = {k: v for k, v in env.items() if k != "PINEWIRE_SECRET_KEY"}
    refused = run("account", "add", "--name", "x", "--client-code", "B1", "--api-key", "k",
                  "--pin", "1", "--totp-secret", seed, env=no_key)
    assert refused.returncode == 1 and "PINEWIRE_SECRET_KEY is not set" in refused.stderr

    live = run("link", "add", "--name", "live1", "--strategy", "st", "--qty", "1", "--live")
    assert live.returncode == 1 and "needs a broker account" in live.stderr
    live = run("link", "add", "--name", "live2", "--strategy", "st", "--qty", "1", "--live",
               "--account", "main")
    assert live.returncode == 0 and "LIVE" in live.stdout, live.stderr


def test_a_record_an_agent_cannot_handle_goes_to_the_dead_letters_and_the_stream_goes_on(
        pipeline):
    from schemas.records import Fill
    # a quantity no ledger column can hold: the fills ledger agent fails on it
    bad = Fill(fill_id="deadbeef", client_order_id="deadbeef00000000E0",
               position_id="deadbeef00000000", token="2885", side="BUY", status="FILLED",
               quantity=10 ** 20, price_paise=1, at_ms=1)
    pipeline.produce(registry.FILLS, bad, key=bad.position_id, instrument=bad.token)
    letters = wait_until(lambda: [r[3] for r in pipeline.topic_records(registry.DEAD_LETTERS)
                                  if r[3]["value"] and r[3]["value"]["fill_id"] == "deadbeef"],
                         30, "the dead letter")
    assert letters[0]["agent"] == "ledger_record_fill" and "Error" in letters[0]["error"]
    assert letters[0]["topic"].endswith(".fills")
    link = pipeline.add_link()                     # the stream goes on
    alert = pipeline.alert_row(pipeline.alert(link, "BUY", "RELIANCE", price="1411"))
    pipeline.position(alert["position_id"], "OPEN")
    status = pipeline.http.get("/status.json").json()
    assert status["dead_letters"] >= 1
    assert 'id="dead-letters" class="bad"' in pipeline.http.get("/status").text
