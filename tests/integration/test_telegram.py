"""Telegram messages against a fake Bot API on 127.0.0.1 that answers as Telegram does: the
limits held (one a second per chat, the bot-wide pace), a 429 retried after the time it gives,
a 5xx retried with backoff, a refusal logged with its reason and never with the token."""
import asyncio
import logging
import secrets

import pytest

from connectors.telegram import Chat, Outbox
from tests.integration.harness import until
from tests.integration.telegram import FakeTelegram


@pytest.fixture
def fake():
    server = FakeTelegram()
    yield server
    server.stop()


def _chat(chat_id: str) -> Chat:
    return Chat(f"{secrets.randbelow(10**9) + 10**8}:{secrets.token_urlsafe(26)}", chat_id)


async def _sent(outbox: Outbox, fake: FakeTelegram, chat: Chat, count: int, timeout_s=20):
    await until(lambda: len(fake.messages(chat.chat_id)) >= count, timeout_s,
                f"{count} messages to chat {chat.chat_id}")
    return fake.messages(chat.chat_id)


def test_each_chat_gets_its_messages_in_order_a_second_apart_without_holding_up_others(fake):
    async def run():
        outbox = Outbox(fake.url)
        a, b = _chat("101"), _chat("202")
        for n in range(3):
            outbox.post(a, f"a{n}")
            outbox.post(b, f"b{n}")
        got_a, got_b = await _sent(outbox, fake, a, 3), await _sent(outbox, fake, b, 3)
        await outbox.close()
        return got_a, got_b
    got_a, got_b = asyncio.run(run())
    assert [r.text for r in got_a] == ["a0", "a1", "a2"] and [r.text for r in got_b] == \
        ["b0", "b1", "b2"]
    for got in (got_a, got_b):
        assert all(later.at - earlier.at >= 0.95 for earlier, later in zip(got, got[1:]))
    assert abs(got_a[0].at - got_b[0].at) < 0.5     # chat b did not wait for chat a


def test_the_bot_wide_pace_holds_across_chats(fake):
    async def run():
        outbox = Outbox(fake.url, per_second=10)
        chats = [_chat(str(300 + n)) for n in range(21)]
        for chat in chats:
            outbox.post(chat, "hello")
        await until(lambda: len(fake.received) >= 21, 20, "21 messages")
        await outbox.close()
    asyncio.run(run())
    times = sorted(r.at for r in fake.received)
    assert times[-1] - times[0] >= 1.9          # 21 messages at 10 a second: 2 s at least


def test_a_429_is_retried_after_the_time_telegram_gives(fake):
    fake.answer_next(fake.too_many(2))
    async def run():
        outbox = Outbox(fake.url)
        chat = _chat("404")
        outbox.post(chat, "after the wait")
        await _sent(outbox, fake, chat, 1)
        await outbox.close()
        return outbox
    outbox = asyncio.run(run())
    tries = fake.messages("404", ok_only=False)
    assert [r.answered for r in tries] == [429, 200]
    assert tries[1].at - tries[0].at >= 1.95 and outbox.sent == 1


def test_5xx_is_retried_with_backoff_then_delivered_once(fake):
    fake.answer_next((502, {"ok": False, "description": "Bad Gateway"}),
                     (500, {"ok": False, "description": "Internal Server Error"}))
    async def run():
        outbox = Outbox(fake.url, backoff_s=0.2)
        chat = _chat("505")
        outbox.post(chat, "eventually")
        await _sent(outbox, fake, chat, 1)
        await outbox.close()
    asyncio.run(run())
    tries = fake.messages("505", ok_only=False)
    assert [r.answered for r in tries] == [502, 500, 200]
    assert tries[1].at - tries[0].at >= 0.19 and tries[2].at - tries[1].at >= 0.39


def test_a_refusal_is_logged_with_its_reason_and_the_next_message_still_goes(fake, caplog):
    fake.answer_next((401, {"ok": False, "error_code": 401, "description": "Unauthorized"}))
    chat = _chat("606")
    async def run():
        outbox = Outbox(fake.url)
        outbox.post(chat, "refused")
        outbox.post(chat, "delivered")
        await _sent(outbox, fake, chat, 1)
        await outbox.close()
        return outbox
    with caplog.at_level(logging.INFO):
        outbox = asyncio.run(run())
    assert [r.answered for r in fake.messages("606", ok_only=False)] == [401, 200]
    assert (outbox.sent, outbox.failed) == (1, 1)
    assert "Telegram message to chat 606 not sent after 1 attempt(s): Telegram answered 401: " \
           "Unauthorized" in caplog.text
    assert chat.bot_token not in caplog.text


def test_messages_left_at_shutdown_are_counted_and_logged(fake, caplog):
    fake.answer_next(fake.too_many(30))
    async def run():
        outbox = Outbox(fake.url)
        chat = _chat("707")
        outbox.post(chat, "stuck behind a long wait")
        outbox.post(chat, "and this one")
        await until(lambda: fake.messages("707", ok_only=False), 10, "the first attempt")
        await outbox.close(timeout_s=0.2)
        return outbox
    with caplog.at_level(logging.WARNING):
        outbox = asyncio.run(run())
    assert outbox.failed == 2 and "2 Telegram message(s) to chat 707 not sent: shutting down" \
        in caplog.text
