"""The bad-tick guard, tick by tick."""
from fractions import Fraction

import pytest

from agents.badticks import ACCEPTED, CONFIRMED, DISCARDED, HELD, guard

BAND = Fraction(5, 100)


@pytest.mark.parametrize("band,last,held,price,verdict,new_last,new_held", [
    (None, 1000, None, 1, ACCEPTED, 1, None),           # no band: everything goes
    (BAND, None, None, 1, ACCEPTED, 1, None),            # nothing accepted yet
    (BAND, 1000, None, 1050, ACCEPTED, 1050, None),      # exactly at the band
    (BAND, 1000, None, 1051, HELD, 1000, 1051),
    (BAND, 1000, None, 949, HELD, 1000, 949),
    (BAND, 1000, 900, 899, CONFIRMED, 899, None),        # within the band of the held tick
    (BAND, 1000, 900, 1001, DISCARDED, 1001, None),      # back near the last accepted
    (BAND, 1000, 900, 800, HELD, 1000, 800),             # a new jump replaces the held one
])
def test_guard(band, last, held, price, verdict, new_last, new_held):
    g = guard(band, last, held, price)
    assert (g.verdict, g.last_accepted, g.held) == (verdict, new_last, new_held)
    assert g.accepted is (verdict != HELD)
