"""Webhook links and the bot switch: SQL is the source of truth; every change is also published
to its compacted topic, which is how the agents learn it (they never query SQL per alert)."""
from __future__ import annotations

import hashlib
import re
import secrets
import time
from decimal import Decimal, InvalidOperation

from sqlalchemy import Engine, select, update

from pinewire import kafka
from schemas import sql
from schemas import topics as registry
from schemas.records import BotState, LinkConfig


class LinkError(ValueError):
    pass


def now_ms() -> int:
    return int(time.time() * 1000)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _pct(name: str, value) -> str | None:
    if value is None or str(value).strip() in ("", "0"):
        return None
    try:
        d = Decimal(str(value).strip())
    except InvalidOperation:
        raise LinkError(f"{name} must be a number of percent, not {value!r}") from None
    if not d.is_finite() or d < 0 or d >= 100:
        raise LinkError(f"{name} must be between 0 and 100 percent, not {value!r}")
    return str(d.normalize()) if d == d.to_integral() else str(d)


def add_link(eng: Engine, *, name: str, strategy: str, quantity: int, sl=None, target=None,
             trail=None, trail_activation=None, slippage_bps: int = 0, paper: bool = True,
             account_id: str | None = None) -> dict:
    name, strategy = name.strip(), strategy.strip()
    if not re.fullmatch(r"[A-Za-z0-9_.\-]{1,100}", name):
        raise LinkError("name must be 1-100 letters, digits, '_', '.' or '-'")
    if not strategy:
        raise LinkError("strategy must not be empty")
    if int(quantity) <= 0:
        raise LinkError("quantity must be a positive whole number")
    if int(slippage_bps) < 0:
        raise LinkError("slippage must not be negative")
    if not paper and not account_id:
        raise LinkError("a live link needs a broker account (--account NAME)")
    token = secrets.token_urlsafe(24)   # 192 random bits
    row = dict(id=secrets.token_hex(8), name=name, token=token, token_hash=token_hash(token),
               strategy=strategy, quantity=int(quantity), sl_pct=_pct("--sl", sl),
               target_pct=_pct("--target", target), trail_pct=_pct("--trail", trail),
               trail_activation_pct=_pct("--trail-activation", trail_activation),
               slippage_bps=int(slippage_bps), paper=bool(paper), account_id=account_id,
               enabled=True, version=1,
               created_at_ms=now_ms())
    with eng.begin() as conn:
        if conn.execute(select(sql.links.c.id).where(sql.links.c.name == name)).first():
            raise LinkError(f"a link named {name!r} already exists")
        conn.execute(sql.links.insert().values(**row))
    return row


def list_links(eng: Engine) -> list[dict]:
    with eng.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(select(sql.links).order_by(sql.links.c.name))]


def link_by_name(eng: Engine, name: str) -> dict | None:
    with eng.connect() as conn:
        row = conn.execute(select(sql.links).where(sql.links.c.name == name)).first()
    return dict(row._mapping) if row else None


def link_by_token(eng: Engine, token: str) -> dict | None:
    """Looked up by the token's SHA-256, so the time a lookup takes says nothing about how
    much of a guessed token is right."""
    with eng.connect() as conn:
        wanted = sql.links.c.token_hash == token_hash(token)
        row = conn.execute(select(sql.links).where(wanted)).first()
    return dict(row._mapping) if row else None


def bot(eng: Engine) -> dict:
    with eng.connect() as conn:
        row = conn.execute(select(sql.bot_state).where(sql.bot_state.c.id == 1)).first()
    return dict(row._mapping) if row else {"id": 1, "running": True, "version": 0, "at_ms": 0}


def set_bot(eng: Engine, running: bool) -> dict:
    with eng.begin() as conn:
        current = conn.execute(select(sql.bot_state).where(sql.bot_state.c.id == 1)).first()
        version = (current.version if current else 0) + 1
        sql.upsert(conn, sql.bot_state, dict(id=1, running=running, version=version,
                                             at_ms=now_ms()), ["id"])
    return bot(eng)


def link_record(row: dict) -> LinkConfig:
    return LinkConfig(link_id=row["id"], name=row["name"], strategy=row["strategy"],
                      quantity=row["quantity"], sl_pct=row["sl_pct"], target_pct=row["target_pct"],
                      trail_pct=row["trail_pct"], trail_activation_pct=row["trail_activation_pct"],
                      slippage_bps=row["slippage_bps"], paper=row["paper"],
                      account_id=row.get("account_id"), enabled=row["enabled"],
                      version=row["version"])


def bot_record(row: dict) -> BotState:
    return BotState(running=row["running"], version=row["version"], at_ms=row["at_ms"])


async def publish(bootstrap: str, namespace: str, *, links: list[dict] = (),
                  bot_row: dict | None = None) -> None:
    """Write link settings (never their tokens) and the bot state to their compacted topics."""
    async with kafka.producing(bootstrap) as prod:
        for row in links:
            await prod.send_and_wait(registry.topic_name(namespace, registry.LINKS),
                                     kafka.encode(link_record(row)), key=row["id"].encode())
        if bot_row is not None:
            await prod.send_and_wait(registry.topic_name(namespace, registry.BOT),
                                     kafka.encode(bot_record(bot_row)), key=b"bot")


async def publish_everything(eng: Engine, bootstrap: str, namespace: str) -> None:
    """After a broker restart the compacted topics are empty: rebuild them from SQL."""
    await publish(bootstrap, namespace, links=list_links(eng), bot_row=bot(eng))
