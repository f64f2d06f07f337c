"""What an order costs beyond its price, as a contract note shows it: brokerage, STT, exchange
transaction charges, GST, SEBI's fee and stamp duty, by segment (equity delivery, equity
intraday, futures, options) and side. One table, used by paper trading and the backtest alike
(agents/fills.py charges each filled order with it, when the link names a plan).

Sources, as read on 2026-12-08 (verify against your own contract notes; rates change):
- STT: Finance (No. 2) Act 2024, from 1 October 2024 (futures 0.02 %, options 0.1 % of the
  premium, on the sell side); delivery 0.1 % both sides, intraday 0.025 % on the sell side.
- Exchange transaction charges: NSE's flat rates from 1 October 2024 (cash ₹2.97 a lakh,
  futures ₹1.73 a lakh, options ₹35.03 a lakh of premium), with NSE's IPFT charge (0.0001 %,
  options 0.0005 %) counted in them, as Angel One's charges page lists both.
- Stamp duty: Indian Stamp Act as amended from 1 July 2020, on the buy side only (delivery
  0.015 %, intraday 0.003 %, futures 0.002 %, options 0.003 %).
- SEBI turnover fee: ₹10 a crore (0.0001 %). GST: 18 % of brokerage, exchange charges and
  SEBI's fee.
- Brokerage: each broker's published pricing for its standard plan (Angel One from
  1 November 2024, Zerodha, Upstox): a flat fee per executed order, or a percentage of the
  order's value where that is lower.
Each figure is computed on an order's whole filled quantity and value and rounded to the
paisa; a partly filled order is charged by increments that add up to that.
"""
from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction as F
from typing import NamedTuple

PCT = F(1, 100)
GST = F(18, 100)
SEBI = F(1, 10_000) * PCT                 # ₹10 a crore


@dataclass(frozen=True)
class Statutory:
    stt_buy: F
    stt_sell: F
    exchange: F          # transaction charges and IPFT, both sides
    stamp_buy: F


SEGMENTS = {
    "delivery": Statutory(F("0.1") * PCT, F("0.1") * PCT, F("0.00297") * PCT + F("0.0001") * PCT,
                          F("0.015") * PCT),
    "intraday": Statutory(F(0), F("0.025") * PCT, F("0.00297") * PCT + F("0.0001") * PCT,
                          F("0.003") * PCT),
    "futures": Statutory(F(0), F("0.02") * PCT, F("0.00173") * PCT + F("0.0001") * PCT,
                         F("0.002") * PCT),
    "options": Statutory(F(0), F("0.1") * PCT, F("0.03503") * PCT + F("0.0005") * PCT,
                         F("0.003") * PCT),
}


@dataclass(frozen=True)
class Brokerage:
    flat_paise: int                 # per executed order
    pct: F | None = None            # of the order's value, where lower than the flat fee

    def of(self, value_paise: int) -> F:
        if self.pct is None:
            return F(self.flat_paise)
        return min(F(self.flat_paise), value_paise * self.pct)


FREE = Brokerage(0)
PLANS = {
    "none": None,                   # no charges from this table (a link's fee per order only)
    "angelone": {"delivery": Brokerage(2000, F("0.1") * PCT),
                 "intraday": Brokerage(2000, F("0.03") * PCT),
                 "futures": Brokerage(2000), "options": Brokerage(2000)},
    "zerodha": {"delivery": FREE, "intraday": Brokerage(2000, F("0.03") * PCT),
                "futures": Brokerage(2000, F("0.03") * PCT), "options": Brokerage(2000)},
    "upstox": {"delivery": Brokerage(2000, F("2.5") * PCT),
               "intraday": Brokerage(2000, F("0.1") * PCT),
               "futures": Brokerage(2000, F("0.05") * PCT), "options": Brokerage(2000)},
}


class Charges(NamedTuple):
    """In paise."""
    brokerage: int = 0
    stt: int = 0
    exchange: int = 0
    gst: int = 0
    sebi: int = 0
    stamp: int = 0

    @property
    def total(self) -> int:
        return sum(self)


def _paise(amount: F) -> int:
    """Rounded to the paisa, half up."""
    return int(amount + F(1, 2)) if amount >= 0 else -int(-amount + F(1, 2))


def segment(product_type: str, exchange: str, symbol: str) -> str:
    """delivery | intraday (cash market, by the order's product) | futures | options."""
    if exchange in ("NFO", "BFO", "MCX", "CDS"):
        return "options" if symbol.upper().endswith(("CE", "PE")) else "futures"
    return "delivery" if product_type == "DELIVERY" else "intraday"


def charges(plan: str, seg: str, side: str, value_paise: int) -> Charges:
    """An order's charges on its filled value (quantity × price, in paise), side BUY or
    SELL."""
    brokers = PLANS[plan]
    if brokers is None or value_paise <= 0:
        return Charges()
    rates = SEGMENTS[seg]
    brokerage = brokers[seg].of(value_paise)
    exchange, sebi = value_paise * rates.exchange, value_paise * SEBI
    stt = value_paise * (rates.stt_buy if side == "BUY" else rates.stt_sell)
    stamp = value_paise * rates.stamp_buy if side == "BUY" else F(0)
    return Charges(_paise(brokerage), _paise(stt), _paise(exchange),
                   _paise((brokerage + exchange + sebi) * GST), _paise(sebi), _paise(stamp))


def added(plan: str, seg: str, side: str, value_before: int, value_after: int) -> int:
    """What a fill adds to its order's charges, the order's filled value going from
    value_before to value_after: the increments of an order add up to its charges."""
    if PLANS[plan] is None:
        return 0
    return charges(plan, seg, side, value_after).total - \
        charges(plan, seg, side, value_before).total
