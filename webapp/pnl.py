"""P&L from the ledger: realized (closed that IST day) and unrealized (live positions at the last
prices the workers report), per position, link, account and day; the breaker's view of a link.
The arithmetic is agents/risk.py's, the same the workers gate entries with."""
from __future__ import annotations

import asyncio
from datetime import date, datetime, time, timedelta
from typing import Iterable

from sqlalchemy import Engine

from agents import risk
from agents.ledger import day_positions
from connectors import kafka
from schemas import topics as registry
from schemas.money import signed_rupees
from schemas.settings import Settings
from webapp import accounts, links


def day_bounds(day: date) -> tuple[int, int]:
    start = datetime.combine(day, time(0), risk.IST)
    return int(start.timestamp() * 1000), int((start + timedelta(days=1)).timestamp() * 1000)


def newest_prices(beats: Iterable[dict | None]) -> dict[str, int]:
    """token -> the newest last price any worker heartbeat reports for it."""
    prices, at = {}, {}
    for beat in beats:
        for token, (price, ts) in ((beat or {}).get("last_prices") or {}).items():
            if ts >= at.get(token, -1):
                prices[token], at[token] = price, ts
    return prices


def heartbeats(settings: Settings, timeout_s: float = 5.0) -> list[dict]:
    """The workers' last heartbeats (their last prices and ticks); [] when Kafka cannot be
    read. Blocking: call it in a thread."""
    async def read() -> list[dict]:
        name = registry.topic_name(settings.namespace, registry.WORKERS)
        return [beat async for _, _, _, beat in kafka.read_topic(settings.bootstrap, name)
                if beat]
    try:
        return asyncio.run(asyncio.wait_for(read(), timeout_s))
    except Exception:  # noqa: BLE001 - unknown, said so by the caller
        return []


def last_prices(settings: Settings, timeout_s: float = 5.0) -> dict[str, int]:
    """token -> last price, from the workers' heartbeats; {} when Kafka cannot be read."""
    return newest_prices(heartbeats(settings, timeout_s))


def today() -> date:
    return datetime.now(risk.IST).date()


def _scope(name: str, limits: dict, rows: list[dict], day: date, prices: dict) -> risk.Scope:
    return risk.Scope(name, limits.get("max_open"), limits.get("daily_loss_paise"),
                      risk.open_count(rows),
                      risk.day_pnl(rows, day, prices.get, limits.get("breaker_reset_at_ms")))


def link_today(eng: Engine, settings: Settings, link: dict) -> risk.Scope:
    day = today()
    return _scope(f"link {link['name']}", link,
                  day_positions(eng, *day_bounds(day), link_id=link["id"]), day,
                  last_prices(settings))


def limited_scopes(eng: Engine, prices: dict) -> list[risk.Scope]:
    """Every link and account with a risk limit, as the workers see it today."""
    day = today()
    rows = day_positions(eng, *day_bounds(day))
    scopes = [_scope(f"link {link['name']}", link, [r for r in rows if r["link_id"] == link["id"]],
                     day, prices)
              for link in links.list_links(eng) if link["max_open"] or link["daily_loss_paise"]]
    scopes += [_scope(f"account {a['name']}", a, [r for r in rows if r["account_id"] == a["id"]],
                      day, prices)
               for a in accounts.account_rows(eng) if a["max_open"] or a["daily_loss_paise"]]
    return scopes


def max_drawdown(realized_in_order: Iterable[int]) -> int:
    """The largest fall, in paise, of a running total from its highest (the day starts at 0)."""
    total = high = worst = 0
    for pnl in realized_in_order:
        total += pnl
        high, worst = max(high, total), max(worst, high - total)
    return worst


def _trades(totals: dict, closed: list[tuple[int, int]]) -> dict:
    """A bucket's closed trades (close time, realized) into its count, win rate and max
    drawdown."""
    closed.sort()
    wins = sum(1 for _, pnl in closed if pnl > 0)
    return {**totals, "trades": len(closed), "wins": wins,
            "win_rate_pct": round(100 * wins / len(closed)) if closed else None,
            "max_drawdown_paise": max_drawdown(pnl for _, pnl in closed)}


def trades_words(t: dict) -> str:
    """A summary's trades as a report says them: '2 trades closed, 50 % won, max drawdown
    100.00'."""
    if not t["trades"]:
        return "no trade closed"
    return (f"{t['trades']} trade(s) closed, {t['win_rate_pct']} % won, max drawdown "
            f"{signed_rupees(t['max_drawdown_paise'])}")


def report(eng: Engine, settings: Settings, day: date, user_id: str,
           link_id: str | None = None, prices: dict[str, int] | None = None) -> dict:
    """The user's P&L of the day (one link's, with link_id): per position, and per link,
    account and in total the realized and unrealized P&L, fees, positions open, trades closed,
    their win rate and the realized P&L's max drawdown. `prices`: the last prices, when the
    caller has them (else read from the workers' heartbeats)."""
    prices = last_prices(settings) if prices is None else prices
    names = {r["id"]: r["name"] for r in links.list_links(eng, user_id)}
    account_names = {r["id"]: r["name"] for r in accounts.account_rows(eng, user_id)}
    positions, by_link, by_account = [], {}, {}
    zero = {"realized_paise": 0, "unrealized_paise": 0, "fees_paise": 0, "open": 0}
    closed: dict[tuple[str, str], list] = {}     # (bucket, name) -> [(closed at, realized)]
    for row in day_positions(eng, *day_bounds(day), link_id=link_id, user_id=user_id):
        realized, unrealized = risk.pnl(row, prices.get(row["token"]))
        entry = {"id": row["id"], "link": names.get(row["link_id"], row["link_id"]),
                 "symbol": row["symbol"], "side": row["side"], "state": row["state"],
                 "quantity": row["entry_qty"], "realized_paise": realized,
                 "unrealized_paise": unrealized, "fees_paise": row.get("fees_paise") or 0,
                 "priced": row["state"] == "CLOSED" or row["token"] in prices}
        positions.append(entry)
        account = account_names.get(row.get("account_id"), "(no account)")
        for key, bucket in ((entry["link"], by_link), (account, by_account)):
            totals = bucket.setdefault(key, dict(zero))
            totals["realized_paise"] += realized
            totals["unrealized_paise"] += unrealized
            totals["fees_paise"] += entry["fees_paise"]
            totals["open"] += row["state"] in risk.LIVE_STATES
        if row["state"] == "CLOSED":
            for where in (("link", entry["link"]), ("account", account), ("total", "")):
                closed.setdefault(where, []).append((row["closed_at_ms"], realized))
    total = _trades({k: sum(t[k] for t in by_link.values()) for k in zero},
                    closed.get(("total", ""), []))
    by_link = {k: _trades(t, closed.get(("link", k), [])) for k, t in by_link.items()}
    by_account = {k: _trades(t, closed.get(("account", k), [])) for k, t in by_account.items()}
    return {"day": day.isoformat(), "positions": positions, "links": by_link,
            "accounts": by_account, "total": total, "prices_known": bool(prices)}
