"""Restart without loss: the embedded broker keeps nothing, the ledger keeps everything.

When the positions changelog is empty but the ledger holds live positions, each is sent back
into the pipeline as a RESTORE command on its instrument's partition, and the ledger records
that it happened (the status page shows it). Settings topics are rebuilt from SQL every start.
"""
from __future__ import annotations

import logging
import time

from sqlalchemy import Engine

from agents.ledger import open_positions
from connectors import kafka
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
