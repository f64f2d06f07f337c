"""The trading-rule scenarios of tests/integration/test_trading_rules.py, run by the in-process
backtest (agents/backtest.py): the same alerts and ticks, and the same hand-computed outcomes the
pipeline's workers give there — so the backtest decides them as the pipeline does. As in that
test's harness, an alert sent with a price comes with a tick at that price."""
from datetime import datetime

from agents.backtest import Backtest, Conventions
from agents.positions import Position
from schemas import ids, instruments
from schemas.market_time import IST
from schemas.money import rupees_to_paise
from schemas.records import Alert
from webapp.links import DEFAULTS
from webapp.publish import link_record

START = int(datetime(2026, 12, 8, 10, 0, tzinfo=IST).timestamp() * 1000)


class Run:
    """One link's backtest, driven by hand: ticks and alerts, a second apart."""

    def __init__(self, **settings):
        row = {**DEFAULTS, "id": "L1", "name": "rules", "strategy": "st", "version": 1,
               "user_id": "u1", "quantity": 10, "side": "both", "sl_pct": "1",
               "target_pct": "2", **settings}
        self.engine = Backtest(link_record(row).asdict(),
                               {"name": "sma_cross", "params": {}, "tokens": [],
                                "symbols": []}, Conventions(eod=False))
        self.now, self.n = START, 0

    def ticks(self, symbol: str, *prices: str) -> None:
        for price in prices:
            self.now += 1000
            self.engine.tick(instruments.lookup(symbol).token, rupees_to_paise(price), self.now)

    def alert(self, action: str, symbol: str, price: str | None = None):
        if price is not None:
            self.ticks(symbol, price)
        self.n += 1
        inst = instruments.lookup(symbol)
        return self.engine.alert(Alert(
            id=ids.digest("alert", self.n), dedupe_key=ids.digest("key", self.n),
            dedupe_window_s=10, link_id="L1", link_version=1, bot_version=1, action=action,
            symbol=inst.symbol, exchange="NSE", token=inst.token, received_at_ms=self.now,
            price_paise=rupees_to_paise(price) if price else None, user_id="u1")).decision

    def positions(self, *states: str) -> list[Position]:
        return [p for p in sorted(self.engine.positions.values(), key=lambda p: p.created_at_ms)
                if not states or p.state in states]


def test_pyramid_of_three_entries_exits_with_the_hand_computed_pnl():
    run = Run(max_entries=3, target_pct=None)
    for price in ("1400", "1414", "1407"):
        assert run.alert("BUY", "RELIANCE", price).outcome in ("OPEN", "ADD")
    fourth = run.alert("BUY", "RELIANCE", "1410")
    assert fourth.outcome == "IGNORE" and "3 of 3 entries" in fourth.reason
    [pos] = run.positions()
    assert (pos.entries, pos.entry_value_paise, pos.stop) == (3, 4221000, "139293")
    run.ticks("RELIANCE", "1395", "1392.95", "1392.90", "1380")
    [pos] = run.positions()
    assert (pos.state, pos.exit_reason, pos.exit_trigger_paise) == ("CLOSED", "SL", 139290)
    assert pos.realized_pnl_paise == 30 * 139290 - (10 * 140000 + 10 * 141400 + 10 * 140700)


def test_side_long_ignores_a_sell_that_would_open_a_short():
    ignored = Run(side="long").alert("SELL", "HCLTECH", "1480")
    assert ignored.outcome == "IGNORE" and "trades long only" in ignored.reason


def test_stop_and_reverse_exits_first_then_enters_the_other_side():
    run = Run(reverse=True, sl_pct="2", target_pct=None)
    run.alert("BUY", "BHARTIARTL", "1950")
    flip = run.alert("SELL", "BHARTIARTL", "1962")
    assert flip.outcome == "REVERSE" and "then opens a SHORT" in flip.reason
    closed, reverse = run.positions()
    assert (closed.exit_reason, closed.realized_pnl_paise) == ("SIGNAL", 10 * 1200)
    assert (reverse.state, reverse.side, reverse.reverse_of, reverse.entry_value_paise) == \
        ("OPEN", "SHORT", closed.id, 10 * 196200)


def test_reverse_on_stop_loss_but_not_on_target():
    run = Run(reverse_on_sl=True, target_pct="1")
    run.alert("BUY", "TITAN", "3500")
    run.ticks("TITAN", "3480", "3465")                        # stop 3465
    lost, reverse = run.positions()
    assert lost.exit_reason == "SL"
    assert (reverse.side, reverse.reverse_of, reverse.entry_value_paise) == \
        ("SHORT", lost.id, 10 * 346500)
    run.ticks("TITAN", "3440", "3430.35")                     # target 1% below 3465
    assert run.positions()[1].exit_reason == "TARGET"
    probe = run.alert("EXIT", "TITAN")
    assert probe.outcome == "IGNORE" and "no open position" in probe.reason
    assert len(run.positions()) == 2 and not run.positions("PENDING", "OPEN", "EXITING")


def test_daily_loss_breaker_blocks_entries():
    run = Run(daily_loss_paise=10_000, target_pct=None)
    run.alert("BUY", "LT", "3620")
    run.ticks("LT", "3600", "3583.80")                        # stop 3583.80: -362.00 today
    assert run.positions()[0].realized_pnl_paise == -36200
    blocked = run.alert("BUY", "LT", "3580")
    assert blocked.outcome == "IGNORE" and "daily loss breaker" in blocked.reason


def test_max_open_counts_the_links_positions_across_symbols():
    run = Run(max_open=2)
    for symbol, price in (("ONGC", "242"), ("NTPC", "335")):
        assert run.alert("BUY", symbol, price).outcome == "OPEN"
    third = run.alert("BUY", "POWERGRID", "288")
    assert third.outcome == "IGNORE" and "has 2 open position(s), its limit is 2" in \
        third.reason


def test_risk_sizing():
    run = Run(risk_pct="1", capital_paise=100_000_00, sl_pct="2")
    run.alert("BUY", "SBIN", "800")
    assert run.positions()[0].entry_qty == 62                # 1,000 / 16.00 = 62.5
    tiny = Run(risk_pct="0.01", capital_paise=1000_00, sl_pct="2").alert("BUY", "MARUTI",
                                                                           "12600")
    assert tiny.outcome == "IGNORE" and "risk sizing gives 0" in tiny.reason


def test_bad_tick_spike_is_held_and_a_confirmed_gap_exits_one_tick_later():
    run = Run(tick_band_pct="5", target_pct=None)
    run.alert("BUY", "WIPRO", "250")
    run.ticks("WIPRO", "250.10", "200", "250.20")             # a one-tick bad print
    assert run.positions()[0].state == "OPEN"
    run.ticks("WIPRO", "230", "229.90", "229")                # a real gap, confirmed
    [pos] = run.positions()
    assert (pos.state, pos.exit_reason, pos.exit_trigger_paise) == ("CLOSED", "SL", 22990)


def test_partial_paper_entry_exits_exactly_what_filled():
    run = Run(paper_fill="partial:0.4", target_pct=None)
    run.alert("BUY", "ICICIBANK", "1380")
    [pos] = run.positions()
    assert (pos.state, pos.entry_qty, pos.entry_value_paise) == ("OPEN", 4, 4 * 138000)
    run.ticks("ICICIBANK", "1366.20")                          # stop 1366.20: exit the 4
    [pos] = run.positions()
    assert (pos.state, pos.entry_qty, pos.exit_qty, pos.realized_pnl_paise) == \
        ("CLOSED", 4, 4, -5520)


def test_a_links_charges_table_charges_the_backtests_fills():
    run = Run(costs="zerodha")
    run.alert("BUY", "RELIANCE", "1400")              # 10 × ₹1,400 delivery (a LONG, auto)
    [pos] = run.positions()
    # Zerodha, delivery, ₹14,000 bought: no brokerage; STT 0.1 % = ₹14; exchange 0.00307 % =
    # ₹0.4298; SEBI ₹0.014; GST 18 % of 0.4438 = 0.0799; stamp 0.015 % = ₹2.10
    assert (pos.costs, pos.product_type, pos.fees_paise) == ("zerodha", "DELIVERY",
                                                              1400 + 43 + 1 + 8 + 210)
