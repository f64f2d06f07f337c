"""Strategies attached to links, and named universes of instruments: their one validation,
their rows in SQL (the source of truth) and the record the workers follow on the strategies
topic. A link has at most one strategy; attaching again replaces it (the version goes up)."""
from __future__ import annotations

import secrets
import time

from sqlalchemy import Engine, select

from agents.strategies.base import StrategyError
from agents.strategies.candles import timeframe_of
from agents.strategies.shipped import make
from schemas import sql
from schemas.records import StrategyAttachment

MAX_INSTRUMENTS = 1000      # one attachment's instruments: a market-data connection's limit


def now_ms() -> int:
    return int(time.time() * 1000)


def resolve(catalog, symbols: list[str]) -> tuple[list[str], list[str]]:
    """(["NSE:SBIN-EQ", ...], their tokens) of symbols such as SBIN or NSE:SBIN; StrategyError
    names every unknown one."""
    names, tokens, unknown = [], [], []
    for raw in symbols:
        text = raw.strip().upper()
        if not text:
            continue
        exchange, symbol = text.split(":", 1) if ":" in text else ("NSE", text)
        inst = catalog.lookup(symbol, exchange)
        if inst is None:
            unknown.append(text)
        elif inst.token not in tokens:
            names.append(f"{inst.exchange}:{inst.symbol}")
            tokens.append(inst.token)
    if unknown:
        raise StrategyError(f"unknown symbol(s): {', '.join(unknown)}")
    if not tokens:
        raise StrategyError("no instruments: give symbols or a universe")
    if len(tokens) > MAX_INSTRUMENTS:
        raise StrategyError(f"{len(tokens)} instruments; at most {MAX_INSTRUMENTS}")
    return names, tokens


SCREENS = ("price", "avg_volume", "market_cap")    # what a screener's export may give


def screen(rows: list[dict], *, min_price=None, max_price=None, min_avg_volume=None,
           min_market_cap=None) -> tuple[list[str], dict[str, int]]:
    """The symbols of rows ({"symbol", and any of price (rupees), avg_volume, market_cap
    (crores)}) that pass each filter given, where their value is known; and, per filtered
    field, how many of the rows kept did not know it."""
    tests = {"price": lambda v: (min_price is None or v >= min_price) and
             (max_price is None or v <= max_price),
             "avg_volume": lambda v: min_avg_volume is None or v >= min_avg_volume,
             "market_cap": lambda v: min_market_cap is None or v >= min_market_cap}
    wanted = {"price": min_price is not None or max_price is not None,
              "avg_volume": min_avg_volume is not None, "market_cap": min_market_cap is not None}
    kept, unknown = [], {field: 0 for field, on in wanted.items() if on}
    for row in rows:
        passed, not_known = True, []
        for field in unknown:
            value = row.get(field)
            if value in (None, ""):
                not_known.append(field)
                continue
            try:
                passed = passed and tests[field](float(value))
            except ValueError:
                raise StrategyError(f"{row.get('symbol')}: {field} {value!r} is not a "
                                    "number") from None
        if passed:
            kept.append(row["symbol"])
            for field in not_known:
                unknown[field] += 1
    return kept, unknown


def add_universe(eng: Engine, catalog, *, name: str, symbols: list[str],
                 user_id: str | None) -> dict:
    names, _ = resolve(catalog, symbols)
    row = dict(id=secrets.token_hex(8), name=name.strip(), symbols=names,
               created_at_ms=now_ms(), user_id=user_id)
    if not row["name"]:
        raise StrategyError("a universe needs a name")
    with eng.begin() as conn:
        conn.execute(sql.universes.delete().where(sql.universes.c.name == row["name"],
                                                  sql.universes.c.user_id == user_id))
        conn.execute(sql.universes.insert().values(**row))
    return row


def universes(eng: Engine, user_id: str | None) -> list[dict]:
    with eng.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(
            select(sql.universes).where(sql.universes.c.user_id == user_id)
            .order_by(sql.universes.c.name))]


def universe(eng: Engine, name: str, user_id: str | None) -> dict | None:
    with eng.connect() as conn:
        row = conn.execute(select(sql.universes).where(sql.universes.c.name == name,
                                                       sql.universes.c.user_id == user_id)).first()
    return dict(row._mapping) if row else None


def attach(eng: Engine, catalog, link: dict, *, name: str, params: dict,
           symbols: list[str] | None = None, universe_name: str | None = None) -> dict:
    """Attach (or re-attach) a strategy to a link: every parameter and symbol checked."""
    if (symbols is None) == (universe_name is None):
        raise StrategyError("give the instruments: symbols (A,B) or a universe, not both")
    if not isinstance(params, dict):
        raise StrategyError("the parameters must be a JSON object such as {\"fast\": 20}")
    strategy = make(name, "0", params)         # checks the name and the parameters
    if universe_name is not None:
        found = universe(eng, universe_name, link["user_id"])
        if found is None:
            raise StrategyError(f"no universe named {universe_name!r} (pinewire universe list)")
        symbols = found["symbols"]
    names, tokens = resolve(catalog, symbols)
    with eng.begin() as conn:
        old = conn.execute(select(sql.strategy_attachments).where(
            sql.strategy_attachments.c.link_id == link["id"])).first()
        row = dict(id=old.id if old else secrets.token_hex(8), link_id=link["id"], name=name,
                   params=params, timeframe=timeframe_of(strategy.params.timeframe),
                   symbols=names, universe=universe_name, tokens=tokens, enabled=True,
                   version=old.version + 1 if old else 1, user_id=link["user_id"],
                   created_at_ms=now_ms())
        if old:
            conn.execute(sql.strategy_attachments.update()
                         .where(sql.strategy_attachments.c.id == old.id).values(**row))
        else:
            conn.execute(sql.strategy_attachments.insert().values(**row))
    return row


def detach(eng: Engine, link: dict) -> dict | None:
    """The attachment as it was, disabled and a version up (for the topic), or None."""
    with eng.begin() as conn:
        old = conn.execute(select(sql.strategy_attachments).where(
            sql.strategy_attachments.c.link_id == link["id"])).first()
        if old is None:
            return None
        conn.execute(sql.strategy_attachments.delete()
                     .where(sql.strategy_attachments.c.id == old.id))
    return {**old._mapping, "enabled": False, "version": old.version + 1}


def attachments(eng: Engine, user_id: str | None = None) -> list[dict]:
    query = select(sql.strategy_attachments)
    if user_id is not None:
        query = query.where(sql.strategy_attachments.c.user_id == user_id)
    with eng.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(query)]


def record(row: dict) -> StrategyAttachment:
    return StrategyAttachment(attachment_id=row["id"], link_id=row["link_id"], name=row["name"],
                              params=row["params"], timeframe=row["timeframe"],
                              tokens=list(row["tokens"]), symbols=list(row["symbols"]),
                              enabled=row["enabled"],
                              version=row["version"], user_id=row["user_id"])

