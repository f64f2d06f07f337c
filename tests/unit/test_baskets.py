"""A basket's rules (agents/baskets.py), worked by hand on a short straddle of NIFTY: the call
sold at 150.00 and the put at 140.00, 75 each (₹21,750 of premium collected)."""
from datetime import time

import pytest

from agents import baskets as b
from agents.baskets import Amount, Held, Rules

STRADDLE = [Held(b.SELL, 75, 15000), Held(b.SELL, 75, 14000)]
NOON = time(12, 0)


def test_mtm_and_premium():
    assert b.premium(STRADDLE) == 75 * 15000 + 75 * 14000 == 2_175_000
    # the call up 10.00 (a loss of 750.00), the put down 5.00 (a gain of 375.00)
    assert b.mtm(STRADDLE, [16000, 13500]) == -75_000 + 37_500
    spread = [Held(b.BUY, 75, 12000), Held(b.SELL, 75, 7000)]      # a debit spread
    assert b.premium(spread) == -375_000
    assert b.mtm(spread, [13000, 7500]) == 75_000 - 37_500


@pytest.mark.parametrize("rules,last,reason", [
    # 20 % of the premium, 4,350.00: at 200 and 150 the straddle is 4,500.00 down
    (Rules(stop=Amount(pct="20")), [16000, 13500], None),
    (Rules(stop=Amount(pct="20")), [20000, 15000], b.BASKET_SL),
    # a target of 2,000.00: both legs 30.00 down is 4,500.00 up
    (Rules(target=Amount(paise=200_000)), [12000, 11000], b.BASKET_TARGET),
    (Rules(target=Amount(paise=200_000)), [14000, 13000], None),     # 1,500.00 up
    (Rules(exit_at=time(15, 15)), [15000, 14000], None),
])
def test_basket_rules(rules, last, reason):
    _, decided = b.evaluate(STRADDLE, [0, 1], last, 0, rules, NOON)
    assert (decided.reason if decided else None) == reason
    if decided:
        assert decided.legs == (0, 1)


def test_the_time_exit():
    _, decided = b.evaluate(STRADDLE, [0, 1], [15000, 14000], 0,
                            Rules(exit_at=time(15, 15)), time(15, 15))
    assert decided == b.Decision(b.TIME, (0, 1))


def test_trailing_on_the_combined_mtm_starts_at_its_activation():
    rules = Rules(trail=Amount(paise=100_000), trail_from=Amount(paise=150_000))
    best = 0
    # 525.00 up: below the 1,500.00 that starts the trailing
    best, decided = b.evaluate(STRADDLE, [0, 1], [14500, 13800], best, rules, NOON)
    assert (best, decided) == (52_500, None)
    best, decided = b.evaluate(STRADDLE, [0, 1], [16000, 14000], best, rules, NOON)
    assert (best, decided) == (52_500, None)                       # 750.00 down: not trailing
    best, decided = b.evaluate(STRADDLE, [0, 1], [13000, 12500], best, rules, NOON)
    assert (best, decided) == (262_500, None)                      # trailing: stop at 1,625.00
    best, decided = b.evaluate(STRADDLE, [0, 1], [14000, 13000], best, rules, NOON)
    assert (best, decided) == (262_500, b.Decision(b.BASKET_TRAIL, (0, 1)))   # 1,500.00


def test_a_legs_own_stop_closes_that_leg_alone():
    rules = Rules(leg_stop_pct="30")          # the call's at 195.00, the put's at 182.00
    _, decided = b.evaluate(STRADDLE, [0, 1], [19495, 12000], 0, rules, NOON)
    assert decided is None
    _, decided = b.evaluate(STRADDLE, [0, 1], [19500, 12000], 0, rules, NOON)
    assert decided == b.Decision(b.LEG_SL, (0,))
    # the call closed at 195.00 (its last stays its exit price): the put's own stop next
    _, decided = b.evaluate(STRADDLE, [1], [19500, 18200], 0, rules, NOON)
    assert decided == b.Decision(b.LEG_SL, (1,))


def test_legs_go_in_buys_first_and_out_sells_first():
    condor = [leg.side for leg in b.TEMPLATES["iron_condor"]]
    assert condor == [b.SELL, b.SELL, b.BUY, b.BUY]
    assert b.entry_order(condor) == [2, 3, 0, 1]
    assert b.exit_order(condor) == [0, 1, 2, 3]
    _, decided = b.evaluate([Held(s, 75, 10000) for s in condor], [0, 1, 2, 3],
                            [14000, 14000, 10000, 10000], 0, Rules(stop=Amount(paise=500_000)),
                            NOON)
    assert decided == b.Decision(b.BASKET_SL, (0, 1, 2, 3))        # 6,000.00 down


def test_templates():
    assert {name: [(leg.right, leg.side, leg.offset) for leg in legs]
            for name, legs in b.TEMPLATES.items()} == {
        "long_call": [("CE", "BUY", 0)], "long_put": [("PE", "BUY", 0)],
        "short_straddle": [("CE", "SELL", 0), ("PE", "SELL", 0)],
        "short_strangle": [("CE", "SELL", 2), ("PE", "SELL", 2)],
        "iron_condor": [("CE", "SELL", 2), ("PE", "SELL", 2), ("CE", "BUY", 4),
                        ("PE", "BUY", 4)],
        "iron_fly": [("CE", "SELL", 0), ("PE", "SELL", 0), ("CE", "BUY", 3), ("PE", "BUY", 3)],
        "bull_call_spread": [("CE", "BUY", 0), ("CE", "SELL", 2)],
        "bear_put_spread": [("PE", "BUY", 0), ("PE", "SELL", 2)]}
    with pytest.raises(ValueError):
        b.Leg("XX", b.BUY)


@pytest.mark.parametrize("reason,reentered,after_s,allowed", [
    (b.BASKET_SL, 0, 60, True), (b.BASKET_TRAIL, 0, 60, True), (b.BASKET_SL, 0, 59, False),
    (b.BASKET_SL, 1, 600, False), (b.BASKET_TARGET, 0, 600, False), (b.TIME, 0, 600, False)])
def test_reentry(reason, reentered, after_s, allowed):
    rules = Rules(reentries=1, reentry_delay_s=60)
    assert b.may_reenter(reason, reentered, 1_000, 1_000 + after_s * 1000, rules) is allowed
