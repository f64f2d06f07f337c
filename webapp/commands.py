"""A trader's commands on positions — close one, close all (of a link, an account, or every
one), adjust the levels — from the dashboard, the API, the CLI and Telegram, by one path.

A command is recorded first (who, when, from where), then sent to the partition that owns the
position (CLOSE_ALL: to every partition, each closing what it owns); each partition's owner
answers once (agents/trader_commands.py) and the ledger keeps the answers in command_results.
Only the user's own positions, links and accounts: anything else is "not found".
"""
from __future__ import annotations

import asyncio
import json
import secrets
import time

from sqlalchemy import Engine, select

from agents import manual
from connectors import kafka
from schemas import sql, topics as registry
from schemas.records import Command
from schemas.settings import Settings
from webapp import accounts, links, queries
from webapp.views import NotFound

ORIGINS = {"dashboard": "the dashboard", "api": "the API", "cli": "the CLI",
           "telegram": "Telegram"}
WAIT_S = 10.0          # how long a caller waits for the answers before answering "pending"


def levels_from(data: dict) -> manual.Levels:
    """An adjustment as given (API body, CLI flags, form fields): stop and target in rupees,
    trail in percent, "off" removes one."""
    levels = manual.Levels(stop=manual.parse_price(data.get("stop"), "stop"),
                           target=manual.parse_price(data.get("target"), "target"),
                           trail=manual.parse_trail(data.get("trail")),
                           trail_from_now=bool(data.get("trail_from_now")))
    if levels == manual.Levels():
        raise ValueError("give a stop, a target, a trail or trail_from_now")
    return levels


def prepare(eng: Engine, settings: Settings, user: dict, kind: str, *, origin: str,
            position_id: str | None = None, scope: dict | None = None,
            levels: manual.Levels | None = None) -> tuple[str, list[Command]]:
    """Check and record a command; the records to send. Blocking SQL."""
    now = int(time.time() * 1000)
    command_id = secrets.token_hex(8)
    common = dict(command_id=command_id, kind=kind, at_ms=now, user_id=user["id"],
                  by=f"{user['username']} from {ORIGINS[origin]}")
    if kind == "CLOSE_ALL":
        scope = _own_scope(eng, user["id"], scope or {})
        commands = [Command(**common, partition=p, scope=scope)
                    for p in range(settings.partitions)]
    else:
        row = queries.position(eng, user["id"], position_id or "")
        if row is None:
            raise NotFound("no such position")
        commands = [Command(**common, position_id=position_id,
                            partition=registry.instrument_partition(row["token"],
                                                                    settings.partitions),
                            levels=levels.asdict() if levels else None)]
    with eng.begin() as conn:
        conn.execute(sql.commands.insert().values(
            id=command_id, kind=kind, position_id=position_id,
            scope=json.dumps(scope) if scope else None,
            levels=json.dumps(levels.asdict()) if levels else None, origin=origin,
            actor=user["username"], at_ms=now, answers=len(commands), user_id=user["id"]))
    return command_id, commands


def _own_scope(eng: Engine, user_id: str, scope: dict) -> dict:
    if set(scope) - {"link_id", "account_id"}:
        raise ValueError("close all takes a link, an account, or neither")
    if scope.get("link_id") and links.link_by_id(eng, scope["link_id"], user_id) is None:
        raise NotFound("no such link")
    if scope.get("account_id") and \
            accounts.account_by_id(eng, scope["account_id"], user_id) is None:
        raise NotFound("no such account")
    return {k: v for k, v in scope.items() if v}


async def send(namespace: str, commands: list[Command], deliver) -> None:
    """To the commands topic, each on its partition. deliver(topic, value, key, partition):
    the web app's producer (gateway.AlertProducer.send) or a new one (send_once)."""
    topic = registry.topic_name(namespace, registry.COMMANDS)
    for c in commands:
        await deliver(topic, kafka.encode(c), c.command_id.encode(), c.partition)


async def send_once(bootstrap: str, namespace: str, commands: list[Command]) -> None:
    """send() through a producer of its own (the CLI)."""
    async with kafka.producing(bootstrap) as prod:
        await send(namespace, commands, lambda topic, value, key, partition:
                   prod.send_and_wait(topic, value, key=key, partition=partition))


def answer(eng: Engine, user_id: str, command_id: str) -> dict | None:
    """The command and what its partitions answered so far (done: all of them)."""
    with eng.connect() as conn:
        row = conn.execute(select(sql.commands).where(
            sql.commands.c.id == command_id, sql.commands.c.user_id == user_id)).first()
        if row is None:
            return None
        results = conn.execute(select(sql.command_results).where(
            sql.command_results.c.command_id == command_id)).all()
    answered = [p for r in results for p in json.loads(r.detail or "[]")]
    return {"command_id": row.id, "kind": row.kind, "position_id": row.position_id,
            "scope": json.loads(row.scope) if row.scope else None,
            "levels": json.loads(row.levels) if row.levels else None,
            "origin": row.origin, "by": row.actor, "at_ms": row.at_ms,
            "done": len(results) >= row.answers, "positions": answered}


async def wait(eng: Engine, user_id: str, command_id: str, timeout_s: float = WAIT_S) -> dict:
    """answer() once every partition answered, or as it stands after timeout_s."""
    deadline = time.monotonic() + timeout_s
    while True:
        found = await asyncio.to_thread(answer, eng, user_id, command_id)
        if found is None or found["done"] or time.monotonic() > deadline:
            return found
        await asyncio.sleep(0.1)


def summary(found: dict) -> str:
    """One line for a person: what the command did to each position."""
    if not found["done"] and not found["positions"]:
        return "sent; no answer yet (the workers may be restarting): see Logs"
    if not found["positions"]:
        return "no live position matched"
    return "; ".join(p["reason"] for p in found["positions"])


class NotSent(Exception):
    """Recorded, but Kafka did not take it: nothing will act on it."""


async def run(eng: Engine, settings: Settings, user: dict, kind: str, *, origin: str,
              deliver=None, **what) -> dict:
    """prepare(), send() (through `deliver`, the web app's producer, or a producer of its
    own), wait() for the answers."""
    command_id, records = await asyncio.to_thread(prepare, eng, settings, user, kind,
                                                  origin=origin, **what)
    try:
        if deliver is None:
            await send_once(settings.bootstrap, settings.namespace, records)
        else:
            await send(settings.namespace, records, deliver)
    except Exception as exc:  # noqa: BLE001 - Kafka unreachable, timed out, ...
        raise NotSent(f"Kafka did not take the command ({type(exc).__name__}): nothing was "
                      "done; try again") from exc
    return await wait(eng, user["id"], command_id)
