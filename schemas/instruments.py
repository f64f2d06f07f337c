"""The paper-mode instrument catalog: NSE cash instruments with their SmartAPI tokens.

Live trading resolves instruments from Angel One's instrument master; this built-in list is what
paper mode and the synthetic feed use, and what a symbol in an alert is checked against.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Instrument:
    token: str
    symbol: str          # trading symbol as the broker spells it
    exchange: str
    tick_size_paise: int
    lot_size: int
    reference_paise: int  # a realistic price level, the synthetic feed's starting point


_NSE_EQUITIES = """
2885 RELIANCE 141000
3045 SBIN 80500
1594 INFY 152000
11536 TCS 312000
1333 HDFCBANK 198000
4963 ICICIBANK 138000
1660 ITC 41000
11483 LT 362000
5900 AXISBANK 118000
1922 KOTAKBANK 210000
10604 BHARTIARTL 195000
1394 HINDUNILVR 242000
10999 MARUTI 1260000
3499 TATASTEEL 16500
3787 WIPRO 24500
3351 SUNPHARMA 168000
317 BAJFINANCE 92000
236 ASIANPAINT 240000
3506 TITAN 352000
2475 ONGC 24200
11630 NTPC 33500
14977 POWERGRID 28800
7229 HCLTECH 148000
11532 ULTRACEMCO 1180000
"""

CATALOG: dict[str, Instrument] = {}
for _line in _NSE_EQUITIES.strip().splitlines():
    _token, _symbol, _price = _line.split()
    CATALOG[_token] = Instrument(_token, f"{_symbol}-EQ", "NSE", 5, 1, int(_price))
for _token, _symbol, _price in (("99926000", "Nifty 50", 2450000), ("99926009", "Nifty Bank", 5200000)):
    CATALOG[_token] = Instrument(_token, _symbol, "NSE", 5, 1, _price)

_BY_SYMBOL = {}
for _inst in CATALOG.values():
    _BY_SYMBOL[(_inst.exchange, _inst.symbol.upper())] = _inst
    _BY_SYMBOL[(_inst.exchange, _inst.symbol.upper().removesuffix("-EQ"))] = _inst
_BY_SYMBOL[("NSE", "NIFTY")] = CATALOG["99926000"]
_BY_SYMBOL[("NSE", "BANKNIFTY")] = CATALOG["99926009"]


def lookup(symbol: str, exchange: str = "NSE") -> Instrument | None:
    """RELIANCE, RELIANCE-EQ and NSE:RELIANCE all name the same instrument."""
    symbol = symbol.strip().upper()
    if ":" in symbol:
        exchange, symbol = symbol.split(":", 1)
    return _BY_SYMBOL.get((exchange.strip().upper() or "NSE", symbol))


def by_token(token: str) -> Instrument | None:
    return CATALOG.get(token)
