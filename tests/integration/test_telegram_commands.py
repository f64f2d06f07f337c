"""The trader's commands in Telegram, against the fake Bot API (getUpdates, sendMessage) and
the real pipeline: /status, /positions, /pnl, /close by symbol, /closeall with its code, /bot;
a chat nobody registered gets no answer; a message that waited too long is not acted on."""
import secrets

from schemas import sql
from tests.integration.harness import SECRETS, wait_until
from webapp import notifications, users


def test_a_trader_works_the_bot_from_telegram(pipeline, fake_telegram):
    p, fake = pipeline, fake_telegram
    user = users.user_by_name(p.engine, "gita") or users.add_user(p.engine, "gita",
                                                                  "gita-long-password")
    token = f"{secrets.randbelow(10**9) + 10**8}:{secrets.token_urlsafe(30)}"
    chat, stranger = str(700000000 + secrets.randbelow(10**8)), "555000111"
    SECRETS.add(token)
    notifications.set_telegram(p.engine, p.env["PINEWIRE_SECRET_KEY"], user["id"],
                               bot_token=token, chat_id=chat)
    link = p.add_link(user_id=user["id"], quantity=2, sl_pct="1")
    pids = [p.alert_row(p.alert(link, "BUY", symbol, price=price))["position_id"]
            for symbol, price in (("TCS", "3120"), ("INFY", "1520"), ("WIPRO", "245"))]
    for pid in pids:
        p.position(pid, "OPEN")

    def ask(text: str, expect: str, **kw) -> str:
        before = len(fake.messages(chat))
        fake.says(token, chat, text, **kw)
        return wait_until(lambda: next((r.text for r in fake.messages(chat)[before:]
                                        if expect in r.text), None), 30,
                          f"an answer to {text!r} with {expect!r}")

    ask("/help", "/closeall — close every open position")
    status = ask("/status", "Open positions: 3.")
    assert status.startswith("Bot running. Feed: last tick") and "Today: realized" in status
    listed = ask("/positions", "LONG TCS-EQ 2 @ 3120.00")
    assert all(pid in listed for pid in pids) and "INFY-EQ" in listed
    ask("/pnl 2026-13-01", "Give the day as YYYY-MM-DD")
    ask("/pnl", "3 position(s)")

    closed = ask("/close tcs", "LONG TCS-EQ: closing 2 at market (gita from Telegram)")
    assert closed and p.position(pids[0], "CLOSED")["exit_reason"] == "MANUAL"
    ask("/close HDFCBANK", "No open position HDFCBANK")

    fake.says(token, stranger, "/closeall")                # nobody registered this chat
    offer = ask("/closeall", "Close all 2 open position(s) at market? Send /closeall ")
    code = offer.split("/closeall ")[1].split()[0]
    ask("/closeall 0000" if code != "0000" else "/closeall 1111", "wrong or too old")
    assert p.rows(sql.positions, sql.positions.c.id == pids[1])[0]["state"] == "OPEN"
    ask(f"/closeall {code}", "closing 2 at market (gita from Telegram)")
    for pid in pids[1:]:
        assert p.position(pid, "CLOSED")["exit_reason"] == "MANUAL"
    assert fake.messages(stranger, ok_only=False) == []

    ask("/bot off", "Your bot is stopped")
    stopped = p.alert_row(p.alert(link, "BUY", "TCS", price="3121"))
    assert stopped["status"] == "IGNORED" and "bot is stopped" in stopped["reason"]
    ask("/bot on", "Your bot is running")
    old = ask("/closeall", "waited 10 min while pinewire was not reading", age_s=600)
    assert "nothing done" in old
    audit = p.rows(sql.commands, sql.commands.c.user_id == user["id"])
    assert sorted((c["kind"], c["origin"]) for c in audit) == [("CLOSE", "telegram"),
                                                               ("CLOSE_ALL", "telegram")]
