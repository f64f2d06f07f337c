"""BUY/SELL -> paper fill -> replayed ticks -> stop-loss, target or trailing exit; the ledger
holds the alert, both orders, both fills and the exact P&L."""
from fractions import Fraction

import pytest

from schemas import sql
from schemas import topics as registry
from tests.integration.harness import wait_until

# (side action, symbol, entry, ticks, exit reason, exit price, P&L for 10 shares in paise)
CASES = [
    ("BUY", "SBIN", "800", ["799", "795", "792.05", "791.95"], "SL", 79195, -8050),
    ("BUY", "INFY", "1500", ["1510", "1529.95", "1530"], "TARGET", 153000, 30000),
    # trail 0.5 %: activation at 1005; best 1012 -> stop 1006.94; 1006.90 hits it
    ("BUY", "ITC", "1000", ["1004.95", "1005", "1012", "1008", "1006.95", "1006.90"],
     "TRAIL", 100690, 6900),
    ("SELL", "WIPRO", "250", ["251", "252.45", "252.50"], "SL", 25250, -2500),
    ("SELL", "ONGC", "240", ["239", "235.20"], "TARGET", 23520, 4800),
    # short trail: best 236 -> stop 237.18; 237.20 hits it
    ("SELL", "NTPC", "240", ["238.80", "236", "237", "237.20"], "TRAIL", 23720, 2800),
]


@pytest.mark.parametrize("action,symbol,entry,ticks,reason,exit_paise,pnl", CASES,
                         ids=[f"{c[0]}-{c[5]}" for c in CASES])
def test_exit_by_rule(pipeline, action, symbol, entry, ticks, reason, exit_paise, pnl):
    link = pipeline.add_link(sl_pct="1", target_pct="2",
                             trail_pct="0.5" if reason == "TRAIL" else None)
    alert_id = pipeline.alert(link, action, symbol, price=entry)
    alert = pipeline.alert_row(alert_id)
    assert alert["status"] == "ACCEPTED", alert["reason"]
    pipeline.position(alert["position_id"], "OPEN")

    pipeline.ticks(symbol, ticks)

    pos = pipeline.position(alert["position_id"], "CLOSED")
    assert pos["exit_reason"] == reason
    assert pos["exit_trigger_paise"] == exit_paise
    assert pos["realized_pnl_paise"] == pnl
    fills = pipeline.rows_when(sql.fills, sql.fills.c.position_id == pos["id"], count=2)
    orders = pipeline.rows_when(sql.orders, sql.orders.c.position_id == pos["id"],
                                sql.orders.c.status == "FILLED", count=2)
    assert sorted((o["purpose"], o["status"], o["filled_qty"]) for o in orders) == \
        [("ENTRY", "FILLED", 10), ("EXIT", "FILLED", 10)]
    assert len(fills) == 2 and all(f["status"] == "FILLED" for f in fills)
    assert sum(f["price_paise"] * f["quantity"] * (1 if f["side"] == "SELL" else -1)
               for f in fills) == pnl


def test_gap_through_the_stop_exits_at_the_tick_and_records_the_gap(pipeline):
    link = pipeline.add_link(sl_pct="1", target_pct=None)
    alert = pipeline.alert_row(pipeline.alert(link, "BUY", "TCS", price="3000"))
    pipeline.position(alert["position_id"], "OPEN")
    pipeline.ticks("TCS", ["2990", "2900"])            # stop 2970; the 2900 print gaps through
    pos = pipeline.position(alert["position_id"], "CLOSED")
    assert (pos["exit_reason"], pos["exit_trigger_paise"], pos["exit_gap"]) == ("SL", 290000, "7000")


def test_a_trending_record_writes_each_position_once_and_exactly(pipeline):
    """200 rising ticks sent at once reach the worker in a few records: the position's new
    best goes to its table (and changelog) once per record, not once per tick, and ends exact."""
    link = pipeline.add_link(sl_pct="1", target_pct=None, trail_pct="0.5")
    pid = pipeline.alert_row(pipeline.alert(link, "BUY", "TATASTEEL", price="165"))["position_id"]
    pipeline.position(pid, "OPEN")
    changelog = registry.changelog_name(pipeline.settings.namespace, "positions")

    def writes() -> list[dict]:
        return [r[3] for r in pipeline.kafka_records(changelog) if pid in r[2] and r[3]]
    opened = len(writes())
    rising = [f"{165 + k / 20:.2f}" for k in range(1, 201)]           # 165.05 .. 175.00
    pipeline.ticks("TATASTEEL", rising)
    wait_until(lambda: writes()[-1]["best_paise"] == 17500, 30, "the last tick's best price")
    last = writes()[-1]
    assert last["state"] == "OPEN" and Fraction(last["stop"]) == Fraction(17500 * 199, 200)
    assert len(writes()) - opened <= 20, "a new best was written once per tick"
