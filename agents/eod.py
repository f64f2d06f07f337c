"""The end-of-day routine, pure: which sweep runs at a time, on which days, and what it does to
each open position.

15:15 IST (MIS_SQUAREOFF): intraday (MIS) positions close before the broker's own square-off.
15:29 IST (EOD): per link policy — close-losers keeps a position whose unrealized P&L at the last
tick is > 0 and closes the rest; close-all; hold. Intraday positions always close.
Only NSE trading days: weekends, NSE holidays (the `holidays` package's XNSE calendar) and any
extra holidays given are skipped.
"""
from __future__ import annotations

from datetime import date, datetime, time

from agents.risk import IST, pnl as risk_pnl
from schemas.market_time import is_trading_day  # noqa: F401 - the calendar, where eod is read
from schemas.records import Command

MIS_SQUAREOFF, EOD = "MIS_SQUAREOFF", "EOD"
CLOSE, KEEP = "CLOSE", "KEEP"
INTRADAY = "INTRADAY"
SWEEP_ENDS = time(15, 45)   # a sweep not run by then is missed, not run after hours


def sweep_at(moment: datetime, mis_time: time, eod_time: time) -> str | None:
    """The sweep a timer (or `pinewire eod run --at`) starts at this moment, if any."""
    t = moment.astimezone(IST).time()
    if eod_time <= t < SWEEP_ENDS:
        return EOD
    if mis_time <= t < eod_time:
        return MIS_SQUAREOFF
    return None


def decide(kind: str, policy: str, product_type: str, unrealized_paise: int) -> str | None:
    """CLOSE or KEEP an OPEN position; None when this sweep does not concern it."""
    if product_type == INTRADAY:
        return CLOSE
    if kind == MIS_SQUAREOFF:
        return None
    if policy == "close-all":
        return CLOSE
    if policy == "hold":
        return KEEP
    return KEEP if unrealized_paise > 0 else CLOSE


REASONS = {EOD: "EOD", MIS_SQUAREOFF: "MIS"}   # a sweep's close, as its exit reason


def at_sweep(kind: str, policy: str, pos, last_paise: int | None) -> tuple[str | None, int, int]:
    """An OPEN position at a sweep: (decide()'s answer, the price it is marked at — the last,
    else its entry —, its unrealized P&L there)."""
    last = last_paise or round(pos.entry_price)
    unrealized = risk_pnl(pos.to_dict(), last)[1]
    return decide(kind, policy, pos.product_type, unrealized), last, unrealized


def parse_holidays(text: str | None) -> frozenset[date]:
    """PINEWIRE_EXTRA_HOLIDAYS: comma-separated ISO dates."""
    days = set()
    for part in filter(None, (p.strip() for p in (text or "").split(","))):
        try:
            days.add(date.fromisoformat(part))
        except ValueError:
            raise ValueError(f"PINEWIRE_EXTRA_HOLIDAYS: {part!r} is not a YYYY-MM-DD "
                             "date") from None
    return frozenset(days)


def sweep_commands(kind: str, at_ms: int, partitions: int) -> list[Command]:
    """One command per partition: whichever worker owns a partition sweeps it, once a day."""
    return [Command(command_id=f"{kind}:{at_ms}:{p}", kind=kind, at_ms=at_ms, partition=p)
            for p in range(partitions)]
