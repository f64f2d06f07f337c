"""A universe screened by what a screener's export knows: each filter applies where the value
is known, and the rows kept for not knowing it are counted."""
import pytest

from agents.strategies.base import StrategyError
from webapp.strategies import screen

ROWS = [{"symbol": "SBIN", "price": "801.5", "avg_volume": "12000000", "market_cap": "715000"},
        {"symbol": "IDEA", "price": "7.2", "avg_volume": "400000000", "market_cap": "50000"},
        {"symbol": "MRF", "price": "130000", "avg_volume": "9000", "market_cap": "55000"},
        {"symbol": "NEWCO", "price": "", "avg_volume": "", "market_cap": ""}]


def test_each_filter_where_the_value_is_known():
    assert screen(ROWS, min_price=50, max_price=100_000) == (["SBIN", "NEWCO"], {"price": 1})
    assert screen(ROWS, min_avg_volume=1_000_000, min_market_cap=100_000) == \
        (["SBIN", "NEWCO"], {"avg_volume": 1, "market_cap": 1})
    assert screen(ROWS) == (["SBIN", "IDEA", "MRF", "NEWCO"], {})


def test_a_value_that_is_no_number_is_named():
    with pytest.raises(StrategyError, match="SBIN: price 'n/a' is not a number"):
        screen([{"symbol": "SBIN", "price": "n/a"}], min_price=1)
