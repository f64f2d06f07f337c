"""The bot switches: each user's (their alerts are acted on or not) and the admin's global kill
switch (no user's alerts are acted on while it is off). Both default to running."""
from __future__ import annotations

import time

from sqlalchemy import Engine, select

from schemas import sql


def _now_ms() -> int:
    return int(time.time() * 1000)


def global_switch(eng: Engine) -> dict:
    with eng.connect() as conn:
        row = conn.execute(select(sql.bot_state).where(sql.bot_state.c.id == 1)).first()
    return dict(row._mapping) if row else {"id": 1, "running": True, "version": 0, "at_ms": 0}


def set_global(eng: Engine, running: bool) -> dict:
    with eng.begin() as conn:
        current = conn.execute(select(sql.bot_state).where(sql.bot_state.c.id == 1)).first()
        sql.upsert(conn, sql.bot_state, dict(id=1, running=running, at_ms=_now_ms(),
                                             version=(current.version if current else 0) + 1),
                   ["id"])
    return global_switch(eng)


def user_bot(eng: Engine, user_id: str) -> dict:
    with eng.connect() as conn:
        row = conn.execute(select(sql.user_bots).where(sql.user_bots.c.user_id == user_id)).first()
    return dict(row._mapping) if row else {"user_id": user_id, "running": True, "version": 0,
                                           "at_ms": 0}


def set_user_bot(eng: Engine, user_id: str, running: bool) -> dict:
    with eng.begin() as conn:
        current = conn.execute(select(sql.user_bots).where(
            sql.user_bots.c.user_id == user_id)).first()
        sql.upsert(conn, sql.user_bots, dict(user_id=user_id, running=running, at_ms=_now_ms(),
                                             version=(current.version if current else 0) + 1),
                   ["user_id"])
    return user_bot(eng, user_id)


def all_user_bots(eng: Engine) -> list[dict]:
    with eng.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(select(sql.user_bots))]
