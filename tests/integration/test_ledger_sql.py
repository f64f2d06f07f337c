"""The ledger on SQLite and on PostgreSQL: the same records, replays included, give the same rows."""
import pytest
from sqlalchemy import select

from agents import ledger
from agents import fills as F
from agents import positions as P
from schemas import sql
from schemas.records import Alert, Event, Fill, OrderIntent


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request, tmp_path):
    url = f"sqlite:///{tmp_path / 'l.db'}" if request.param == "sqlite" else \
        request.getfixturevalue("postgres_url")
    eng = sql.engine(url)
    with eng.begin() as conn:  # the PostgreSQL database is shared by the session
        for table in reversed(sql.metadata.sorted_tables):
            conn.execute(table.delete())
    yield eng
    eng.dispose()


def _rows(eng, table):
    with eng.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(select(table))]


def test_a_position_round_trip_with_replays(engine):
    alert = Alert(id="a1", dedupe_key="k", dedupe_window_s=10, link_id="L", link_version=1,
                  bot_version=0, action="BUY", symbol="SBIN-EQ", exchange="NSE", token="3045",
                  received_at_ms=1, price_paise=80000, payload={"action": "BUY"})
    pos = P.open_position(alert_id="a1", link_id="L", token="3045", symbol="SBIN-EQ",
                          exchange="NSE", side="LONG", quantity=10, paper=True, sl_pct="1",
                          target_pct=None, trail_pct=None, trail_activation_pct=None,
                          slippage_bps=0, reference_price_paise=80000, partition=0, now_ms=1)
    opened = F.apply_fill(pos, fill_id="f1", client_order_id=pos.entry_order_id, status="FILLED",
                          quantity=10, price_paise=80000, text=None, now_ms=2)
    order = OrderIntent(client_order_id=pos.entry_order_id, position_id=pos.id, link_id="L",
                        purpose="ENTRY", side="BUY", quantity=10, token="3045", symbol="SBIN-EQ",
                        exchange="NSE", paper=True, created_at_ms=1)
    fill = Fill(fill_id="f1", client_order_id=pos.entry_order_id, position_id=pos.id,
                token="3045", side="BUY", status="FILLED", quantity=10, price_paise=80000, at_ms=2)
    accepted = Event(event_id="e1", kind="ALERT_ACCEPTED", at_ms=1, link_id="L",
                     position_id=pos.id, alert_id="a1", reason="BUY opens a LONG",
                     position=pos.to_dict())
    newer = Event(event_id="e2", kind="POSITION", at_ms=2, link_id="L", position_id=pos.id,
                  position=opened.to_dict())

    # outcome before the alert itself, then everything twice, the older snapshot last
    for _ in range(2):
        _put(engine, ledger.record_event, accepted)
        _put(engine, ledger.record_alert, alert)
        _put(engine, ledger.record_order, order)
        _put(engine, ledger.record_fill, fill)
        _put(engine, ledger.record_event, newer)
        _put(engine, ledger.record_event, accepted)

    [a] = _rows(engine, sql.alerts)
    assert (a["status"], a["action"], a["symbol"], a["position_id"]) == \
        ("ACCEPTED", "BUY", "SBIN-EQ", pos.id)
    [o] = _rows(engine, sql.orders)
    assert (o["status"], o["filled_qty"]) == ("FILLED", 10)
    assert len(_rows(engine, sql.fills)) == 1
    [p] = _rows(engine, sql.positions)
    assert (p["state"], p["version"], p["entry_value_paise"]) == ("OPEN", opened.version, 800000)
    assert P.Position.from_dict(p["snapshot"]) == opened
    assert ledger.open_positions(engine)[0]["id"] == pos.id
    assert len(_rows(engine, sql.position_events)) == 2


def _put(engine, record, value) -> None:
    assert ledger.write(engine, record, [value]) == []


def _order(quantity=10):
    return OrderIntent(client_order_id="p000000000000000E0", position_id="p000000000000000",
                       link_id="L", purpose="ENTRY", side="BUY", quantity=quantity, token="3045",
                       symbol="SBIN-EQ", exchange="NSE", paper=True, created_at_ms=1)


def _fill(fill_id, status, quantity, at_ms, text=None):
    return Fill(fill_id=fill_id, client_order_id="p000000000000000E0",
                position_id="p000000000000000", token="3045", side="BUY", status=status,
                quantity=quantity, price_paise=80000 if quantity else 0, at_ms=at_ms, text=text)


@pytest.mark.parametrize("fills,expected", [
    ([("f1", "FILLED", 10)], ("FILLED", 10)),
    ([("f1", "FILLED", 4), ("f2", "FILLED", 6)], ("FILLED", 10)),
    ([("f1", "FILLED", 4), ("r", "REJECTED", 0)], ("PARTIAL", 4)),
    ([("r", "REJECTED", 0)], ("REJECTED", 0)),
    ([("f1", "FILLED", 4)], ("PARTIAL", 4)),
])
@pytest.mark.parametrize("order_first", [True, False], ids=["order-first", "fills-first"])
def test_an_order_converges_whatever_order_its_records_arrive_in(engine, fills, expected,
                                                                 order_first):
    records = [_fill(i, s, q, n, text=f"t{n}") for n, (i, s, q) in enumerate(fills, 1)]
    if order_first:
        _put(engine, ledger.record_order, _order())
    for record in records + records:            # replays too
        _put(engine, ledger.record_fill, record)
    if not order_first:
        _put(engine, ledger.record_order, _order())
    [o] = _rows(engine, sql.orders)
    assert (o["status"], o["filled_qty"], o["text"]) == (*expected, f"t{len(records)}")


def test_a_batch_writes_every_record_but_the_one_that_cannot_be_written(engine):
    bad = _fill("big", "FILLED", 10 ** 20, 2)          # no integer column holds it
    good = [_fill("f1", "FILLED", 4, 1), _fill("f2", "FILLED", 6, 3)]
    failed = ledger.write(engine, ledger.record_fill, [good[0], bad, good[1]])
    assert [index for index, _ in failed] == [1]
    assert sorted(r["fill_id"] for r in _rows(engine, sql.fills)) == ["f1", "f2"]
