"""What a backtest's trades come to, computed from them alone (pure): the figures a trader
ranks parameters by, the equity curve and its drawdown, and P&L per month.

The conventions are CONVENTIONS, printed in the report.
"""
from __future__ import annotations

import math
from datetime import date, datetime

from schemas.market_time import IST, SESSION_OPEN
from webapp.pnl import max_drawdown

SESSION_MS = (6 * 60 + 15) * 60_000     # 09:15 to 15:30
CONVENTIONS = (
    "P&L is net of charges, counted when a trade closes; a trade still open at the end of the "
    "data counts among the trades and in exposure, not in P&L. Sharpe: the mean of the P&L of "
    "each trading day in the data (0 on a day without a close) over its standard deviation, "
    "times √252; it needs no capital figure. Profit factor: gross profit over gross loss (none "
    "without a losing trade). Exposure: the share of the data's session time (09:15–15:30 IST "
    "of its trading days) in which a position was held.")
RANKS = {   # a metric, and whether more of it is better
    "net": True, "sharpe": True, "max_drawdown": False, "profit_factor": True}


def closed_in_order(trades: list[dict]) -> list[dict]:
    return sorted((t for t in trades if t["pnl_paise"] is not None),
                  key=lambda t: (t["closed_at_ms"] or 0, t["opened_at_ms"]))


def _day(ms: int) -> date:
    return datetime.fromtimestamp(ms / 1000, IST).date()


def sharpe(trades: list[dict], days: list[date]) -> float | None:
    if len(days) < 2:
        return None
    per_day = dict.fromkeys(days, 0)
    for t in closed_in_order(trades):
        day = _day(t["closed_at_ms"])
        per_day[day] = per_day.get(day, 0) + t["pnl_paise"]
    values = list(per_day.values())
    mean = sum(values) / len(values)
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))
    return round(mean / sd * math.sqrt(252), 2) if sd else None


def _session(day: date) -> tuple[int, int]:
    start = int(datetime.combine(day, SESSION_OPEN, IST).timestamp() * 1000)
    return start, start + SESSION_MS


def exposure_pct(trades: list[dict], days: list[date], end_ms: int) -> float:
    """Session time in which some position was held (the union of the trades' open spans,
    each cut to the sessions of the data's days) over the data's session time."""
    spans = sorted((t["opened_at_ms"], t["closed_at_ms"] or end_ms) for t in trades)
    merged: list[list[int]] = []
    for start, stop in spans:
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], stop)
        else:
            merged.append([start, stop])
    held, k = 0, 0
    for day in days:
        open_ms, close_ms = _session(day)
        while k < len(merged) and merged[k][1] <= open_ms:
            k += 1
        j = k
        while j < len(merged) and merged[j][0] < close_ms:
            held += min(merged[j][1], close_ms) - max(merged[j][0], open_ms)
            j += 1
    total = SESSION_MS * len(days)
    return round(100 * held / total, 1) if total else 0.0


def figures(trades: list[dict], days: list[date], end_ms: int) -> dict:
    closed = [t["pnl_paise"] for t in closed_in_order(trades)]
    profit = sum(p for p in closed if p > 0)
    loss = -sum(p for p in closed if p < 0)
    wins = sum(1 for p in closed if p > 0)
    return {"trade_count": len(trades), "closed": len(closed), "wins": wins,
            "win_rate_pct": round(100 * wins / len(closed), 1) if closed else None,
            "pnl_paise": sum(closed), "gross_profit_paise": profit, "gross_loss_paise": loss,
            "profit_factor": round(profit / loss, 2) if loss else None,
            "max_drawdown_paise": max_drawdown(closed), "sharpe": sharpe(trades, days),
            "exposure_pct": exposure_pct(trades, days, end_ms)}


def rank_value(found: dict, metric: str) -> float:
    """The figure a sweep sorts by, as a number where more is better (a missing Sharpe is the
    worst; a profit factor without losses, the best if it made money)."""
    if metric == "net":
        return found["pnl_paise"]
    if metric == "max_drawdown":
        return -found["max_drawdown_paise"]
    if metric == "sharpe":
        return found["sharpe"] if found["sharpe"] is not None else -math.inf
    if metric == "profit_factor":
        if found["profit_factor"] is None:
            return math.inf if found["pnl_paise"] > 0 else -math.inf
        return found["profit_factor"]
    raise ValueError(f"rank by one of {', '.join(RANKS)}, not {metric!r}")


def equity(trades: list[dict]) -> list[tuple[int, int]]:
    """(close time, running P&L) after each closed trade."""
    total, out = 0, []
    for t in closed_in_order(trades):
        total += t["pnl_paise"]
        out.append((t["closed_at_ms"], total))
    return out


def drawdowns(curve: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """(time, how far the running P&L is below its highest so far, 0 or less)."""
    high, out = 0, []
    for at, total in curve:
        high = max(high, total)
        out.append((at, total - high))
    return out


def by_month(trades: list[dict]) -> list[tuple[str, int, int]]:
    """(YYYY-MM, closed trades, P&L) for each month with a close, in order."""
    months: dict[str, list[int]] = {}
    for t in closed_in_order(trades):
        month = _day(t["closed_at_ms"]).strftime("%Y-%m")
        counts = months.setdefault(month, [0, 0])
        counts[0], counts[1] = counts[0] + 1, counts[1] + t["pnl_paise"]
    return [(m, n, pnl) for m, (n, pnl) in months.items()]
