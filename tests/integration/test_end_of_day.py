"""The end-of-day routine with two workers splitting the partitions: `pinewire eod run --at` an
injected time sends one sweep per partition; each partition's owner sweeps it once per trading
day. 15:15 closes intraday positions, 15:29 applies the link's policy; a holiday sweeps nothing."""
import asyncio
import secrets
import subprocess

import pytest

from connectors import credentials, kafka
from schemas import sql, topics as registry
from tests.integration.harness import SECRETS, Pipeline, wait_until
from webapp import notifications

FRIDAY, HOLIDAY = "2026-11-27", "2026-11-24"      # a trading day; Guru Nanak Jayanti


@pytest.fixture(scope="module")
def two_workers(kafka_url, tmp_path_factory, fake_telegram):
    p = Pipeline(tmp_path_factory.mktemp("eod"), kafka_url, PINEWIRE_TELEGRAM_API=fake_telegram.url,
                 PINEWIRE_SECRET_KEY=credentials.new_key())
    second = None
    try:
        p.prepare_topics()
        p.start_worker()
        second = p.spawn("worker", log="worker2.log")
        p.start_web()

        def split():
            workers = [w for w in p.http.get("/status.json").json()["workers"] if w["alive"]]
            owned = [set(w["active_partitions"]) for w in workers if w["active_partitions"]]
            return len(owned) == 2 and not owned[0] & owned[1] and \
                owned[0] | owned[1] == set(range(p.settings.partitions))
        wait_until(split, 90, "two workers splitting every partition", interval_s=0.5)
        yield p
    finally:
        if second is not None:
            from pinewire import processes
            processes.stop(second)
        p.stop()


def _eod(p, at: str) -> str:
    out = subprocess.run(p.cli("eod", "run", "--at", at), env=p.env, capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    commands = registry.topic_name(p.settings.namespace, registry.COMMANDS)
    wait_until(lambda: asyncio.run(kafka.group_lag(p.settings.bootstrap, p.settings.namespace,
                                                   [commands]))[commands]["lag"] == 0,
               30, "the workers to take the sweep", interval_s=0.3)
    return out.stdout


def _reports(p, day: str) -> list[dict]:
    return [r[3]["detail"] for r in p.topic_records(registry.EVENTS)
            if r[3]["kind"] == "EOD_REPORT" and r[3]["detail"]["day"] == day]


def test_end_of_day_with_two_workers(two_workers, fake_telegram):
    p = two_workers
    chat, bot = str(secrets.randbelow(10**9)), f"123456789:{secrets.token_urlsafe(30)}"
    SECRETS.add(bot)                  # each sweep's report reaches the trader once, on Telegram
    notifications.set_telegram(p.engine, p.env["PINEWIRE_SECRET_KEY"], p.user["id"],
                               chat_id=chat, bot_token=bot)
    link = p.add_link(sl_pct="5", target_pct="5")                # eod: close-losers (default)
    winner = p.alert_row(p.alert(link, "BUY", "SBIN", price="800"))["position_id"]
    loser = p.alert_row(p.alert(link, "BUY", "ITC", price="410"))["position_id"]
    short = p.alert_row(p.alert(link, "SELL", "WIPRO", price="245"))["position_id"]
    for pid in (winner, loser, short):
        p.position(pid, "OPEN")
    assert p.rows(sql.positions, sql.positions.c.id == short)[0]["product_type"] == "INTRADAY"
    p.ticks("SBIN", ["810"])
    p.ticks("ITC", ["405"])
    p.ticks("WIPRO", ["244"])

    assert "not an NSE trading day" in _eod(p, f"{HOLIDAY}T15:29")
    assert _reports(p, HOLIDAY) == []
    assert {p.rows(sql.positions, sql.positions.c.id == x)[0]["state"]
            for x in (winner, loser, short)} == {"OPEN"}

    _eod(p, f"{FRIDAY}T15:16")                                  # intraday square-off
    closed = p.position(short, "CLOSED")
    assert (closed["exit_reason"], closed["exit_trigger_paise"]) == ("MIS", 24400)

    _eod(p, f"{FRIDAY}T15:29")
    closed = p.position(loser, "CLOSED")
    assert (closed["exit_reason"], closed["exit_trigger_paise"]) == ("EOD", 40500)
    assert closed["realized_pnl_paise"] == 10 * (40500 - 41000)
    reports = _reports(p, FRIDAY)
    eod = [r for r in reports if r["kind"] == "EOD"]
    assert sorted(r["partition"] for r in eod) == list(range(p.settings.partitions)), \
        "every partition swept exactly once"
    rows = wait_until(lambda: len(p.rows(sql.eod_reports, sql.eod_reports.c.day == FRIDAY)) == 3
                      and p.rows(sql.eod_reports, sql.eod_reports.c.day == FRIDAY), 20,
                      "the report in the ledger")
    assert sorted((r["symbol"], r["kind"], r["decision"], r["pnl_paise"], r["last_paise"])
                  for r in rows) == [
        ("ITC-EQ", "EOD", "CLOSE", -5000, 40500), ("SBIN-EQ", "EOD", "KEEP", 10000, 81000),
        ("WIPRO-EQ", "MIS_SQUAREOFF", "CLOSE", 1000, 24400)]
    assert p.rows(sql.positions, sql.positions.c.id == winner)[0]["state"] == "OPEN"
    fake_telegram.wait_for(chat, "intraday square-off 2026-11-27: 1 closed, 0 kept, P&L at the "
                                 "last price ₹10.00")
    fake_telegram.wait_for(chat, "end of day 2026-11-27: 1 closed, 1 kept, P&L at the last "
                                 "price ₹50.00")
    assert len([m for m in fake_telegram.messages(chat) if "end of day 2026-11-27:" in m.text]) == 1

    _eod(p, f"{FRIDAY}T15:30")                                  # again: already swept today
    assert len([r for r in _reports(p, FRIDAY) if r["kind"] == "EOD"]) == p.settings.partitions
    out = subprocess.run(p.cli("eod", "report", FRIDAY), env=p.env, capture_output=True,
                         text=True, timeout=60)
    assert "ITC-EQ" in out.stdout and "KEEP" in out.stdout and "-50.00" in out.stdout
