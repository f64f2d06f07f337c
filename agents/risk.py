"""Risk: quantity sized by capital at risk, the max-open limit and the daily loss breaker, for a
link and for its account. Pure: positions, prices and the day are arguments.

A day is the IST trading day. The breaker counts the realized P&L (net of fees) of positions
closed that day after the last reset, plus the unrealized P&L of live positions at the last price.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from math import floor
from typing import Callable, Iterable, Mapping

from schemas.market_time import IST
from schemas.money import paise_to_rupees, pct

LIVE_STATES = ("PENDING", "OPEN", "EXITING")


def ist_day(ms: int) -> date:
    return datetime.fromtimestamp(ms / 1000, IST).date()


def size(*, quantity: int, lot_size: int, risk_pct: str | None, capital_paise: int | None,
         sl_pct: str | None, reference_paise: int | None) -> tuple[int, str | None]:
    """Units to trade, or (0, why not). Without risk sizing: the link's quantity in lots.
    With it: floor(capital x risk % / (reference x SL %)), rounded down to whole lots."""
    if risk_pct is None:
        return quantity * lot_size, None
    if reference_paise is None:
        return 0, "cannot size by risk: the alert carries no price and no tick has been seen"
    at_risk = capital_paise * pct(risk_pct)
    per_unit = reference_paise * pct(sl_pct)
    lots = floor(at_risk / per_unit) // lot_size
    if lots == 0:
        return 0, (f"risk sizing gives 0: {paise_to_rupees(at_risk)} at risk, "
                   f"{paise_to_rupees(per_unit)} per unit to the stop, lots of {lot_size}")
    return lots * lot_size, None


def pnl(position: Mapping, last_paise: int | None) -> tuple[int, int]:
    """(realized, unrealized) gross P&L in paise of one position (a ledger row, an exposure
    record or a position snapshot): realized once closed, else marked at the last price."""
    sign = 1 if position["side"] == "LONG" else -1
    if position["state"] == "CLOSED":
        return position.get("realized_pnl_paise") or 0, 0
    if position["state"] not in LIVE_STATES or not position["entry_qty"] or last_paise is None:
        return 0, 0
    held = position["entry_qty"] - position["exit_qty"]
    marked = position["exit_value_paise"] + held * last_paise
    return 0, sign * (marked - position["entry_value_paise"])


def day_pnl(positions: Iterable[Mapping], day: date, price: Callable[[str], int | None],
            since_ms: int | None = None) -> int:
    """Realized (net of fees) of positions closed on `day` after `since_ms`, plus unrealized
    of live positions."""
    total = 0
    for p in positions:
        if p["state"] == "CLOSED":
            closed = p.get("closed_at_ms")
            if closed is None or ist_day(closed) != day or (since_ms and closed < since_ms):
                continue
            total += (p.get("realized_pnl_paise") or 0) - (p.get("fees_paise") or 0)
        elif p["state"] in LIVE_STATES:
            total += pnl(p, price(p["token"]))[1]
    return total


def open_count(positions: Iterable[Mapping]) -> int:
    return sum(1 for p in positions if p["state"] in LIVE_STATES)


@dataclass(frozen=True)
class Scope:
    """A link or an account, its limits and where it stands today."""
    name: str                       # "link demo", "account main"
    max_open: int | None
    daily_loss_paise: int | None
    open_positions: int
    day_pnl_paise: int

    @property
    def tripped(self) -> bool:
        return self.daily_loss_paise is not None and self.day_pnl_paise <= -self.daily_loss_paise

    def figures(self) -> dict:
        return {"scope": self.name, "day_pnl_paise": self.day_pnl_paise,
                "daily_loss_paise": self.daily_loss_paise, "open_positions": self.open_positions,
                "max_open": self.max_open}


def entry_block(scopes: Iterable[Scope], *, new_position: bool) -> tuple[str | None, Scope | None]:
    """Why an entry may not be sent, and the scope whose breaker is tripped (if that is why).
    The breaker stops every entry; max-open only a new position (not an added entry)."""
    for scope in scopes:
        if scope.tripped:
            return (f"daily loss breaker of {scope.name} tripped: "
                    f"{paise_to_rupees(abs(scope.day_pnl_paise))} lost today, limit "
                    f"{paise_to_rupees(scope.daily_loss_paise)}"), scope
        if new_position and scope.max_open is not None and scope.open_positions >= scope.max_open:
            return (f"{scope.name} has {scope.open_positions} open position(s), "
                    f"its limit is {scope.max_open}"), None
    return None, None

