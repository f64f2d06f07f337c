"""BUY/SELL -> paper fill -> replayed ticks -> stop-loss, target or trailing exit; the ledger
holds the alert, both orders, both fills and the exact P&L."""
import pytest

from schemas import sql

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
