"""The trading day: eod run|report, pnl, breaker reset."""
from __future__ import annotations

import asyncio
from datetime import date, datetime

from sqlalchemy import select

from agents import eod, risk
from connectors import kafka
from pinewire.verbs.accounts import my_account
from pinewire.verbs.common import engine, ensure_topics, me, publish, user_flag
from pinewire.verbs.links import my_link
from schemas import sql, topics as registry
from schemas.money import signed_rupees
from schemas.settings import settings
from webapp import accounts, links, pnl


def _moment(text: str | None) -> datetime:
    if text is None:
        return datetime.now(risk.IST)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"--at {text!r} is not an ISO time such as 2026-11-27T15:29") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=risk.IST)


def cmd_eod_run(a) -> int:
    """The sweep a timer would start at --at (IST unless the time says otherwise)."""
    s = settings()
    moment = _moment(a.at)
    kind = eod.sweep_at(moment, s.mis_squareoff, s.eod_time)
    if kind is None:
        raise ValueError(f"no sweep runs at {moment.astimezone(risk.IST):%H:%M} IST: intraday "
                         f"square-off from {s.mis_squareoff:%H:%M}, end of day from "
                         f"{s.eod_time:%H:%M} until {eod.SWEEP_ENDS:%H:%M}")
    day = moment.astimezone(risk.IST).date()
    if not eod.is_trading_day(day, eod.parse_holidays(s.extra_holidays)):
        print(f"{day} is not an NSE trading day: the workers will sweep nothing")
    ensure_topics()
    at_ms = int(moment.timestamp() * 1000)

    async def send():
        async with kafka.producing(s.bootstrap) as prod:
            for command in eod.sweep_commands(kind, at_ms, s.partitions):
                await prod.send_and_wait(registry.topic_name(s.namespace, registry.COMMANDS),
                                         kafka.encode(command), key=command.command_id.encode(),
                                         partition=command.partition)
    asyncio.run(send())
    print(f"{kind} for {day} sent to {s.partitions} partition(s)")
    return 0


def cmd_eod_report(a) -> int:
    day = a.day or datetime.now(risk.IST).date()
    with engine().connect() as conn:
        rows = conn.execute(select(sql.eod_reports).where(
            sql.eod_reports.c.day == day.isoformat(), sql.eod_reports.c.user_id == me(a)["id"])
            .order_by(sql.eod_reports.c.symbol)).all()
    if not rows:
        print(f"no end-of-day report for {day}")
        return 0
    print(f"{'kind':<14}{'symbol':<24}{'expiry':<9}{'strike':>8} {'side':<6}{'qty':>6}"
          f"{'entry':>12}{'last':>12}{'P&L':>12}  decision")
    for r in rows:
        print(f"{r.kind:<14}{r.symbol:<24}{r.expiry or '':<9}{r.strike or '':>8} {r.side:<6}"
              f"{r.quantity:>6}{r.entry:>12}{signed_rupees(r.last_paise):>12}"
              f"{signed_rupees(r.pnl_paise):>12}  {r.decision}")
    return 0


def cmd_pnl(a) -> int:
    day = a.day or datetime.now(risk.IST).date()
    data = pnl.report(engine(), settings(), day, me(a)["id"],
                      my_link(a, a.link)["id"] if a.link else None)
    unknown = "" if data["prices_known"] else " (no last prices from the workers: unrealized " \
                                              "shown as 0)"
    print(f"P&L for {day} (IST){unknown}")
    print(f"{'position':<18}{'link':<14}{'symbol':<16}{'side':<6}{'state':<9}{'qty':>6}"
          f"{'realized':>13}{'unrealized':>13}{'fees':>10}")
    for p in data["positions"]:
        print(f"{p['id']:<18}{p['link']:<14}{p['symbol']:<16}{p['side']:<6}{p['state']:<9}"
              f"{p['quantity'] or 0:>6}{signed_rupees(p['realized_paise']):>13}"
              f"{signed_rupees(p['unrealized_paise']):>13}{signed_rupees(p['fees_paise']):>10}")
    for title, group in (("link", data["links"]), ("account", data["accounts"]),
                         ("day", {"total": data["total"]})):
        for name, t in group.items():
            net = t["realized_paise"] + t["unrealized_paise"] - t["fees_paise"]
            print(f"{title} {name}: realized {signed_rupees(t['realized_paise'])}, unrealized "
                  f"{signed_rupees(t['unrealized_paise'])}, fees {signed_rupees(t['fees_paise'])}"
                  f", net {signed_rupees(net)}, open {t['open']}; {pnl.trades_words(t)}")
    return 0


def cmd_breaker_reset(a) -> int:
    if a.account:
        account = my_account(a, a.account)
        row = accounts.set_account(engine(), account["id"], user_id=account["user_id"],
                                   reset_breaker=True)
        publish("the reset", accounts=[row])
    else:
        link = my_link(a, a.link)
        row = links.reset_breaker(engine(), link["id"], link["user_id"])
        publish("the reset", links=[row])
    print(f"breaker of {'account' if a.account else 'link'} {a.account or a.link} reset: losses "
          "realized before now no longer count today")
    return 0


def register(sub) -> None:
    e = sub.add_parser("eod", help="the end-of-day routine").add_subparsers(dest="eod",
                                                                             required=True)
    run = e.add_parser("run", help="send the sweep due at --at (default now) to every partition")
    run.add_argument("--at", help="ISO time, IST unless given, e.g. 2026-11-27T15:29")
    run.set_defaults(fn=cmd_eod_run)
    rep = e.add_parser("report", help="a day's end-of-day report")
    rep.add_argument("day", nargs="?", type=date.fromisoformat, help="YYYY-MM-DD (default today)")
    user_flag(rep)
    rep.set_defaults(fn=cmd_eod_report)
    p = sub.add_parser("pnl", help="realized and unrealized P&L per position, link, account, day")
    p.add_argument("--day", type=date.fromisoformat, help="YYYY-MM-DD, IST (default today)")
    p.add_argument("--link", help="one link only")
    user_flag(p)
    p.set_defaults(fn=cmd_pnl)
    b = sub.add_parser("breaker", help="the daily loss breaker").add_subparsers(dest="breaker",
                                                                                 required=True)
    reset = b.add_parser("reset", help="let a tripped link or account enter again today")
    who = reset.add_mutually_exclusive_group(required=True)
    who.add_argument("--link")
    who.add_argument("--account")
    user_flag(reset)
    reset.set_defaults(fn=cmd_breaker_reset)
