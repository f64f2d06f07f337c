"""Exit rules, table-driven: long and short, SL, target, trailing activation and ratchet, exact
boundaries and gaps."""
from fractions import Fraction

import pytest

from agents.exits import LONG, SHORT, SL, TARGET, TRAIL, ExitRules, evaluate, levels

RULES = ExitRules.from_pcts("1", "2", "0.5", None)   # SL 1 %, target 2 %, trail 0.5 % (act. 0.5 %)
E = Fraction(100000)                                   # entry ₹1000.00


def run(side, prices, rules=RULES, entry=E, best=None):
    """Feed ticks until one triggers; return (decision, best, ticks used)."""
    best = int(entry) if best is None else best
    for n, price in enumerate(prices, 1):
        best, _, decision = evaluate(side, entry, best, rules, price)
        if decision:
            return decision, best, n
    return None, best, len(prices)


@pytest.mark.parametrize("side,prices,reason,level,price,gap", [
    # long stop-loss at 990.00: a tick exactly at the level triggers, gap 0
    (LONG, [99950, 99500, 99000], SL, 99000, 99000, 0),
    # one paisa above the stop does not trigger; gap through the stop is recorded
    (LONG, [99001, 98700], SL, 99000, 98700, 300),
    # long target at 1020.00 (trail never binds before the target on a straight rise? it does
    # activate, but price keeps rising, so the target is reached first)
    (LONG, [100500, 101000, 102000], TARGET, 102000, 102000, 0),
    (LONG, [101500, 102250], TARGET, 102000, 102250, 250),
    # short mirror: stop at 1010.00, target at 980.00
    (SHORT, [100500, 101000], SL, 101000, 101000, 0),
    (SHORT, [100999, 101400], SL, 101000, 101400, 400),
    (SHORT, [99500, 98000], TARGET, 98000, 98000, 0),
])
def test_fixed_levels(side, prices, reason, level, price, gap):
    decision, _, n = run(side, prices)
    assert decision is not None and n == len(prices)
    assert (decision.reason, decision.level, decision.price, decision.gap) == \
        (reason, Fraction(level), price, Fraction(gap))


def test_long_trailing_activates_ratchets_and_hits():
    # activation at 1005.00: best 1005.00 -> trail stop 1005 x 0.995 = 999.975
    best, lv, d = evaluate(LONG, E, 100000, RULES, 100499)
    assert d is None and lv.trail_stop is None, "not active one paisa below activation"
    best, lv, d = evaluate(LONG, E, best, RULES, 100500)
    assert d is None and lv.trail_stop == Fraction(100500) * Fraction(995, 1000)
    best, lv, d = evaluate(LONG, E, best, RULES, 101500)          # ratchets up to 1009.925
    assert lv.stop == Fraction(101500) * Fraction(995, 1000)
    best, lv2, d = evaluate(LONG, E, best, RULES, 101000)         # pull-back: stop stays
    assert d is None and lv2.stop == lv.stop, "the stop never moves down"
    best, _, d = evaluate(LONG, E, best, RULES, 100992)           # 1009.92 < 1009.925
    assert d.reason == TRAIL and d.level == Fraction(2019850, 20) and d.gap == Fraction(1, 2)


def test_short_trailing_mirror():
    best, lv, d = evaluate(SHORT, E, 100000, RULES, 99000)        # best 990 -> stop 994.95
    assert d is None and lv.stop == Fraction(99000) * Fraction(1005, 1000)
    _, _, d = evaluate(SHORT, E, best, RULES, 99495)
    assert d.reason == TRAIL and d.price == 99495 and d.gap == 0


def test_trail_exactly_at_boundary_of_activation_and_level():
    rules = ExitRules.from_pcts("1", None, "1", "2")              # activation 2 %, trail 1 %
    _, lv, _ = evaluate(LONG, E, 100000, rules, 101999)
    assert lv.trail_stop is None
    best, lv, _ = evaluate(LONG, E, 100000, rules, 102000)
    assert lv.trail_stop == Fraction(102000 * 99, 100) == Fraction(100980)
    _, _, d = evaluate(LONG, E, best, rules, 100981)
    assert d is None
    _, _, d = evaluate(LONG, E, best, rules, 100980)
    assert d.reason == TRAIL and d.gap == 0


def test_trailing_stop_never_below_initial_stop():
    # trail 3 % wider than SL 1 %: once active, the trail stop (best x 0.97) is below the initial
    # stop, so the initial stop stays binding and the reason stays SL
    rules = ExitRules.from_pcts("1", None, "3", "0.1")
    best, lv, _ = evaluate(LONG, E, 100000, rules, 100200)
    assert lv.trail_stop is not None and lv.stop == lv.initial_stop == Fraction(99000)
    _, _, d = evaluate(LONG, E, best, rules, 99000)
    assert d.reason == SL


def test_trail_equal_to_initial_stop_is_reported_as_sl():
    # best exactly where trail stop == initial stop: SL is binding (not "raised")
    rules = ExitRules.from_pcts("1", None, "1", "0")
    entry = Fraction(100000)
    lv = levels(LONG, entry, 100000, rules)
    assert lv.trail_stop == lv.initial_stop
    _, _, d = evaluate(LONG, entry, 100000, rules, 99000)
    assert d.reason == SL


def test_no_rules_never_exit():
    decision, _, _ = run(LONG, [1, 10**9], rules=ExitRules.from_pcts(None, None, None, None))
    assert decision is None


def test_fractional_entry_levels_are_exact():
    # avg entry 1000.005 (two fills): stop 990.00495 -> a tick at 990.00 triggers, 990.01 does not
    entry = Fraction(100000 + 100001, 2)
    rules = ExitRules.from_pcts("1", None, None, None)
    assert levels(LONG, entry, int(entry), rules).initial_stop == entry * Fraction(99, 100)
    assert evaluate(LONG, entry, 100000, rules, 99001)[2] is None
    assert evaluate(LONG, entry, 100000, rules, 99000)[2].reason == SL
