"""GET /status, /status.json and /healthz: what is running and how far behind it is."""
from __future__ import annotations

import asyncio
import json
import time
from datetime import datetime, timezone

from sqlalchemy import desc, select, text
from starlette.requests import Request
from starlette.responses import JSONResponse

from agents.ledger import open_positions
from connectors import kafka
from schemas import sql, topics as registry
from schemas.money import paise_to_rupees, signed_rupees
from schemas.records import heartbeat_alive
from webapp import bots, pnl
from webapp.auth import signed_in
from webapp.live import last_prices, position_view


def _age_s(ms: int | None, now_ms: int) -> float | None:
    return None if ms is None else round((now_ms - ms) / 1000, 1)


# a topic's lag on the status page, per consumer group (registry.consumer_groups)
LAG_FIELDS = {"workers": "lag", "ledger": "ledger_lag"}


async def _kafka_view(settings) -> dict:
    ns = settings.namespace
    names = [registry.topic_name(ns, s) for s in registry.ALL]
    ends = await kafka.topic_offsets(settings.bootstrap, names)
    committed = {LAG_FIELDS[name]: await kafka.committed_offsets(
        settings.bootstrap, group, {t: ends[t] for t in (registry.topic_name(ns, s) for s in specs)
                                    if t in ends})
        for name, (group, specs) in registry.consumer_groups(ns).items()}
    topics = []
    for name in names:
        parts = ends.get(name)
        if parts is None:
            topics.append({"name": name, "exists": False})
            continue
        entry = {"name": name, "exists": True, "partitions": len(parts),
                 "end_offsets": [parts[p] for p in sorted(parts)], "records": sum(parts.values())}
        for field, done in committed.items():     # the workers' lag, and the ledger's
            if name in done:
                entry[field] = sum(max(0, parts[p] - done[name][p]) for p in parts)
        topics.append(entry)
    return {"reachable": True, "bootstrap": settings.bootstrap, "topics": topics}


async def snapshot(state) -> dict:
    settings, now = state.settings, int(time.time() * 1000)
    try:
        broker = await asyncio.wait_for(_kafka_view(settings), 5)
    except Exception as exc:  # noqa: BLE001 - the page reports any failure to reach Kafka
        broker = {"reachable": False, "bootstrap": settings.bootstrap,
                  "error": f"{type(exc).__name__}: {exc}"}
    beats = [b for b in state.heartbeats.values[state.workers_topic].values() if b]
    workers = sorted(({"worker_id": b["worker_id"], "active_partitions": b["active"],
                       "standby_partitions": b["standby"], "open_positions": b["open_positions"],
                       "heartbeat_age_s": _age_s(b["at_ms"], now),
                       "alive": heartbeat_alive(b, now, settings.heartbeat_s),
                       "last_tick_age_s": _age_s(b.get("last_tick_ms"), now)} for b in beats),
                     key=lambda w: w["worker_id"])
    prices = last_prices(state)
    limits = await asyncio.to_thread(pnl.limited_scopes, state.engine, prices)
    live = [w for w in workers if w["alive"]]
    tick_ages = [w["last_tick_age_s"] for w in live if w["last_tick_age_s"] is not None]
    return {
        "at_ms": now,
        "broker": broker,
        "workers": workers,
        "last_tick_age_s": min(tick_ages) if tick_ages else None,
        "bot": {"running": (await asyncio.to_thread(bots.global_switch, state.engine))["running"]},
        "open_positions": [_position(p, prices)
                           for p in await asyncio.to_thread(open_positions, state.engine)],
        "reconciliation": await asyncio.to_thread(_last_reconciliation, state.engine),
        "broker_reconciliations": await asyncio.to_thread(_broker_reconciliations,
                                                          state.engine),
        "dead_letters": _records(broker, dead_letters_topic(settings)),
        "risk_limits": [{**s.figures(), "tripped": s.tripped,
                         "day_pnl": signed_rupees(s.day_pnl_paise),
                         "daily_loss": s.daily_loss_paise and paise_to_rupees(s.daily_loss_paise)}
                        for s in limits],
    }


def dead_letters_topic(settings) -> str:
    return registry.topic_name(settings.namespace, registry.DEAD_LETTERS)


def _records(broker: dict, name: str) -> int | None:
    """How many records a topic holds (None when the broker cannot be read)."""
    return next((t.get("records") for t in broker.get("topics", []) if t["name"] == name), None)


def _position(row: dict, prices: dict) -> dict:
    view = position_view(row, prices)
    return {**{k: view[k] for k in ("id", "link_id", "symbol", "side", "state", "stop",
                                    "target")},
            "quantity": row["entry_qty"], "entry_price": view["entry"], "last_price": view["last"]}


def _at(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, timezone.utc).isoformat(timespec="seconds")


def _last_reconciliation(eng) -> dict | None:
    """The last restore of positions from the ledger."""
    r = sql.reconciliations.c
    with eng.connect() as conn:
        row = conn.execute(select(sql.reconciliations).where(r.kind == "restore")
                           .order_by(desc(r.id)).limit(1)).first()
    return {**dict(row._mapping), "at": _at(row.at_ms)} if row else None


def _broker_reconciliations(eng) -> list[dict]:
    """Each account's last reconciliation with its broker: what was closed, what to read."""
    r, a = sql.reconciliations.c, sql.accounts.c
    with eng.connect() as conn:
        rows = conn.execute(select(sql.reconciliations, a.name).join(
            sql.accounts, a.id == r.account_id).where(r.kind == "broker").order_by(r.id)).all()
    last = {row.account_id: row for row in rows}
    return [{"account": row.name, "at": _at(row.at_ms), **json.loads(row.detail)}
            for row in sorted(last.values(), key=lambda row: row.name)]


@signed_in(admin=True)
async def status_json(request: Request) -> JSONResponse:
    return JSONResponse(await snapshot(request.app.state))


@signed_in(admin=True)
async def status_html(request: Request):
    from webapp.pages import render
    return await render(request, "status.html", s=await snapshot(request.app.state))


def _database_answers(eng) -> None:
    with eng.connect() as conn:
        conn.execute(text("SELECT 1"))


async def healthz(request: Request) -> JSONResponse:
    try:
        await asyncio.to_thread(_database_answers, request.app.state.engine)
    except Exception as exc:  # noqa: BLE001
        return JSONResponse({"ok": False, "error": type(exc).__name__}, status_code=503)
    return JSONResponse({"ok": True})
