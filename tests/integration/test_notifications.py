"""Telegram messages from the real pipeline to a fake Bot API: a trader's entry, exit, breaker,
rejected order and (opted in) ignored alert each become one message in their chat; duplicates
and other traders' events do not; `pinewire notify test` reaches the chat."""
import secrets
import subprocess

from tests.integration import harness
from webapp import users


def _notify(pipeline, *args):
    done = subprocess.run(pipeline.cli("notify", *args), env=pipeline.env, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_one_message_per_event_kind_in_the_traders_chat(pipeline, fake_telegram):
    trader = users.add_user(pipeline.engine, f"t{secrets.token_hex(3)}", "a-long-password-1")
    token, chat = f"123456789:{secrets.token_urlsafe(30)}", str(secrets.randbelow(10**9))
    harness.SECRETS.add(token)
    _notify(pipeline, "set", "--user", trader["username"], "--chat-id", chat,
            "--bot-token", token, "--ignored")
    assert "sent to chat" in _notify(pipeline, "test", "--user", trader["username"])
    fake_telegram.wait_for(chat, f"test message for {trader['username']}")
    assert f"Telegram chat {chat}; ignored alerts sent" in \
        _notify(pipeline, "show", "--user", trader["username"])

    link = pipeline.add_link(user_id=trader["id"], name="momentum", quantity=10, sl_pct="1",
                             target_pct="2", daily_loss_paise="1")
    opened = pipeline.alert_row(pipeline.alert(link, "BUY", "ITC", price="410"))
    fake_telegram.wait_for(chat, "ITC-EQ LONG entered (momentum): 10 at ₹410.00")
    pipeline.ticks("ITC", ["405.9"])                         # the stop: 410 - 1 %
    pipeline.position(opened["position_id"], "CLOSED")
    fake_telegram.wait_for(chat, "ITC-EQ LONG closed by stop-loss (momentum): 10 at ₹405.90, "
                                 "P&L ₹-41.00")
    pipeline.alert(link, "BUY", "ITC", price="405")          # the day's loss is over ₹1
    fake_telegram.wait_for(chat, "breaker tripped (momentum)")
    fake_telegram.wait_for(chat, "alert ignored (momentum): daily loss breaker of link momentum")

    other = pipeline.add_link(user_id=trader["id"], name="nofill", quantity=1)
    pipeline.post(other, '{"strategy":"st","symbol":"POWERGRID","action":"BUY"}')
    fake_telegram.wait_for(chat, "POWERGRID-EQ LONG entry order rejected (nofill): ")

    body = '{"strategy":"st","symbol":"WIPRO","action":"EXIT","time":"t1"}'
    for _ in range(2):                                       # the second is a duplicate
        assert pipeline.post(other, body).status_code == 200
    fake_telegram.wait_for(chat, "alert ignored (nofill): no open position to exit")
    texts = [m.text for m in fake_telegram.messages(chat)]
    assert not [t for t in texts if "duplicate" in t]
    assert len([t for t in texts if "no open position to exit" in t]) == 1
    assert len([t for t in texts if "entered (momentum)" in t]) == 1
    # the admin's own trades (every other test's) never reach this chat
    assert all("(momentum)" in t or "(nofill)" in t or "test message" in t for t in texts)
