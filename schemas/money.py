"""Exact money: prices are integer paise; percentages are Decimals. No float touches a price."""
from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from fractions import Fraction


MAX_RUPEES = Decimal(10) ** 9   # no price or amount pinewire handles comes near it


def rupees_to_paise(value: str | int | Decimal) -> int:
    """'24510.5' -> 2451050. Rounds half-up to the paisa; rejects non-numbers, non-positives
    and amounts beyond MAX_RUPEES."""
    try:
        amount = Decimal(str(value).strip())
    except (InvalidOperation, ArithmeticError):
        raise ValueError(f"{value!r} is not a number") from None
    if not amount.is_finite() or amount <= 0:
        raise ValueError(f"{value!r} is not a positive price")
    if amount > MAX_RUPEES:
        raise ValueError(f"{value!r} is more than {MAX_RUPEES:,} rupees")
    paise = int((amount * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))
    if paise == 0:
        raise ValueError(f"{value!r} is less than half a paisa")
    return paise


def paise_to_rupees(paise: int | Fraction) -> str:
    """2451050 -> '24510.50'; a fractional level is shown to 4 decimal places of a rupee."""
    if isinstance(paise, Fraction) and paise.denominator != 1:
        value = Decimal(paise.numerator) / Decimal(paise.denominator) / 100
        return str(value.quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP))
    return str((Decimal(int(paise)) / 100).quantize(Decimal("0.01")))


def pct(value: str | int | Decimal | None) -> Fraction | None:
    """A percentage as an exact fraction of one: '0.5' -> 1/200. None or '0' means 'not set'."""
    if value is None or str(value).strip() == "":
        return None
    frac = Fraction(Decimal(str(value)))
    if frac < 0:
        raise ValueError(f"percentage {value!r} is negative")
    return frac / 100 if frac else None


def fraction_str(value: Fraction | None) -> str | None:
    """A level, exactly, as it is stored: '247549.5' style when finite in decimal, else 'n/d'."""
    if value is None:
        return None
    return f"{value.numerator}/{value.denominator}" if value.denominator != 1 else str(value.numerator)



def signed_rupees(paise: int) -> str:
    """-1250 -> '-12.50': P&L, where the sign matters."""
    return ("-" if paise < 0 else "") + paise_to_rupees(abs(paise))


def inr(rupees: str | None) -> str:
    """A rupee amount as a trader reads it, to the paisa: '1234567.5' -> '₹12,34,567.50'
    (Indian grouping), '-12.50' -> '-₹12.50', a level of '1222.1550' -> '₹1,222.16' (half
    up); None -> '—'."""
    if rupees is None or rupees == "":
        return "—"
    amount = Decimal(str(rupees)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP) + 0
    sign, text = ("-", str(-amount)) if amount < 0 else ("", str(amount))
    whole, decimals = text.split(".")
    head, groups = whole[:-3], [whole[-3:]]
    while len(head) > 2:
        head, groups = head[:-2], [head[-2:]] + groups
    return f"{sign}₹{','.join(([head] if head else []) + groups)}.{decimals}"
