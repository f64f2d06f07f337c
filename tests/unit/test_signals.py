"""Alert decisions: link, strategy, duplicates, bot state and the open/close rules."""
import pytest

from agents import positions as P
from agents.exits import LONG, SHORT
from agents.signals import ADD, CLOSE, IGNORE, OPEN, REVERSE, decide, duplicate_of


def live(side, state=P.OPEN, entries=1, entry_open=None):
    pos = P.open_position(alert_id="x", link_id="L", token="1", symbol="S", exchange="NSE",
                          side=side, quantity=1, paper=True, sl_pct=None, target_pct=None,
                          trail_pct=None, trail_activation_pct=None, slippage_bps=0,
                          reference_price_paise=None, partition=0, now_ms=0)
    return P.Position.from_dict({**pos.to_dict(), "state": state, "entries": entries,
                                 "entry_qty": 0 if state == P.PENDING else 1,
                                 "entry_open": state == P.PENDING if entry_open is None
                                 else entry_open})


def d(action, current=None, strategy="st", link_strategy="st", enabled=True, bot=True, dup=None,
      **rules):
    rules.setdefault("side", "both")
    return decide(action=action, strategy=strategy, link_strategy=link_strategy,
                  link_enabled=enabled, bot_running=bot, duplicate=dup, live=current, **rules)


@pytest.mark.parametrize("action,current,outcome,side,why", [
    ("BUY", None, OPEN, LONG, "opens a LONG"),
    ("SELL", None, OPEN, SHORT, "opens a SHORT"),
    ("EXIT", None, IGNORE, None, "no open position"),
    ("SELL", live(LONG), CLOSE, None, "closes LONG"),
    ("BUY", live(SHORT), CLOSE, None, "closes SHORT"),
    ("BUY", live(LONG), IGNORE, None, "already LONG"),
    ("SELL", live(SHORT), IGNORE, None, "already SHORT"),
    ("EXIT", live(LONG), CLOSE, None, "closes LONG"),
    ("EXIT", live(SHORT), CLOSE, None, "closes SHORT"),
    ("EXIT", live(LONG, P.EXITING), IGNORE, None, "already exiting"),
    ("SELL", live(LONG, P.PENDING), IGNORE, None, "waiting for its entry fill"),
])
def test_position_rules(action, current, outcome, side, why):
    decision = d(action, current)
    assert (decision.outcome, decision.side) == (outcome, side) and why in decision.reason


# Every link rule against every situation: (action, live, rules) -> (outcome, side, reason).
RULES = [
    # trade side
    ("SELL", None, dict(side="long"), IGNORE, None, "trades long only: SELL does not open a SHORT"),
    ("BUY", None, dict(side="long"), OPEN, LONG, "opens a LONG"),
    ("BUY", None, dict(side="short"), IGNORE, None, "trades short only: BUY does not open a LONG"),
    ("SELL", None, dict(side="short"), OPEN, SHORT, "opens a SHORT"),
    ("SELL", live(LONG), dict(side="long"), CLOSE, None, "closes LONG"),
    ("EXIT", live(LONG), dict(side="long"), CLOSE, None, "closes LONG"),
    ("BUY", live(SHORT), dict(side="short"), CLOSE, None, "closes SHORT"),
    ("SELL", live(SHORT), dict(side="long", max_entries=3), IGNORE, None, "does not add to a SHORT"),
    # stop-and-reverse
    ("SELL", live(LONG), dict(reverse=True), REVERSE, SHORT, "then opens a SHORT"),
    ("BUY", live(SHORT), dict(reverse=True), REVERSE, LONG, "then opens a LONG"),
    ("EXIT", live(LONG), dict(reverse=True), CLOSE, None, "closes LONG"),
    ("SELL", live(LONG), dict(reverse=True, side="long"), CLOSE, None, "closes LONG"),
    ("SELL", live(LONG, P.EXITING), dict(reverse=True), IGNORE, None, "already exiting"),
    # pyramiding
    ("BUY", live(LONG), dict(max_entries=3), ADD, LONG, "adds entry 2 of 3"),
    ("BUY", live(LONG, entries=2), dict(max_entries=3), ADD, LONG, "adds entry 3 of 3"),
    ("BUY", live(LONG, entries=3), dict(max_entries=3), IGNORE, None, "with 3 of 3 entries"),
    ("SELL", live(SHORT, entries=2), dict(max_entries=3), ADD, SHORT, "adds entry 3 of 3"),
    ("BUY", live(LONG, entry_open=True), dict(max_entries=3), IGNORE, None, "waiting for its entry"),
    ("SELL", live(LONG, entries=3), dict(max_entries=3), CLOSE, None, "closes LONG"),
]


@pytest.mark.parametrize("action,current,rules,outcome,side,why", RULES,
                         ids=[f"{r[0]}-{r[1] and r[1].side}-{r[2]}" for r in RULES])
def test_link_rules(action, current, rules, outcome, side, why):
    decision = d(action, current, **rules)
    assert (decision.outcome, decision.side) == (outcome, side) and why in decision.reason, \
        decision


@pytest.mark.parametrize("kwargs,why", [
    (dict(link_strategy=None), "unknown link"),
    (dict(enabled=False), "disabled"),
    (dict(strategy="other"), "does not match"),
    (dict(dup="a0"), "duplicate of alert a0"),
    (dict(bot=False), "bot is stopped"),
])
def test_gates(kwargs, why):
    decision = d("BUY", **kwargs)
    assert decision.outcome == IGNORE and why in decision.reason


def test_a_link_opens_only_long_unless_told_otherwise():
    plain = decide(action="SELL", strategy=None, link_strategy="st", link_enabled=True,
                   bot_running=True, duplicate=None, live=None)
    assert plain.outcome == IGNORE and "trades long only: SELL does not open a SHORT" in \
        plain.reason


# Closing is never blocked: a stopped bot or a disabled link opens nothing new, but every
# alert that closes still closes (a reverse only closes).
STOPPED = [
    ("EXIT", live(LONG), CLOSE, "bot is stopped: closing is never blocked"),
    ("SELL", live(LONG), CLOSE, "closes LONG"),
    ("BUY", live(SHORT), CLOSE, "closes SHORT"),
    ("BUY", None, IGNORE, "bot is stopped"),
    ("SELL", None, IGNORE, "bot is stopped"),
    ("BUY", live(LONG), IGNORE, "bot is stopped"),
    ("EXIT", None, IGNORE, "bot is stopped"),
    ("EXIT", live(LONG, P.EXITING), IGNORE, "bot is stopped"),
]


@pytest.mark.parametrize("action,current,outcome,why", STOPPED)
@pytest.mark.parametrize("gate", [dict(bot=False), dict(enabled=False)])
def test_closing_goes_through_a_stopped_bot_and_a_disabled_link(action, current, outcome,
                                                                 why, gate):
    decision = d(action, current, max_entries=3, reverse=True, **gate)
    if not gate.get("bot", True):
        assert decision.outcome == outcome and why in decision.reason, decision
    else:
        assert decision.outcome == outcome and (why.replace("bot is stopped", "link is disabled")
                                                in decision.reason), decision
    assert decision.side is None, "nothing opens"


@pytest.mark.parametrize("action,current,rules,outcome", [
    ("SELL", None, dict(no_option_shorts=True), IGNORE),
    ("SELL", None, dict(no_option_shorts=False), OPEN),
    ("BUY", None, dict(no_option_shorts=True), OPEN),
    ("SELL", live(LONG), dict(no_option_shorts=True), CLOSE),          # selling what it holds
    ("SELL", live(LONG), dict(no_option_shorts=True, reverse=True), CLOSE),   # no short after
    ("BUY", live(SHORT), dict(no_option_shorts=True, reverse=True), REVERSE),
])
def test_a_short_option_opens_only_where_the_link_allows_it(action, current, rules, outcome):
    decision = d(action, current, **rules)
    assert decision.outcome == outcome, decision
    if outcome == IGNORE:
        assert "would open a short option" in decision.reason


def test_payload_without_strategy_is_accepted_and_strategy_case_is_ignored():
    assert d("BUY", strategy=None).outcome == OPEN
    assert d("BUY", strategy="ST").outcome == OPEN


@pytest.mark.parametrize("seen,alert,now,window,expected", [
    (None, "a2", 0, 10, None),
    ({"alert_id": "a1", "at_ms": 0}, "a2", 10_000, 10, "a1"),    # at the window's edge
    ({"alert_id": "a1", "at_ms": 0}, "a2", 10_001, 10, None),    # honest re-fire later
    ({"alert_id": "a2", "at_ms": 0}, "a2", 5, 10, None),          # a replay of itself
    ({"alert_id": "a1", "at_ms": 0}, "a2", 86_400_000, 86_400, "a1"),
])
def test_duplicate_window(seen, alert, now, window, expected):
    assert duplicate_of(seen, alert, now, window) == expected
