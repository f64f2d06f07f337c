"""The notifier: what matters to a trader, as Telegram messages (agents/notify.py says which and
how), sent by connectors/telegram.py's outbox, which never makes the caller wait.

It runs in the ledger process, which reads the events topic in a consumer group of its own:
reading that topic in the workers cost the exits (tick → exit order p99 173 ms → 605 ms in
bench.tick_path), so messages are kept off the trading path. Each user's bot token and chat id,
and the links' names, are read from SQL in a thread and kept for RECIPIENTS_TTL_S: a change
reaches the notifier within that time.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from sqlalchemy import select

from agents import notify
from connectors import credentials
from connectors.telegram import Chat, Outbox
from schemas import sql
from schemas.records import Event

log = logging.getLogger("pinewire.notifier")
RECIPIENTS_TTL_S = 30.0
NOBODY_TTL_S = 2.0
MAX_AGE_MS = 10 * 60_000    # an older event (a backlog after an outage) is counted, not sent
EOD_GATHER_S = 60.0         # the longest a sweep's reports are gathered into one message


class Notifier:
    def __init__(self, engine, secret_key: str | None, telegram_api: str, partitions: int):
        self.engine, self.secret_key, self.partitions = engine, secret_key, partitions
        self.outbox = Outbox(telegram_api)
        self._recipients: dict[str | None, tuple[float, list[tuple[Chat, bool]]]] = {}
        self._names: tuple[float, dict[str, str]] = (0.0, {})
        self._announced: dict[str, None] = {}   # ids of operator events sent lately, in order
        self._sweeps: dict[tuple, dict] = {}     # (sweep kind, day) -> its reports so far
        self._gathering: set[asyncio.Task] = set()
        self.stale = 0

    async def on_event(self, event: Event) -> None:
        if not notify.worth_reading(event.kind, event.reason) or not self._first_time(event):
            return
        if event.kind == "EOD_REPORT" and event.detail:
            self._gather(event)
            return
        await self._send(event.asdict(), event.link_id)

    def _gather(self, event: Event) -> None:
        """A sweep reports once per partition: its reports are gathered until every partition's
        is in (or for EOD_GATHER_S, when another ledger process reads some), so that each user
        hears of the sweep once."""
        key = (event.detail["kind"], event.detail["day"])
        gathered = self._sweeps.get(key)
        if gathered is None:
            gathered = self._sweeps[key] = {**event.asdict(), "partitions": set(),
                                            "done": asyncio.Event(),
                                            "detail": {**event.detail, "rows": []}}
            task = asyncio.get_running_loop().create_task(self._send_gathered(key))
            self._gathering.add(task)
            task.add_done_callback(self._gathering.discard)
        gathered["detail"]["rows"] += event.detail["rows"]
        gathered["partitions"].add(event.detail.get("partition"))
        if len(gathered["partitions"]) >= self.partitions:
            gathered["done"].set()

    async def _send_gathered(self, key: tuple) -> None:
        gathered = self._sweeps[key]
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(gathered["done"].wait(), EOD_GATHER_S)
        del self._sweeps[key]
        await self._send({k: v for k, v in gathered.items() if k not in ("partitions", "done")},
                         "")

    async def _send(self, event: dict, link_id: str) -> None:
        names = await self._link_names(link_id)
        found = notify.messages(event, names.get)
        if not found:
            return
        if int(time.time() * 1000) - event["at_ms"] > MAX_AGE_MS:
            self.stale += len(found)
            log.info("%d message(s) of events older than %d min not sent (%d in all)",
                     len(found), MAX_AGE_MS // 60_000, self.stale)
            return
        for message in found:
            for chat, alert_ignored in await self.recipients(message.user_id):
                if message.kind != notify.IGNORED or alert_ignored:
                    self.outbox.post(chat, message.text)

    def _first_time(self, event: Event) -> bool:
        """Operator events come from several workers alike: one message per event id."""
        if event.user_id is not None:
            return True
        if event.event_id in self._announced:
            return False
        self._announced[event.event_id] = None
        if len(self._announced) > 1000:
            del self._announced[next(iter(self._announced))]
        return True

    async def recipients(self, user_id: str | None) -> list[tuple[Chat, bool]]:
        """Kept RECIPIENTS_TTL_S, or NOBODY_TTL_S when nobody is set: a first setting is used
        within seconds."""
        cached = self._recipients.get(user_id)
        if cached is None or cached[0] < time.monotonic():
            chats = await asyncio.to_thread(self._load, user_id)
            cached = (time.monotonic() + (RECIPIENTS_TTL_S if chats else NOBODY_TTL_S), chats)
            self._recipients[user_id] = cached
        return cached[1]

    def _load(self, user_id: str | None) -> list[tuple[Chat, bool]]:
        """(chat, sends ignored alerts) of a user, or of every admin for None."""
        query = select(sql.notify_settings)
        if user_id is None:
            admins = select(sql.users.c.id).where(sql.users.c.is_admin)
            query = query.where(sql.notify_settings.c.user_id.in_(admins))
        else:
            query = query.where(sql.notify_settings.c.user_id == user_id)
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        chats = []
        for row in rows:
            try:
                chats.append((Chat(*credentials.open_telegram(self.secret_key, row.telegram)),
                              row.alert_ignored))
            except credentials.AccountError as exc:
                log.warning("no Telegram messages for user %s: %s", row.user_id, exc)
        return chats

    async def _link_names(self, link_id: str) -> dict[str, str]:
        """Link id -> name, read again when old or when a link is not in it (a new one; at
        most once a second)."""
        expires, names = self._names
        now = time.monotonic()
        if expires < now or (link_id and link_id not in names and
                             expires - RECIPIENTS_TTL_S + 1 < now):
            self._names = (now + RECIPIENTS_TTL_S, await asyncio.to_thread(self._load_names))
        return self._names[1]

    def _load_names(self) -> dict[str, str]:
        with self.engine.connect() as conn:
            return dict(conn.execute(select(sql.links.c.id, sql.links.c.name)).all())

    async def close(self) -> None:
        await self.outbox.close()
