"""Restart without loss, and agreement with the brokers.

reconcile: the embedded broker keeps nothing, the ledger keeps everything. When the positions
changelog is empty but the ledger holds live positions, each is sent back into the pipeline as
a RESTORE command on its instrument's partition, and the ledger records that it happened (the
status page shows it). Settings topics are rebuilt from SQL every start.

reconcile_brokers: each live account's positions, holdings and order book against pinewire's
open live positions on it (agents/account_check.py, as the workers do it during the session):
what the broker shows flat is closed (a RECONCILE command), what it holds beyond pinewire is
reported; a report per account in the ledger and on the status page.
"""
from __future__ import annotations

import asyncio
import logging
import time

from sqlalchemy import Engine

from agents import account_check
from agents.ledger import open_positions
from connectors import credentials, kafka
from connectors.live import count_calls_in, open_account
from schemas import ids, sql, topics as registry
from schemas.records import Command
from schemas.settings import Settings
from webapp.publish import publish_everything

log = logging.getLogger(__name__)


async def reconcile(eng: Engine, settings: Settings) -> int:
    """Returns how many positions were restored (0 when the pipeline still had its state)."""
    bootstrap, ns = settings.bootstrap, settings.namespace
    await publish_everything(eng, bootstrap, ns)
    changelog = registry.changelog_name(ns, "positions")
    ends = await kafka.topic_offsets(bootstrap, [changelog])
    if sum(ends.get(changelog, {}).values()) > 0:
        return 0
    live = open_positions(eng)
    if not live:
        return 0
    now = int(time.time() * 1000)
    async with kafka.producing(bootstrap) as prod:
        for row in live:
            snapshot = row["snapshot"]
            command = Command(command_id=ids.event_id("restore", row["id"], row["version"], now),
                              kind="RESTORE", position_id=row["id"], at_ms=now, position=snapshot)
            await prod.send_and_wait(
                registry.topic_name(ns, registry.COMMANDS), kafka.encode(command),
                key=row["id"].encode(),
                partition=registry.instrument_partition(row["token"], settings.partitions))
    detail = ", ".join(f"{r['symbol']} {r['side']} {r['state']}" for r in live)
    with eng.begin() as conn:
        conn.execute(sql.reconciliations.insert().values(at_ms=now, restored=len(live),
                                                         detail=detail))
    log.info("restored %d live position(s) from the ledger: %s", len(live), detail)
    return len(live)


async def reconcile_brokers(eng: Engine, settings: Settings) -> list[dict]:
    """Reconcile every account that has open live positions or a live link; the reports."""
    from webapp.accounts import account_rows
    from webapp.links import list_links
    count_calls_in(lambda: eng)          # within each broker's limits, with the workers' calls
    live = [r for r in open_positions(eng) if r["account_id"] and not r["snapshot"]["paper"]]
    wanted = {r["account_id"] for r in live} | {
        link["account_id"] for link in list_links(eng) if not link["paper"] and link["account_id"]}
    reports = []
    for account in account_rows(eng):
        if account["id"] in wanted:
            reports.append(await _reconcile_account(eng, settings, account, [
                r for r in live if r["account_id"] == account["id"]]))
    return reports


async def _reconcile_account(eng: Engine, settings: Settings, account: dict,
                             live: list[dict]) -> dict:
    now = int(time.time() * 1000)
    try:
        creds = await asyncio.to_thread(credentials.load, eng, settings.secret_key,
                                        account["id"])
        adapter = open_account(creds, settings, emit_fill=None, on_health=lambda *a: None,
                               account_name=account["name"])
        report = await account_check.compare(adapter.broker, adapter.updates, live)
    except Exception as exc:  # noqa: BLE001 - whatever stops it is the report
        return account_check.record(eng, account, now, [],
                                    [f"not reconciled: {type(exc).__name__}: {exc}"])
    found = account_check.commands(report, live, now)
    if found:
        async with kafka.producing(settings.bootstrap) as prod:
            for command in found:
                await prod.send_and_wait(
                    registry.topic_name(settings.namespace, registry.COMMANDS),
                    kafka.encode(command), key=command.position_id.encode(),
                    partition=registry.instrument_partition(command.token,
                                                            settings.partitions))
    return account_check.record(eng, account, now, account_check.closed_lines(report, live),
                                report.lines)
