"""Which broker executes an intent: the paper broker, or the broker account of a live link
(SmartAPI or Kite: connectors.live opens either).
A live account's orders all go to its partition (emit.account_partition), so only the worker
owning that partition opens the account's session and order-update listener: one of each per
account, however many workers run. Credentials are read from SQL in a thread."""
from __future__ import annotations

import asyncio
import logging
from typing import Callable

from sqlalchemy import Engine

from agents import account_check, rule_watch
from connectors import credentials
from connectors.live import LiveAccount, open_account
from connectors.order_updates import OrderUpdates
from connectors.paper.broker import PaperBroker
from connectors.placement import PlacingBroker
from schemas.settings import Settings

log = logging.getLogger(__name__)


class Brokers:
    """config_of(account_id): the account's settings as the worker knows them (name, version);
    a newer version (new credentials, a new day's login) replaces the session.
    on_health(account_id, problem or None) is awaited on every login outcome."""

    def __init__(self, settings: Settings, engine: Callable[[], Engine], emit_fill, paper_book,
                 config_of: Callable[[str], dict | None], on_health, send_command):
        self.settings, self.engine, self.emit_fill = settings, engine, emit_fill
        self.send_command = send_command
        self.config_of, self.on_health = config_of, on_health
        self.paper = PaperBroker(paper_book, int(settings.paper_fill_timeout_s * 1000))
        self.live: dict[str, tuple[int | None, LiveAccount]] = {}
        self.listeners: dict[str, asyncio.Task] = {}
        self.quoting: dict[str, tuple[int | None, PlacingBroker]] = {}

    async def for_intent(self, intent):
        if intent.paper:
            return self.paper
        if not intent.account_id:
            raise credentials.AccountError("live order without a broker account")
        return await self.account(intent.account_id)

    async def quotes(self, account_id: str) -> PlacingBroker:
        """The account's broker for price quotes: its session here if this worker holds it,
        else one opened for quotes only (no order listeners), kept for the account's version."""
        if account_id in self.live:
            return self.live[account_id][1].broker
        version = (self.config_of(account_id) or {}).get("version")
        held = self.quoting.get(account_id)
        if held is None or held[0] != version:
            creds = await asyncio.to_thread(lambda: credentials.load(
                self.engine(), self.settings.secret_key, account_id))
            held = self.quoting[account_id] = (version, open_account(
                creds, self.settings, self.emit_fill, self._health,
                (self.config_of(account_id) or {}).get("name")).broker)
        return held[1]

    async def updates_of(self, account_id: str) -> OrderUpdates:
        """The account's order updates (its order book, normalized)."""
        await self.account(account_id)
        return self.live[account_id][1].updates

    async def account(self, account_id: str) -> PlacingBroker:
        version = (self.config_of(account_id) or {}).get("version")
        if account_id in self.live and self.live[account_id][0] != version:
            log.info("account %s changed (version %s): a new session", account_id, version)
            self.listeners.pop(account_id).cancel()
            del self.live[account_id]
        if account_id not in self.live:
            creds = await asyncio.to_thread(lambda: credentials.load(
                self.engine(), self.settings.secret_key, account_id))
            if account_id not in self.live:     # not opened meanwhile by own()
                self._open(account_id, version, creds)
        return self.live[account_id][1].broker

    def _open(self, account_id: str, version: int | None, creds) -> None:
        account = self.config_of(account_id) or {}
        live = open_account(creds, self.settings, self.emit_fill, self._health,
                            account.get("name"))
        self.live[account_id] = (version, live)
        self.listeners[account_id] = asyncio.gather(
            asyncio.create_task(live.updates.run(), name=f"order-updates:{account_id}"),
            asyncio.create_task(rule_watch.watch(self.engine(), account_id, live.broker,
                                                 live.updates, self.emit_fill),
                                name=f"broker-stops:{account_id}"),
            asyncio.create_task(account_check.watch(
                self.engine(), {"id": account_id, "name": account.get("name") or account_id,
                                "user_id": account.get("user_id")},
                live.broker, live.updates, self.send_command, self.settings.reconcile_every_s,
                self.settings.market_hours), name=f"account-check:{account_id}"))

    def _health(self, account_id: str, problem: str | None) -> None:
        asyncio.get_running_loop().create_task(self.on_health(account_id, problem))

    def _close(self, account_id: str) -> None:
        self.listeners.pop(account_id).cancel()
        del self.live[account_id]
        log.info("account %s: session and order updates closed here (its partition moved)",
                 account_id)

    async def own(self, account_ids: set[str]) -> None:
        """Hold sessions for exactly these accounts (those whose partition this worker owns):
        close the others', and open theirs from the start, so that orders placed before a
        restart or a rebalance still fill into the pipeline."""
        for account_id in set(self.live) - account_ids:
            self._close(account_id)
        for account_id in account_ids:
            try:
                await self.account(account_id)
            except credentials.AccountError as exc:
                log.error("account %s cannot trade: %s", account_id, exc)
