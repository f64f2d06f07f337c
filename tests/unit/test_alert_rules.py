"""An alert's whole decision (agents/alert_rules.py), hand-worked: sizing by risk, the max-open
limit, the daily loss breaker (an entry refused, a reverse turned into a close), the position
each outcome makes, and a stop-and-reverse's entry."""
from datetime import datetime

from agents import alert_rules, fills, positions, signals
from agents.alert_rules import Book
from schemas.market_time import IST
from schemas.records import Alert

NOW = int(datetime(2026, 12, 7, 10, 0, tzinfo=IST).timestamp() * 1000)
LINK = dict(link_id="L1", name="demo", strategy="st", enabled=True, side="both", reverse=True,
            max_entries=1, quantity=3, sl_pct="2", target_pct="4", trail_pct=None,
            trail_activation_pct=None, slippage_bps=0, paper=True, user_id="u1")


def alert(action="BUY", price=100_000, **kw) -> Alert:
    return Alert(id=f"a-{action}", dedupe_key="k", dedupe_window_s=5, link_id="L1",
                 link_version=1, bot_version=1, action=action, symbol="SBIN-EQ", exchange="NSE",
                 token="3045", received_at_ms=NOW, strategy="st", price_paise=price, **kw)


def book(*exposures, price=None) -> Book:
    def positions_of(link_id=None, account_id=None):
        return [e for e in exposures if link_id is None or e["link_id"] == link_id]
    return Book(positions_of, lambda token: price)


def exposure(state="OPEN", realized=None, closed_at=None) -> dict:
    return dict(link_id="L1", token="999", side="LONG", state=state, entry_qty=1,
                entry_value_paise=100_000, exit_qty=1 if state == "CLOSED" else 0,
                exit_value_paise=0, realized_pnl_paise=realized, closed_at_ms=closed_at,
                fees_paise=0)


def decide(a, link=LINK, live=None, b=None):
    return alert_rules.decide(a, link, live, b or book(), bot_running=True, duplicate=None,
                              now_ms=NOW, partition=4)


def opened(side="LONG", qty=3, price=100_000):
    pos = decide(alert("BUY" if side == "LONG" else "SELL")).pos
    return fills.apply_fill(pos, fill_id="f", client_order_id=pos.entry_order_id,
                            status="FILLED", quantity=qty, price_paise=price, text=None,
                            now_ms=NOW)


def test_a_buy_opens_the_links_quantity_on_its_partition():
    d = decide(alert("BUY"))
    assert (d.decision.outcome, d.purpose, d.tripped) == (signals.OPEN, "ENTRY", None)
    assert (d.pos.side, d.pos.quantity, d.pos.partition, d.pos.state, d.pos.opened_by_alert) == \
        ("LONG", 3, 4, positions.PENDING, "a-BUY")


def test_sized_by_risk_from_the_last_price_when_the_alert_has_none():
    # 1,00,000 x 1 % = 1,000 at risk; 500 x 2 % = 10 a unit to the stop -> 100 units
    link = {**LINK, "risk_pct": "1", "capital_paise": 10_000_000}
    assert decide(alert(price=None), link, b=book(price=50_000)).pos.quantity == 100
    no_price = decide(alert(price=None), link)
    assert no_price.decision.outcome == signals.IGNORE and "no price" in no_price.decision.reason


def test_max_open_refuses_a_new_position_not_a_close():
    link = {**LINK, "max_open": 1}
    d = decide(alert("BUY"), link, b=book(exposure()))
    assert d.decision.outcome == signals.IGNORE and "its limit is 1" in d.decision.reason
    live = opened()
    assert decide(alert("EXIT"), link, live, book(exposure())).decision.outcome == signals.CLOSE


def test_a_tripped_breaker_refuses_entries_says_so_and_turns_a_reverse_into_a_close():
    link = {**LINK, "daily_loss_paise": 50_000}
    lost = book(exposure("CLOSED", realized=-60_000, closed_at=NOW - 1000))
    d = decide(alert("BUY"), link, b=lost)
    assert d.decision.outcome == signals.IGNORE and d.tripped.scope.name == "link demo"
    assert d.tripped.reason == d.decision.reason and "600.00 lost today, limit 500.00" in d.tripped.reason
    flip = decide(alert("SELL"), link, opened(), lost)
    assert flip.decision.outcome == signals.CLOSE and "no reverse" in flip.decision.reason
    assert flip.purpose == "EXIT" and flip.pos.then_open is None and flip.tripped is not None


def test_a_reverse_exits_with_its_plan_and_enters_once_the_exit_filled():
    live = opened()
    flip = decide(alert("SELL", price=101_000), live=live)
    assert (flip.decision.outcome, flip.purpose, flip.pos.state) == \
        (signals.REVERSE, "EXIT", positions.EXITING)
    assert flip.pos.then_open == {"side": "SHORT", "alert_id": "a-SELL",
                                  "reference_price_paise": 101_000}
    closed = fills.apply_fill(flip.pos, fill_id="x", client_order_id=flip.pos.exit_order_id,
                              status="FILLED", quantity=3, price_paise=101_000, text=None,
                              now_ms=NOW + 1)
    planned = alert_rules.reverse(closed, LINK, book(), bot_running=True, exit_price=101_000,
                                  partition=4, now_ms=NOW + 2)
    assert (planned.pos.side, planned.pos.quantity, planned.pos.reverse_of,
            planned.pos.reference_price_paise) == ("SHORT", 3, live.id, 101_000)
    stopped = alert_rules.reverse(closed, LINK, book(), bot_running=False, exit_price=101_000,
                                  partition=4, now_ms=NOW + 2)
    assert stopped.pos is None and "bot is stopped" in stopped.why_not
    long_only = alert_rules.reverse(closed, {**LINK, "side": "long"}, book(), bot_running=True,
                                    exit_price=101_000, partition=4, now_ms=NOW + 2)
    assert "trades long only" in long_only.why_not
