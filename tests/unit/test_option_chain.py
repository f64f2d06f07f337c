"""Choosing a basket's contracts (schemas/option_chain.py), worked by hand on a NIFTY-like
chain: weekly expiries on Tuesdays, the last of a month its monthly one, and 26 January 2027
(Republic Day, a Tuesday) moved to Monday the 25th by the exchange, as the master lists it."""
from datetime import date

import pytest

from schemas import option_chain as oc

EXPIRIES = [date(2026, 12, 8), date(2026, 12, 15), date(2026, 12, 22), date(2026, 12, 29),
            date(2027, 1, 5), date(2027, 1, 12), date(2027, 1, 19), date(2027, 1, 25)]


@pytest.mark.parametrize("today,current_week,next_week,current_month,next_month", [
    # an expiry day trades its own expiry
    (date(2026, 12, 8), date(2026, 12, 8), date(2026, 12, 15), date(2026, 12, 29),
     date(2027, 1, 25)),
    (date(2026, 12, 9), date(2026, 12, 15), date(2026, 12, 22), date(2026, 12, 29),
     date(2027, 1, 25)),
    # the monthly expiry day: its month is still the current one
    (date(2026, 12, 29), date(2026, 12, 29), date(2027, 1, 5), date(2026, 12, 29),
     date(2027, 1, 25)),
    # the day after: January is the current month, February has no expiry listed
    (date(2026, 12, 30), date(2027, 1, 5), date(2027, 1, 12), date(2027, 1, 25), None),
    # the week of the holiday: its expiry is the Monday before
    (date(2027, 1, 20), date(2027, 1, 25), None, date(2027, 1, 25), None),
])
def test_expiries(today, current_week, next_week, current_month, next_month):
    for kind, expected in (("current_week", current_week), ("next_week", next_week),
                           ("current_month", current_month), ("next_month", next_month)):
        if expected is None:
            with pytest.raises(oc.ChainError):
                oc.expiry(kind, EXPIRIES, today)
        else:
            assert oc.expiry(kind, EXPIRIES, today) == expected, kind
    with pytest.raises(oc.ChainError, match="one of current_week"):
        oc.expiry("weekly", EXPIRIES, today)


STRIKES = [2390000, 2395000, 2400000, 2405000, 2410000, 2415000]     # 50-point grid, paise


@pytest.mark.parametrize("price,right,offset,strike", [
    (2402400, "CE", 0, 2400000),      # 24,024: 24,000 is 24 away, 24,050 is 26
    (2402500, "PE", 0, 2400000),      # a tie: the lower
    (2402400, "CE", 2, 2410000),      # out of the money: calls up
    (2402400, "PE", 2, 2390000),      # ... puts down
    (2402400, "CE", -1, 2395000),     # in the money: calls down
    (2402400, "PE", -1, 2405000),
])
def test_strikes_by_offset(price, right, offset, strike):
    assert oc.by_offset(STRIKES, price, right, offset) == strike


def test_an_offset_beyond_the_chain_says_so():
    with pytest.raises(oc.ChainError, match="4 strikes out of the money is beyond the chain"):
        oc.by_offset(STRIKES, 2402400, "CE", 4)


def test_strikes_by_premium():
    calls = {2400000: 15000, 2405000: 12500, 2410000: 10000, 2415000: 7800}
    assert oc.by_premium(calls, "CE", 9000) == 2410000           # 10 away, against 12
    assert oc.by_premium(calls, "CE", 8900) == 2415000           # 11 and 11: further out
    assert oc.by_premium({2390000: 8000, 2395000: 10000}, "PE", 9000) == 2390000


@pytest.mark.parametrize("quantity,lot,freeze,orders", [
    (3000, 75, 1800, [1725, 1275]),   # NSE freezes at 1,800: 23 lots an order at most
    (1800, 75, 1800, [1725, 75]),
    (1725, 75, 1800, [1725]),
    (7500, 75, 1800, [1725, 1725, 1725, 1725, 600]),
    (3000, 75, None, [3000]),
])
def test_orders_stay_below_the_freeze_quantity(quantity, lot, freeze, orders):
    assert oc.split(quantity, lot, freeze) == orders
    assert sum(orders) == quantity and all(o % lot == 0 and o < (freeze or 10**9)
                                           for o in orders)


def test_a_quantity_of_part_lots_is_refused():
    with pytest.raises(oc.ChainError, match="not a whole number of lots of 75"):
        oc.split(100, 75, 1800)
