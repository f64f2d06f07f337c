"""Telegram messages through the Bot API (`POST {base}/bot{token}/sendMessage`), held to its
limits: about one message a second per chat and thirty a second in all; and the messages a
bot receives (`getUpdates`, long polling), for the trader's commands.

`Outbox.post` never waits: it queues the message and returns, so trading never waits on
Telegram. Each chat's messages go out in order. A 429 is retried after the `retry_after` Telegram
gives; a 5xx or a network error with backoff (1, 2, 4 … s); a message that still fails, or that
Telegram refuses outright (400, 401, 403: a wrong token or chat), is logged with the reason —
never dropped silently. The bot token is in the URL path: no URL is ever logged.
"""
from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from dataclasses import dataclass

import httpx

log = logging.getLogger("pinewire.telegram")
logging.getLogger("httpx").setLevel(logging.WARNING)   # its INFO line names the URL, the token

PER_CHAT_S = 1.0          # Telegram: about one message a second to one chat
PER_SECOND = 30           # ... and thirty a second from one bot
ATTEMPTS = 6              # a 5xx or network error: 1 + 5 retries, 1 + 2 + 4 + 8 + 16 s apart
MAX_TEXT = 4096           # Telegram's limit for one message


class TelegramError(RuntimeError):
    """Telegram did not take the message; the reason in words (never the token)."""


@dataclass(frozen=True)
class Chat:
    bot_token: str
    chat_id: str

    def __repr__(self) -> str:    # a stray log of this object reveals nothing
        return f"Chat(chat_id={self.chat_id!r})"


async def send(client: httpx.AsyncClient, base_url: str, chat: Chat, text: str) -> float | None:
    """One attempt: None when sent; the seconds Telegram asks to wait on a 429; TelegramError
    when it refuses, or on a 5xx or network error (retryable: `.retry` is True)."""
    try:
        response = await client.post(f"{base_url.rstrip('/')}/bot{chat.bot_token}/sendMessage",
                                     json={"chat_id": chat.chat_id, "text": text[:MAX_TEXT]})
    except httpx.HTTPError as exc:
        raise _error(f"Telegram unreachable: {type(exc).__name__}", retry=True) from None
    if response.status_code == 200:
        return None
    try:
        body = response.json()
    except ValueError:
        body = {}
    description = str(body.get("description") or response.reason_phrase)[:200]
    if response.status_code == 429:
        return float((body.get("parameters") or {}).get("retry_after") or 1)
    raise _error(f"Telegram answered {response.status_code}: {description}",
                 retry=response.status_code >= 500)


async def updates(client: httpx.AsyncClient, base_url: str, bot_token: str, offset: int,
                  wait_s: float) -> list[dict]:
    """The bot's new updates (long polling: Telegram answers when one comes, or after
    wait_s with none); `offset` confirms the ones before it. TelegramError when it refuses."""
    try:
        response = await client.post(f"{base_url.rstrip('/')}/bot{bot_token}/getUpdates",
                                     json={"offset": offset, "timeout": int(wait_s),
                                           "allowed_updates": ["message"]},
                                     timeout=wait_s + 10)
    except httpx.HTTPError as exc:
        raise _error(f"Telegram unreachable: {type(exc).__name__}", retry=True) from None
    try:
        body = response.json()
    except ValueError:
        body = {}
    if response.status_code != 200 or not body.get("ok"):
        description = str(body.get("description") or response.reason_phrase)[:200]
        raise _error(f"Telegram answered {response.status_code}: {description}",
                     retry=response.status_code >= 500 or response.status_code == 429)
    return list(body.get("result") or [])


def _error(message: str, *, retry: bool) -> TelegramError:
    exc = TelegramError(message)
    exc.retry = retry
    return exc


class Outbox:
    def __init__(self, base_url: str, *, per_chat_s: float = PER_CHAT_S,
                 per_second: int = PER_SECOND, attempts: int = ATTEMPTS,
                 backoff_s: float = 1.0, timeout_s: float = 10.0):
        self.base_url, self.per_chat_s, self.attempts = base_url, per_chat_s, attempts
        self.backoff_s, self.gap_s = backoff_s, 1.0 / per_second
        self.client = httpx.AsyncClient(timeout=timeout_s)
        self.queues: dict[Chat, deque[str]] = {}
        self.drains: dict[Chat, asyncio.Task] = {}
        self._next_any = 0.0                   # the bot-wide pace
        self.sent = self.failed = 0

    def post(self, chat: Chat, text: str) -> None:
        """Queue a message; returns at once."""
        self.queues.setdefault(chat, deque()).append(text)
        if chat not in self.drains:
            self.drains[chat] = asyncio.get_running_loop().create_task(self._drain(chat))

    async def _drain(self, chat: Chat) -> None:
        queue, next_here = self.queues[chat], 0.0
        try:
            while queue:
                await _until(next_here)
                await self._pace()
                await self._deliver(chat, queue[0])
                queue.popleft()
                next_here = time.monotonic() + self.per_chat_s
        finally:
            del self.drains[chat]
            if queue:    # cancelled (shutdown) with messages left: say so
                log.warning("%d Telegram message(s) to chat %s not sent: shutting down",
                            len(queue), chat.chat_id)
                self.failed += len(queue)
            self.queues.pop(chat, None)

    async def _pace(self) -> None:
        now = time.monotonic()
        slot = max(now, self._next_any)
        self._next_any = slot + self.gap_s
        await _until(slot)

    async def _deliver(self, chat: Chat, text: str) -> None:
        failures = 0
        while True:
            try:
                wait = await send(self.client, self.base_url, chat, text)
            except TelegramError as exc:
                failures += 1
                if not exc.retry or failures >= self.attempts:
                    self.failed += 1
                    log.warning("Telegram message to chat %s not sent after %d attempt(s): %s",
                                chat.chat_id, failures, exc)
                    return
                wait = self.backoff_s * 2 ** (failures - 1)
            else:
                if wait is None:
                    self.sent += 1
                    return
                log.info("Telegram asks chat %s to wait %.0f s", chat.chat_id, wait)
            await asyncio.sleep(wait)   # the wait Telegram or the backoff asks for

    async def close(self, timeout_s: float = 5.0) -> None:
        """Let queued messages go for up to `timeout_s`, then stop."""
        tasks = list(self.drains.values())
        if tasks:
            await asyncio.wait(tasks, timeout=timeout_s)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self.client.aclose()


class Inbox:
    """Long-polls getUpdates for each bot token it follows; each message goes to
    on_message(bot_token, message). A refusal (a wrong token) or an outage is logged, never
    with the token, and polled again after RETRY_S."""
    RETRY_S = 5.0

    def __init__(self, base_url: str, on_message, wait_s: float = 25.0):
        self.base_url, self.on_message, self.wait_s = base_url, on_message, wait_s
        self.client = httpx.AsyncClient()
        self.polls: dict[str, asyncio.Task] = {}

    def follow(self, bot_tokens: set[str]) -> None:
        """Poll these bots from now on, and no others."""
        for token in set(self.polls) - bot_tokens:
            self.polls.pop(token).cancel()
        for token in bot_tokens - set(self.polls):
            self.polls[token] = asyncio.get_running_loop().create_task(self._poll(token))

    async def _poll(self, token: str) -> None:
        offset = 0
        while True:
            try:
                batch = await updates(self.client, self.base_url, token, offset, self.wait_s)
            except TelegramError as exc:
                log.warning("reading a bot's messages: %s; again in %.0f s", exc, self.RETRY_S)
                await asyncio.sleep(self.RETRY_S)   # Telegram's outage or refusal: a pace
                continue
            for update in batch:
                offset = max(offset, int(update["update_id"]) + 1)
                if update.get("message"):
                    try:
                        await self.on_message(token, update["message"])
                    except Exception:  # noqa: BLE001 - one bad message stops nothing
                        log.exception("a Telegram message could not be answered")

    async def close(self) -> None:
        for task in self.polls.values():
            task.cancel()
        await asyncio.gather(*self.polls.values(), return_exceptions=True)
        await self.client.aclose()


async def _until(moment: float) -> None:
    delay = moment - time.monotonic()
    if delay > 0:
        await asyncio.sleep(delay)   # a rate limit's pace, not a condition
