"""Restart without loss, and agreement with the brokers.

reconcile: the embedded broker keeps nothing, the ledger keeps everything. When the positions
changelog is empty but the ledger holds live positions, each is sent back into the pipeline as
a RESTORE command on its instrument's partition, and the ledger records that it happened (the
status page shows it). Settings topics are rebuilt from SQL every start.

reconcile_brokers: each live account's positions, holdings and order book against pinewire's
open live positions on it (agents.reconciliation decides): what the broker shows flat is
closed (a RECONCILE command), what it holds beyond pinewire is reported; a report per account
in the ledger and on the status page.
"""
from __future__ import annotations

import json
import logging
import time

from sqlalchemy import Engine

from agents import reconciliation
from agents.ledger import open_positions
from connectors import credentials, kafka
from connectors.live import open_account
from schemas import ids, instruments, sql, topics as registry
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
    held = [reconciliation.Held(r["id"], r["token"], r["symbol"], r["side"],
                                (r["entry_qty"] or 0) - (r["exit_qty"] or 0), r["state"],
                                protected=bool(r["snapshot"].get("rule_id")))
            for r in live]
    try:
        creds = credentials.load(eng, settings.secret_key, account["id"])
        adapter = open_account(creds, settings, emit_fill=None, on_health=lambda *a: None,
                               account_name=account["name"])
        net = await adapter.broker.net_positions()
        holdings = await adapter.broker.holdings()
        orders = await adapter.updates.book()
    except Exception as exc:  # noqa: BLE001 - whatever stops it is the report
        return _record(eng, account, now, [], [f"not reconciled: {type(exc).__name__}: {exc}"])
    expected = {h.token for h in held}
    at_broker = {t: net.get(t, 0) + (holdings.get(t, 0) if t in expected else 0)
                 for t in set(net) | (set(holdings) & expected)}
    symbols = {t: inst.symbol for t in at_broker if (inst := instruments.by_token(t))}
    report = reconciliation.decide(held, at_broker, orders, symbols)
    by_id = {r["id"]: r for r in live}
    if report.closes:
        async with kafka.producing(settings.bootstrap) as prod:
            for close in report.closes:
                row = by_id[close.position_id]
                command = Command(
                    command_id=ids.event_id("reconcile", close.position_id, row["version"]),
                    kind="RECONCILE", position_id=close.position_id, at_ms=now,
                    token=row["token"], position={"price_paise": close.price_paise,
                                                  "broker_order_id": close.broker_order_id,
                                                  "note": close.note})
                await prod.send_and_wait(
                    registry.topic_name(settings.namespace, registry.COMMANDS),
                    kafka.encode(command), key=close.position_id.encode(),
                    partition=registry.instrument_partition(row["token"], settings.partitions))
    closed = [f"closed {by_id[c.position_id]['symbol']} {c.position_id}: {c.note}"
              for c in report.closes]
    return _record(eng, account, now, closed, report.lines)


def _record(eng: Engine, account: dict, at_ms: int, closed: list[str],
            lines: list[str]) -> dict:
    row = dict(at_ms=at_ms, kind="broker", restored=0, account_id=account["id"],
               user_id=account["user_id"], closed=len(closed), reported=len(lines),
               detail=json.dumps({"closed": closed, "report": lines}))
    with eng.begin() as conn:
        conn.execute(sql.reconciliations.insert().values(**row))
    for line in closed + lines:
        log.warning("account %s: %s", account["name"], line)
    if not closed and not lines:
        log.info("account %s agrees with the broker", account["name"])
    return {"account": account["name"], "closed": closed, "report": lines}
