"""The notifier: an agent on the events topic that turns what matters to a trader into Telegram
messages (agents/notify.py says which and how), sent by connectors/telegram.py's outbox, which
never makes the stream wait. Each user's bot token and chat id are read from SQL in a thread and
kept for RECIPIENTS_TTL_S; a change reaches the workers within that time."""
from __future__ import annotations

import asyncio
import logging
import time

import mode
from sqlalchemy import select

from agents import app as A
from agents import emit, notify
from agents.emit import now_ms
from agents.pipeline import engine, memory
from connectors import credentials
from connectors.telegram import Chat, Outbox
from schemas import sql

log = logging.getLogger("pinewire.notifier")
RECIPIENTS_TTL_S = 30.0
MAX_AGE_MS = 10 * 60_000    # an older event (a backlog after an outage) is counted, not sent


@A.app.service
class Notifier(mode.Service):
    outbox: Outbox | None = None

    async def on_start(self) -> None:
        Notifier.outbox = Outbox(A.S.telegram_api)

    async def on_stop(self) -> None:
        if Notifier.outbox is not None:
            await Notifier.outbox.close()


_recipients: dict[str | None, tuple[float, list[tuple[Chat, bool]]]] = {}
_stale = 0


def _load(user_id: str | None) -> list[tuple[Chat, bool]]:
    """(chat, sends ignored alerts) of a user, or of every admin for None."""
    query = select(sql.notify_settings)
    if user_id is None:
        admins = select(sql.users.c.id).where(sql.users.c.is_admin)
        query = query.where(sql.notify_settings.c.user_id.in_(admins))
    else:
        query = query.where(sql.notify_settings.c.user_id == user_id)
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    chats = []
    for row in rows:
        try:
            chats.append((Chat(*credentials.open_telegram(A.S.secret_key, row.telegram)),
                          row.alert_ignored))
        except credentials.AccountError as exc:
            log.warning("no Telegram messages for user %s: %s", row.user_id, exc)
    return chats


async def recipients(user_id: str | None) -> list[tuple[Chat, bool]]:
    cached = _recipients.get(user_id)
    if cached is None or cached[0] < time.monotonic():
        cached = (time.monotonic() + RECIPIENTS_TTL_S, await asyncio.to_thread(_load, user_id))
        _recipients[user_id] = cached
    return cached[1]


def _link_name(link_id: str) -> str | None:
    link = memory.link(link_id)
    return link["name"] if link else None


_watched: set[str] = set()            # other workers seen alive
_announced: dict[str, None] = {}      # event ids of operator messages sent lately, in order


async def watch_workers(me: str) -> None:
    """Each heartbeat: a worker that stopped beating is announced (to the events topic's
    partition 0, whose owner sends the message once however many workers report it)."""
    global _watched
    beats = memory.config.values[memory.workers_topic]
    _watched, lost = notify.lost_workers(beats, _watched, me, now_ms(), A.S.heartbeat_s)
    for worker_id, last_ms in lost:
        log.warning("worker %s lost: no heartbeat since %d", worker_id, last_ms)
        await emit.event("WORKER_LOST", link_id="", partition=0,
                         key=f"worker-lost:{worker_id}:{last_ms}",
                         reason=f"worker {worker_id} lost: no heartbeat for "
                                f"{(now_ms() - last_ms) / 1000:.0f} s; its partitions move to "
                                "the others")


def _first_time(event) -> bool:
    """Operator events come from several workers alike: one message per event id."""
    if event.user_id is not None or event.event_id in _announced:
        return event.user_id is not None
    _announced[event.event_id] = None
    if len(_announced) > 1000:
        del _announced[next(iter(_announced))]
    return True


async def on_event(event) -> None:
    global _stale
    if not notify.worth_reading(event.kind, event.reason) or not _first_time(event):
        return
    found = notify.messages(event.asdict(), _link_name)
    if not found:
        return
    if now_ms() - event.at_ms > MAX_AGE_MS:
        _stale += len(found)
        log.info("%d message(s) of events older than %d min not sent (%d in all)", len(found),
                 MAX_AGE_MS // 60_000, _stale)
        return
    for message in found:
        for chat, alert_ignored in await recipients(message.user_id):
            if message.kind != notify.IGNORED or alert_ignored:
                Notifier.outbox.post(chat, message.text)


@A.app.agent(A.events_topic, concurrency=1)
async def on_events(stream):
    await A.consume(stream, on_event)
