"""A user's notification settings: the Telegram bot token and chat id (encrypted like broker
credentials, never shown again) and whether ignored alerts are sent too."""
from __future__ import annotations

import time

import httpx
from sqlalchemy import Engine, select

from connectors import credentials, telegram
from schemas import sql
from schemas.settings import Settings


def set_telegram(eng: Engine, secret_key: str | None, user_id: str, *, bot_token: str,
                 chat_id: str, alert_ignored: bool = False) -> None:
    row = dict(user_id=user_id, telegram=credentials.seal_telegram(secret_key, bot_token, chat_id),
               alert_ignored=alert_ignored, updated_at_ms=int(time.time() * 1000))
    with eng.begin() as conn:
        sql.upsert(conn, sql.notify_settings, row, ["user_id"])


def set_alert_ignored(eng: Engine, user_id: str, on: bool) -> bool:
    """False when the user has no Telegram setting to change."""
    with eng.begin() as conn:
        done = conn.execute(sql.notify_settings.update()
                            .where(sql.notify_settings.c.user_id == user_id)
                            .values(alert_ignored=on, updated_at_ms=int(time.time() * 1000)))
    return done.rowcount == 1


def telegram_off(eng: Engine, user_id: str) -> bool:
    with eng.begin() as conn:
        done = conn.execute(sql.notify_settings.delete()
                            .where(sql.notify_settings.c.user_id == user_id))
    return done.rowcount == 1


def telegram_of(eng: Engine, secret_key: str | None, user_id: str) -> tuple[str, str, bool] | None:
    """(bot token, chat id, alert_ignored) of the user, or None."""
    with eng.connect() as conn:
        row = conn.execute(select(sql.notify_settings)
                           .where(sql.notify_settings.c.user_id == user_id)).first()
    if row is None:
        return None
    return (*credentials.open_telegram(secret_key, row.telegram), row.alert_ignored)


async def send_test(settings: Settings, user: dict, found: tuple[str, str, bool]) -> str:
    """A test message to the user's chat now (`found`: telegram_of's answer); what happened,
    in words, or TelegramError."""
    token, chat_id, _ = found
    async with httpx.AsyncClient(timeout=10) as client:
        wait = await telegram.send(client, settings.telegram_api, telegram.Chat(token, chat_id),
                                   f"pinewire: test message for {user['username']}")
    if wait is not None:
        raise telegram.TelegramError(f"Telegram asks to wait {wait:.0f} s (too many messages)")
    return f"sent to chat {chat_id}"
