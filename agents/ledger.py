"""The ledger: alerts (with their outcome), orders, fills and positions into SQL.

Every write is an upsert by the record's own id, so replays write the same rows again; a
position row is only replaced by a newer version of itself.
"""
from __future__ import annotations

import json
from typing import Iterable

from sqlalchemy import Connection, Engine, select, update

from schemas import sql
from schemas.records import Alert, Event, Fill, OrderIntent

_POSITION_COLUMNS = [c.name for c in sql.positions.columns if c.name != "snapshot"]


def write(eng: Engine, record, values: list) -> list[tuple[int, Exception]]:
    """The records in one transaction. When it fails, each in its own, so that a bad record
    costs only itself: returns the index and error of each record that could not be written."""
    try:
        with eng.begin() as conn:
            for value in values:
                record(conn, value)
        return []
    except Exception:  # noqa: BLE001  (found and reported one by one below)
        pass
    failed = []
    for index, value in enumerate(values):
        try:
            with eng.begin() as conn:
                record(conn, value)
        except Exception as exc:  # noqa: BLE001
            failed.append((index, exc))
    return failed


def record_alert(conn: Connection, alert: Alert) -> None:
    row = dict(id=alert.id, link_id=alert.link_id, received_at_ms=alert.received_at_ms,
               action=alert.action, symbol=alert.symbol, exchange=alert.exchange,
               token=alert.token, strategy=alert.strategy, quantity=alert.quantity,
               price_paise=alert.price_paise, payload=alert.payload, source=alert.source,
               status="RECEIVED", user_id=alert.user_id)
    # the outcome may already be there: keep it, add the details
    sql.upsert(conn, sql.alerts, row, ["id"], update=[c for c in row if c not in ("id", "status")])


def record_event(conn: Connection, ev: Event) -> None:
    if ev.kind in ("ALERT_ACCEPTED", "ALERT_IGNORED") and ev.alert_id:
        status = "ACCEPTED" if ev.kind == "ALERT_ACCEPTED" else "IGNORED"
        position_id = ev.position_id if status == "ACCEPTED" else None
        sql.upsert(conn, sql.alerts, dict(id=ev.alert_id, link_id=ev.link_id,
                                          received_at_ms=ev.at_ms, status=status,
                                          reason=ev.reason, position_id=position_id,
                                          user_id=ev.user_id),
                   ["id"], update=["status", "reason", "position_id"])
    if ev.position:
        p = ev.position
        row = {c: p.get(c) for c in _POSITION_COLUMNS}
        row["snapshot"] = p
        sql.upsert(conn, sql.positions, row, ["id"], only_if_newer="version")
    if ev.kind == "ACCOUNT_HEALTH" and ev.detail:
        sql.record_health(conn, ev.detail["account_id"], ev.detail["problem"], ev.at_ms)
    if ev.kind == "COMMAND" and ev.detail:
        answered = ev.detail["positions"]
        sql.upsert(conn, sql.command_results, dict(
            command_id=ev.detail["command_id"], partition=ev.detail["partition"], at_ms=ev.at_ms,
            outcome=answered[0]["outcome"] if len(answered) == 1 else "DONE",
            reason=ev.reason, detail=json.dumps(answered), user_id=ev.user_id),
            ["command_id", "partition"], update=[])      # a replay's answer changes nothing
        return
    if ev.kind == "EOD_REPORT" and ev.detail:
        for r in ev.detail["rows"]:
            sql.upsert(conn, sql.eod_reports, dict(
                day=ev.detail["day"], position_id=r["position_id"], kind=ev.detail["kind"],
                link_id=r["link_id"], symbol=r["symbol"], expiry=r["expiry"],
                strike=r["strike"], side=r["side"], quantity=r["quantity"], entry=r["entry"],
                last_paise=r["last_paise"], pnl_paise=r["pnl_paise"],
                decision=r["decision"], at_ms=ev.at_ms, user_id=r.get("user_id")),
                ["day", "position_id"], update=[])
    levels = {k: (ev.position or {}).get(k) for k in ("state", "stop", "target", "best_paise")}
    sql.upsert(conn, sql.position_events,
               dict(event_id=ev.event_id, position_id=ev.position_id, link_id=ev.link_id,
                    kind=ev.kind, at_ms=ev.at_ms, reason=ev.reason, user_id=ev.user_id,
                    **levels),
               ["event_id"], update=[])


def record_order(conn: Connection, o: OrderIntent) -> None:
    if o.purpose == "CANCEL":    # not an order: the entry's row shows the cancellation
        return
    row = dict(client_order_id=o.client_order_id, position_id=o.position_id, link_id=o.link_id,
               purpose=o.purpose, side=o.side, quantity=o.quantity, token=o.token,
               symbol=o.symbol, exchange=o.exchange, paper=o.paper, order_type=o.order_type,
               reference_price_paise=o.reference_price_paise, reason=o.reason,
               created_at_ms=o.created_at_ms, status="SENT", filled_qty=0,
               product_type=o.product_type, user_id=o.user_id)
    sql.upsert(conn, sql.orders, row, ["client_order_id"], update=[])
    _settle(conn, o.client_order_id)


def record_fill(conn: Connection, f: Fill) -> None:
    sql.upsert(conn, sql.fills, dict(
        fill_id=f.fill_id, client_order_id=f.client_order_id, position_id=f.position_id,
        side=f.side, status=f.status, quantity=f.quantity, price_paise=f.price_paise,
        at_ms=f.at_ms, broker_order_id=f.broker_order_id, text=f.text), ["fill_id"], update=[])
    _settle(conn, f.client_order_id)


def order_status(quantity: int, fills: list) -> tuple[str, int, str | None]:
    """An order's status, filled quantity and last text, from all of its fills: the same
    whatever order the order and its fills reached the ledger in."""
    filled = sum(f.quantity for f in fills if f.status == "FILLED")
    ended_short = any(f.status == "REJECTED" for f in fills)
    if any(f.status == "PROTECTED" for f in fills):     # a broker-side stop rule in place
        return "PROTECTED", 0, None
    if any(f.status == "RULE_FIRED" for f in fills):    # not placed: the rule's order exits
        return "RULE_FIRED", 0, "the broker's stop rule fired first"
    text = next((f.text for f in sorted(fills, key=lambda f: f.at_ms, reverse=True) if f.text),
                None)
    if filled >= quantity:
        return "FILLED", filled, text
    if ended_short:
        return ("PARTIAL" if filled else "REJECTED"), filled, text
    return ("PARTIAL" if filled else "SENT"), filled, text


def _settle(conn, client_order_id: str) -> None:
    """The order row, if it is there yet, made to agree with every fill recorded for it."""
    order = conn.execute(select(sql.orders.c.quantity).where(
        sql.orders.c.client_order_id == client_order_id)).first()
    if order is None:
        return   # the order row comes on its own topic, and settles itself then
    fills = conn.execute(select(sql.fills).where(
        sql.fills.c.client_order_id == client_order_id)).all()
    status, filled, text = order_status(order.quantity, fills)
    conn.execute(update(sql.orders).where(sql.orders.c.client_order_id == client_order_id)
                 .values(status=status, filled_qty=filled, text=text))


def open_positions(eng: Engine) -> list[dict]:
    with eng.connect() as conn:
        rows = conn.execute(select(sql.positions).where(
            sql.positions.c.state.in_(("PENDING", "OPEN", "EXITING")))
            .order_by(sql.positions.c.created_at_ms))
        return [dict(r._mapping) for r in rows]


def versions(eng: Engine, also: Iterable[str] = ()) -> list[tuple[str, str, int]]:
    """(id, token, version) of every live position in the ledger, and of the positions named
    in `also` whatever their state."""
    p, also = sql.positions.c, sorted(set(also))
    columns = select(p.id, p.token, p.version)
    with eng.connect() as conn:
        rows = {r.id: tuple(r) for r in conn.execute(columns.where(
            p.state.in_(("PENDING", "OPEN", "EXITING"))))}
        for start in range(0, len(also), 500):
            rows.update((r.id, tuple(r)) for r in conn.execute(columns.where(
                p.id.in_(also[start:start + 500]))))
    return list(rows.values())


def snapshots(eng: Engine, ids: Iterable[str]) -> list[dict]:
    """The ledger's rows (with snapshots) of these positions."""
    with eng.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(select(sql.positions).where(
            sql.positions.c.id.in_(sorted(set(ids)))))]


def day_positions(eng: Engine, start_ms: int, end_ms: int, link_id: str | None = None,
                  user_id: str | None = None) -> list[dict]:
    """Positions that closed in [start_ms, end_ms) or are still live (they count today)."""
    p = sql.positions.c
    live = p.state.in_(("PENDING", "OPEN", "EXITING"))
    query = select(sql.positions).where(live | ((p.closed_at_ms >= start_ms) &
                                                (p.closed_at_ms < end_ms)))
    if link_id is not None:
        query = query.where(p.link_id == link_id)
    if user_id is not None:
        query = query.where(p.user_id == user_id)
    with eng.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(query.order_by(p.created_at_ms))]
