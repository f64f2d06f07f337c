"""position list|close|set: the trader's hand on open positions (webapp/commands.py)."""
from __future__ import annotations

import asyncio
from fractions import Fraction

from pinewire.verbs.accounts import my_account
from pinewire.verbs.common import engine, ensure_topics, me, user_flag
from pinewire.verbs.links import my_link
from schemas.money import paise_to_rupees
from schemas.settings import settings
from webapp import commands, queries


def cmd_position_list(a) -> int:
    rows = queries.positions(engine(), me(a)["id"], "open")
    if not rows:
        print("no open positions")
        return 0
    print(f"{'position':<18}{'symbol':<22}{'side':<6}{'state':<9}{'qty':>6}{'entry':>12}"
          f"{'stop':>12}{'target':>12}")
    for r in rows:
        print(f"{r['id']:<18}{r['symbol']:<22}{r['side']:<6}{r['state']:<9}"
              f"{(r['entry_qty'] or 0) - (r['exit_qty'] or 0):>6}{_rupees(_entry(r)):>12}"
              f"{_rupees(r['stop']):>12}{_rupees(r['target']):>12}")
    return 0


def _entry(row: dict):
    return row["entry_value_paise"] / row["entry_qty"] if row.get("entry_qty") else None


def _rupees(level) -> str:
    if level is None:
        return "—"
    return paise_to_rupees(round(Fraction(level)))


def cmd_position_close(a) -> int:
    if a.id:
        return _run(a, "CLOSE", position_id=a.id)
    scope = {"link_id": my_link(a, a.link)["id"]} if a.link else \
        {"account_id": my_account(a, a.account)["id"]} if a.account else {}
    return _run(a, "CLOSE_ALL", scope=scope)


def cmd_position_set(a) -> int:
    levels = commands.levels_from({"stop": a.stop, "target": a.target, "trail": a.trail,
                                   "trail_from_now": a.trail_from_now})
    return _run(a, "ADJUST", position_id=a.id, levels=levels)


def _run(a, kind: str, **what) -> int:
    user = me(a)
    ensure_topics()
    found = asyncio.run(commands.run(engine(), settings(), user, kind, origin="cli", **what))
    print(f"command {found['command_id']}: {commands.summary(found)}")
    refused = any(p["outcome"] == "REFUSED" for p in found["positions"])
    return 1 if refused or not found["done"] else 0


def register(sub) -> None:
    g = sub.add_parser("position", help="open positions: list, close now, set their levels") \
        .add_subparsers(dest="position", required=True)
    ls = g.add_parser("list", help="the open positions and their ids")
    user_flag(ls)
    ls.set_defaults(fn=cmd_position_list)
    close = g.add_parser("close", help="close at market now (a pending entry is cancelled)")
    which = close.add_mutually_exclusive_group(required=True)
    which.add_argument("id", nargs="?", help="one position's id (`position list`)")
    which.add_argument("--link", help="every open position of this link")
    which.add_argument("--account", help="every open position on this broker account")
    which.add_argument("--all", action="store_true", help="every open position")
    user_flag(close)
    close.set_defaults(fn=cmd_position_close)
    put = g.add_parser("set", help="move the stop or target (rupees), the trailing (percent); "
                                   "'off' removes one")
    put.add_argument("id")
    put.add_argument("--stop", help="stop price in rupees, or off")
    put.add_argument("--target", help="target price in rupees, or off")
    put.add_argument("--trail", help="trailing stop in percent, or off")
    put.add_argument("--trail-from-now", action="store_true", dest="trail_from_now",
                     help="the trailing stop counts from the last price, active at once")
    user_flag(put)
    put.set_defaults(fn=cmd_position_set)
