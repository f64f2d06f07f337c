"""Amounts as the pages show them: ₹, Indian grouping, two decimals, rounded half up."""
import pytest

from schemas.money import inr


@pytest.mark.parametrize("rupees, shown", [
    ("1234567.50", "₹12,34,567.50"), ("-12.5", "-₹12.50"), ("999", "₹999.00"),
    ("1000", "₹1,000.00"), ("100000", "₹1,00,000.00"), ("1222.1550", "₹1,222.16"),
    ("1222.1549", "₹1,222.15"), ("-0.004", "₹0.00"), (None, "—"), ("", "—"),
])
def test_an_amount_is_shown_in_rupees_to_the_paisa(rupees, shown):
    assert inr(rupees) == shown
