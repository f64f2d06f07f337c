"""The ledger: alerts (with their outcome), orders, fills and positions into SQL.

Every write is an upsert by the record's own id, so replays write the same rows again; a
position row is only replaced by a newer version of itself.
"""
from __future__ import annotations

from sqlalchemy import Engine, select, update

from schemas import sql
from schemas.records import Alert, Event, Fill, OrderIntent

_POSITION_COLUMNS = [c.name for c in sql.positions.columns if c.name != "snapshot"]


def record_alert(eng: Engine, alert: Alert) -> None:
    row = dict(id=alert.id, link_id=alert.link_id, received_at_ms=alert.received_at_ms,
               action=alert.action, symbol=alert.symbol, exchange=alert.exchange,
               token=alert.token, strategy=alert.strategy, quantity=alert.quantity,
               price_paise=alert.price_paise, payload=alert.payload, status="RECEIVED")
    with eng.begin() as conn:  # the outcome may already be there: keep it, add the details
        sql.upsert(conn, sql.alerts, row, ["id"],
                   update=[c for c in row if c not in ("id", "status")])


def record_event(eng: Engine, ev: Event) -> None:
    with eng.begin() as conn:
        if ev.kind in ("ALERT_ACCEPTED", "ALERT_IGNORED") and ev.alert_id:
            status = "ACCEPTED" if ev.kind == "ALERT_ACCEPTED" else "IGNORED"
            position_id = ev.position_id if status == "ACCEPTED" else None
            sql.upsert(conn, sql.alerts, dict(id=ev.alert_id, link_id=ev.link_id,
                                              received_at_ms=ev.at_ms, status=status,
                                              reason=ev.reason, position_id=position_id),
                       ["id"], update=["status", "reason", "position_id"])
        if ev.position:
            p = ev.position
            row = {c: p.get(c) for c in _POSITION_COLUMNS}
            row["snapshot"] = p
            sql.upsert(conn, sql.positions, row, ["id"], only_if_newer="version")
        if ev.kind == "EOD_REPORT" and ev.detail:
            for r in ev.detail["rows"]:
                sql.upsert(conn, sql.eod_reports, dict(
                    day=ev.detail["day"], position_id=r["position_id"], kind=ev.detail["kind"],
                    link_id=r["link_id"], symbol=r["symbol"], expiry=r["expiry"],
                    strike=r["strike"], side=r["side"], quantity=r["quantity"], entry=r["entry"],
                    last_paise=r["last_paise"], pnl_paise=r["pnl_paise"],
                    decision=r["decision"], at_ms=ev.at_ms), ["day", "position_id"], update=[])
        sql.upsert(conn, sql.position_events,
                   dict(event_id=ev.event_id, position_id=ev.position_id, link_id=ev.link_id,
                        kind=ev.kind, at_ms=ev.at_ms, reason=ev.reason,
                        state=ev.position.get("state") if ev.position else None),
                   ["event_id"], update=[])


def record_order(eng: Engine, o: OrderIntent) -> None:
    row = dict(client_order_id=o.client_order_id, position_id=o.position_id, link_id=o.link_id,
               purpose=o.purpose, side=o.side, quantity=o.quantity, token=o.token,
               symbol=o.symbol, exchange=o.exchange, paper=o.paper, order_type=o.order_type,
               reference_price_paise=o.reference_price_paise, reason=o.reason,
               created_at_ms=o.created_at_ms, status="SENT", filled_qty=0,
               product_type=o.product_type)
    with eng.begin() as conn:
        sql.upsert(conn, sql.orders, row, ["client_order_id"], update=[])


def record_fill(eng: Engine, f: Fill) -> None:
    with eng.begin() as conn:
        if conn.execute(select(sql.fills.c.fill_id).where(sql.fills.c.fill_id == f.fill_id)).first():
            return
        conn.execute(sql.fills.insert().values(
            fill_id=f.fill_id, client_order_id=f.client_order_id, position_id=f.position_id,
            side=f.side, status=f.status, quantity=f.quantity, price_paise=f.price_paise,
            at_ms=f.at_ms, broker_order_id=f.broker_order_id, text=f.text))
        order = conn.execute(select(sql.orders).where(
            sql.orders.c.client_order_id == f.client_order_id)).first()
        if order is None:
            return  # the order row arrives on its own topic; the fill row already holds the truth
        filled = order.filled_qty + f.quantity
        status = "REJECTED" if f.status == "REJECTED" else (
            "FILLED" if filled >= order.quantity else "PARTIAL")
        conn.execute(update(sql.orders).where(sql.orders.c.client_order_id == f.client_order_id)
                     .values(filled_qty=filled, status=status, text=f.text))


def open_positions(eng: Engine) -> list[dict]:
    with eng.connect() as conn:
        rows = conn.execute(select(sql.positions).where(
            sql.positions.c.state.in_(("PENDING", "OPEN", "EXITING")))
            .order_by(sql.positions.c.created_at_ms))
        return [dict(r._mapping) for r in rows]


def day_positions(eng: Engine, start_ms: int, end_ms: int,
                  link_id: str | None = None) -> list[dict]:
    """Positions that closed in [start_ms, end_ms) or are still live (they count today)."""
    p = sql.positions.c
    live = p.state.in_(("PENDING", "OPEN", "EXITING"))
    query = select(sql.positions).where(live | ((p.closed_at_ms >= start_ms) &
                                                (p.closed_at_ms < end_ms)))
    if link_id is not None:
        query = query.where(p.link_id == link_id)
    with eng.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(query.order_by(p.created_at_ms))]
