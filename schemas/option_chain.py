"""Choosing option contracts from a chain, pure: the expiry a basket's leg names, the strike at
the money and so many strikes from it, the strike whose premium is nearest a price, and an
order's quantity cut under the exchange's freeze limit.

Conventions:
- Expiries are the instrument master's own dates: an expiry the exchange moved for a holiday
  is already on its new day there.
- current_week: the nearest expiry on or after today (on an expiry day, that day's);
  next_week: the one after it. current_month: the last expiry in the month of the nearest
  expiry (the monthly contract); next_month: the last expiry of the month after that.
- At the money: the strike nearest the underlying's price (the lower one on a tie). An offset
  counts strikes on the chain's grid away from it: positive out of the money (higher strikes
  for a call, lower for a put), negative in the money.
- By premium: the strike whose last premium is nearest the price asked (on a tie, the one
  further out of the money).
- Freeze: the exchange freezes an order at or above an instrument's freeze quantity; a larger
  quantity goes as several orders below it, each whole lots.
"""
from __future__ import annotations

from datetime import date

EXPIRIES = ("current_week", "next_week", "current_month", "next_month")


class ChainError(ValueError):
    """The chain has no contract for what was asked: the message says what."""


def expiry(kind: str, expiries: list[date], today: date) -> date:
    ahead = sorted(e for e in set(expiries) if e >= today)
    if not ahead:
        raise ChainError(f"no expiry on or after {today}")
    if kind == "current_week":
        return ahead[0]
    if kind == "next_week":
        if len(ahead) < 2:
            raise ChainError(f"no expiry after {ahead[0]}")
        return ahead[1]
    if kind not in ("current_month", "next_month"):
        raise ChainError(f"expiry must be one of {', '.join(EXPIRIES)}, not {kind!r}")
    month = (ahead[0].year, ahead[0].month)
    if kind == "next_month":
        month = (month[0] + month[1] // 12, month[1] % 12 + 1)
    in_month = [e for e in ahead if (e.year, e.month) == month]
    if not in_month:
        raise ChainError(f"no expiry in {month[0]}-{month[1]:02d}")
    return in_month[-1]


def atm_index(strikes: list[int], price_paise: int) -> int:
    """The index, in ascending strikes, of the one nearest the price (the lower on a tie)."""
    if not strikes:
        raise ChainError("no strike on the chain")
    return min(range(len(strikes)), key=lambda k: (abs(strikes[k] - price_paise), strikes[k]))


def by_offset(strikes: list[int], price_paise: int, right: str, offset: int) -> int:
    """The strike `offset` steps from the money (positive: out of the money)."""
    ordered = sorted(set(strikes))
    k = atm_index(ordered, price_paise) + (offset if right == "CE" else -offset)
    if not 0 <= k < len(ordered):
        raise ChainError(f"{abs(offset)} strikes {'out of' if offset > 0 else 'in'} the money "
                         f"is beyond the chain ({ordered[0]}..{ordered[-1]} paise)")
    return ordered[k]


def by_premium(premiums: dict[int, int], right: str, premium_paise: int) -> int:
    """The strike whose premium (strike -> last premium, paise) is nearest the price."""
    if not premiums:
        raise ChainError("no premium known on the chain")
    further = (lambda s: -s) if right == "CE" else (lambda s: s)   # out of the money first
    return min(premiums, key=lambda s: (abs(premiums[s] - premium_paise), further(s)))


def split(quantity: int, lot_size: int, freeze_qty: int | None) -> list[int]:
    """An order's quantity as orders below the freeze quantity, each whole lots, the largest
    first."""
    if quantity <= 0 or quantity % lot_size:
        raise ChainError(f"{quantity} is not a whole number of lots of {lot_size}")
    if not freeze_qty or quantity < freeze_qty:
        return [quantity]
    most = (freeze_qty - 1) // lot_size * lot_size
    if most <= 0:
        raise ChainError(f"the freeze quantity {freeze_qty} is below a lot of {lot_size}")
    parts = [most] * (quantity // most)
    return parts + ([quantity % most] if quantity % most else [])
