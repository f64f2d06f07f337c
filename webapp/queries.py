"""What the dashboard and the API read, always for one user: positions, their timelines,
orders and history, the user's log. Blocking SQL: callers run these in a thread."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta
from time import time_ns

from sqlalchemy import Engine, and_, delete, desc, func, select

from agents.risk import IST
from schemas import sql


def _ms(day: date, end: bool = False) -> int:
    moment = datetime.combine(day + timedelta(days=1) if end else day, time(0), IST)
    return int(moment.timestamp() * 1000)


def positions(eng: Engine, user_id: str, state: str = "open") -> list[dict]:
    p = sql.positions.c
    live = p.state.in_(("PENDING", "OPEN", "EXITING"))
    with eng.connect() as conn:
        rows = conn.execute(select(sql.positions).where(
            p.user_id == user_id, live if state == "open" else ~live)
            .order_by(desc(p.created_at_ms)).limit(500))
        return [dict(r._mapping) for r in rows]


def position(eng: Engine, user_id: str, position_id: str) -> dict | None:
    with eng.connect() as conn:
        row = conn.execute(select(sql.positions).where(
            sql.positions.c.id == position_id, sql.positions.c.user_id == user_id)).first()
    return dict(row._mapping) if row else None


def timeline(eng: Engine, user_id: str, position_id: str) -> list[dict]:
    """Alert -> orders -> fills -> exit, in time order, for one of the user's positions."""
    if position(eng, user_id, position_id) is None:
        return []
    steps = []
    with eng.connect() as conn:
        for a in conn.execute(select(sql.alerts).where(sql.alerts.c.position_id == position_id,
                                                       sql.alerts.c.user_id == user_id)):
            steps.append({"at_ms": a.received_at_ms, "what": "alert",
                          "detail": f"{a.action} {a.symbol}: {a.reason or a.status}"})
        for o in conn.execute(select(sql.orders).where(sql.orders.c.position_id == position_id)):
            steps.append({"at_ms": o.created_at_ms, "what": "order",
                          "detail": f"{o.purpose} {o.side} {o.quantity} ({o.status})"
                                    + (f" — {o.reason}" if o.reason else "")})
        for f in conn.execute(select(sql.fills).where(sql.fills.c.position_id == position_id)):
            steps.append({"at_ms": f.at_ms, "what": "fill" if f.status == "FILLED" else "rejected",
                          "detail": f"{f.side} {f.quantity} @ {f.price_paise / 100:.2f}"
                                    + (f" — {f.text}" if f.text else "")})
        for e in conn.execute(select(sql.position_events).where(
                sql.position_events.c.position_id == position_id,
                sql.position_events.c.kind.like("TICK_%") |
                (sql.position_events.c.kind == "MANUAL"))):
            steps.append({"at_ms": e.at_ms, "what": e.kind.lower(), "detail": e.reason or ""})
    return sorted(steps, key=lambda s: s["at_ms"])


def position_path(eng: Engine, user_id: str, position_id: str) -> dict:
    """What a position's chart shows: its levels at each of its events ((at, stop, target,
    best) in time order; the levels exact as stored) and its fills ((at, side, price))."""
    e, f = sql.position_events.c, sql.fills.c
    with eng.connect() as conn:
        levels = [(r.at_ms, r.stop, r.target, r.best_paise) for r in conn.execute(
            select(e.at_ms, e.stop, e.target, e.best_paise)
            .where(e.position_id == position_id, e.user_id == user_id,
                   e.stop.is_not(None) | e.target.is_not(None) | e.best_paise.is_not(None))
            .order_by(e.at_ms))]
        fills = [(r.at_ms, r.side, r.price_paise) for r in conn.execute(
            select(f.at_ms, f.side, f.price_paise)
            .join(sql.orders, sql.orders.c.client_order_id == f.client_order_id)
            .where(f.position_id == position_id, f.quantity > 0,
                   sql.orders.c.user_id == user_id).order_by(f.at_ms))]
    return {"levels": levels, "fills": fills}


def _order_filters(user_id: str, *, day_from: date | None, day_to: date | None,
                   link_id: str | None, symbol: str | None, status: str | None):
    o = sql.orders.c
    where = [o.user_id == user_id]
    if day_from:
        where.append(o.created_at_ms >= _ms(day_from))
    if day_to:
        where.append(o.created_at_ms < _ms(day_to, end=True))
    if link_id:
        where.append(o.link_id == link_id)
    if symbol:
        where.append(o.symbol.ilike(f"%{symbol.strip()}%"))
    if status:
        where.append(o.status == status.upper())
    return and_(*where)


def orders(eng: Engine, user_id: str, **filters) -> list[dict]:
    """The user's orders, newest first, each with its position's outcome and what it filled
    at: fill_value_paise / filled_qty (the fills' own count) is its average fill price."""
    f = sql.fills.c
    filled = (select(f.client_order_id, func.sum(f.quantity * f.price_paise).label("value"),
                     func.sum(f.quantity).label("qty"))
              .where(f.quantity > 0).group_by(f.client_order_id).subquery())
    with eng.connect() as conn:
        rows = conn.execute(
            select(sql.orders, sql.positions.c.state.label("position_state"),
                   sql.positions.c.realized_pnl_paise, sql.positions.c.closed_at_ms,
                   sql.positions.c.side.label("position_side"),
                   filled.c.value.label("fill_value_paise"), filled.c.qty.label("fills_qty"))
            .join(sql.positions, sql.positions.c.id == sql.orders.c.position_id, isouter=True)
            .join(filled, filled.c.client_order_id == sql.orders.c.client_order_id,
                  isouter=True)
            .where(_order_filters(user_id, **filters))
            .order_by(desc(sql.orders.c.created_at_ms)).limit(5000))
        return [{**r._mapping, "fill_price_paise": _average(r.fill_value_paise, r.fills_qty)}
                for r in rows]


def _average(value: int | None, quantity: int | None) -> int | None:
    """An average price in whole paise, rounded half up."""
    return (2 * value + quantity) // (2 * quantity) if value and quantity else None


def realized_closes(eng: Engine, user_id: str) -> list[tuple[int, str, int]]:
    """(closed at, symbol, realized P&L) of the user's closed positions, oldest first."""
    p = sql.positions.c
    with eng.connect() as conn:
        return [(r.closed_at_ms, r.symbol, r.realized_pnl_paise or 0) for r in conn.execute(
            select(p.closed_at_ms, p.symbol, p.realized_pnl_paise)
            .where(p.user_id == user_id, p.state == "CLOSED").order_by(p.closed_at_ms))]


def realized_by_day(closes: list[tuple[int, str, int]]) -> list[tuple[str, int]]:
    """Realized P&L per IST day of realized_closes' positions, newest first."""
    totals: dict[str, int] = {}
    for closed, _, pnl in closes:
        day = datetime.fromtimestamp(closed / 1000, IST).date().isoformat()
        totals[day] = totals.get(day, 0) + pnl
    return sorted(totals.items(), reverse=True)


def delete_history(eng: Engine, user_id: str, **filters) -> int:
    """Delete the user's closed history within the filter: orders and fills of positions that
    are closed or rejected, and those positions. Never an open position, never another's."""
    done_states = ("CLOSED", "REJECTED")
    with eng.begin() as conn:
        ids = [r.position_id for r in conn.execute(
            select(sql.orders.c.position_id).distinct()
            .join(sql.positions, sql.positions.c.id == sql.orders.c.position_id)
            .where(_order_filters(user_id, **filters), sql.positions.c.state.in_(done_states),
                   sql.positions.c.user_id == user_id))]
        for table, column in ((sql.fills, sql.fills.c.position_id),
                              (sql.orders, sql.orders.c.position_id),
                              (sql.position_events, sql.position_events.c.position_id),
                              (sql.positions, sql.positions.c.id)):
            conn.execute(delete(table).where(column.in_(ids)))
    return len(ids)


LEVELS = {"info": 0, "warning": 1, "error": 2}


WARNINGS = {"BREAKER_TRIPPED": "error", "EXIT_FAILING": "error",
            "PRICED_OVER_REST": "warning"}   # position events above "info" in the logs


def logs(eng: Engine, user_id: str, level: str = "info", link_id: str | None = None,
         limit: int = 300) -> list[dict]:
    """The user's own system log: alerts taken or ignored (and why), webhook rejections,
    rejected orders, breaker trips, end-of-day reports, account login problems."""
    entries = []
    with eng.connect() as conn:
        a = sql.alerts.c
        q = select(sql.alerts).where(a.user_id == user_id, a.status != "RECEIVED")
        for r in conn.execute((q.where(a.link_id == link_id) if link_id else q)
                              .order_by(desc(a.received_at_ms)).limit(limit)):
            entries.append({"at_ms": r.received_at_ms, "level": "info", "link_id": r.link_id,
                            "text": f"alert {r.action} {r.symbol} {r.status.lower()}: {r.reason}"})
        w = sql.webhook_rejections.c
        q = select(sql.webhook_rejections).where(w.user_id == user_id)
        for r in conn.execute((q.where(w.link_id == link_id) if link_id else q)
                              .order_by(desc(w.at_ms)).limit(limit)):
            entries.append({"at_ms": r.at_ms, "level": "warning", "link_id": r.link_id,
                            "text": f"webhook rejected ({r.status_code}): {r.reason}"})
        f, o = sql.fills.c, sql.orders.c
        q = (select(sql.fills, o.link_id, o.symbol, o.purpose, o.quantity.label("order_qty"))
             .join(sql.orders, o.client_order_id == f.client_order_id)
             .where(o.user_id == user_id, f.status == "REJECTED"))
        for r in conn.execute((q.where(o.link_id == link_id) if link_id else q)
                              .order_by(desc(f.at_ms)).limit(limit)):
            entries.append({"at_ms": r.at_ms, "level": "warning", "link_id": r.link_id,
                            "position_id": r.position_id,
                            "text": f"{r.purpose.lower()} order {r.side} {r.order_qty} {r.symbol} "
                                    f"rejected: {r.text}"})
        e = sql.position_events.c
        q = select(sql.position_events).where(
            e.user_id == user_id, e.kind.in_(("BREAKER_TRIPPED", "REVERSE_SKIPPED",
                                              "TICK_HELD", "TICK_DISCARDED", "DASHBOARD",
                                              "EXIT_FAILING", "PRICED_OVER_REST",
                                              "MANUAL")))
        for r in conn.execute((q.where(e.link_id == link_id) if link_id else q)
                              .order_by(desc(e.at_ms)).limit(limit)):
            entries.append({"at_ms": r.at_ms, "level": WARNINGS.get(r.kind, "info"),
                            "link_id": r.link_id, "position_id": r.position_id,
                            "text": f"{r.kind.replace('_', ' ').lower()}: {r.reason}"})
        if not link_id:
            c = sql.command_results.c
            for r in conn.execute(select(sql.command_results).where(
                    c.user_id == user_id, c.outcome == "REFUSED")
                    .order_by(desc(c.at_ms)).limit(limit)):
                entries.append({"at_ms": r.at_ms, "level": "warning", "link_id": None,
                                "text": f"command refused: {r.reason}"})
            for r in conn.execute(select(sql.accounts).where(
                    sql.accounts.c.user_id == user_id, sql.accounts.c.health.is_not(None))):
                entries.append({"at_ms": r.health_at_ms or 0, "level": "error", "link_id": None,
                                "text": f"account {r.name}: {r.health}"})
            for r in conn.execute(select(sql.eod_reports).where(
                    sql.eod_reports.c.user_id == user_id)
                    .order_by(desc(sql.eod_reports.c.at_ms)).limit(limit)):
                entries.append({"at_ms": r.at_ms, "level": "info", "link_id": r.link_id,
                                "text": f"end of day {r.day}: {r.symbol} {r.decision.lower()} "
                                        f"(P&L {r.pnl_paise / 100:.2f})"})
    floor = LEVELS.get(level, 0)
    entries = [x for x in entries if LEVELS[x["level"]] >= floor]
    return sorted(entries, key=lambda x: x["at_ms"], reverse=True)[:limit]


def user_log(eng: Engine, user_id: str, text: str) -> None:
    """A line in the user's own log, for what the dashboard did on their behalf."""
    with eng.begin() as conn:
        conn.execute(sql.position_events.insert().values(
            event_id=f"ui{time_ns()}", kind="DASHBOARD", at_ms=time_ns() // 1_000_000,
            user_id=user_id, reason=text))
