"""`pinewire backtest`: a strategy and a link's trading and exit rules over recorded ticks or
candles, paper orders, decided by the same functions as live trading.

By default in this process (agents/backtest.py): the ticks in order, no Kafka, no worker.
`--through-pipeline` runs the agents themselves (pinewire/backtest_pipeline.py); both give the
same trades (tests/integration/test_backtest_parity.py): an entry fills at the tick that closed
its candle, an exit at its rule's price. `--grid` sweeps parameters (pinewire/backtest_grid.py);
`--html` writes the report a trader reads (pinewire/backtest_html.py).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from typing import Iterator

from agents import eod
from agents.backtest import DAY_MS, INTRABAR, IST_OFFSET_MS, Backtest, Conventions
from agents.strategies.candles import timeframe_of
from agents.strategies.shipped import make
from connectors.ticks import replay
from connectors.ticks.replay import ReplayTick
from pinewire import backtest_pipeline
from pinewire.backtest_figures import figures
from pinewire.candle_history import load_csv
from schemas import instruments
from schemas.money import paise_to_rupees, signed_rupees
from schemas.records import Candle
from webapp.publish import link_record

EPOCH_ORDINAL = date(1970, 1, 1).toordinal()


def trades(rows: list[dict]) -> list[dict]:
    out = []
    for p in rows:
        if not p["entry_qty"]:
            continue
        net = (p.get("realized_pnl_paise") or 0) - (p.get("fees_paise") or 0)
        out.append({"symbol": p["symbol"], "token": p["token"], "side": p["side"],
                    "quantity": p["entry_qty"],
                    "entry_paise": p["entry_value_paise"] // p["entry_qty"],
                    "exit_paise": p["exit_value_paise"] // p["exit_qty"] if p["exit_qty"] else None,
                    "exit_reason": p.get("exit_reason"), "state": p["state"],
                    "pnl_paise": net if p["state"] == "CLOSED" else None,
                    "opened_at_ms": p["created_at_ms"], "closed_at_ms": p.get("closed_at_ms")})
    return out


@dataclass(frozen=True)
class Data:
    """What a backtest runs over: ticks, or candles without their ticks (INTRABAR)."""
    ticks: list[ReplayTick] | None
    candles: list[Candle] | None
    tokens: list[str]

    @property
    def count(self) -> int:
        """Ticks, a candle counting as its four."""
        return len(self.ticks) if self.ticks is not None else 4 * len(self.candles)

    def _times(self) -> Iterator[int]:
        return (t.ts_ms for t in self.ticks) if self.ticks is not None else \
            (c.start_ms for c in self.candles)

    def days(self) -> list[date]:
        """The IST days the data has prices on."""
        numbers = {(ms + IST_OFFSET_MS) // DAY_MS for ms in self._times()}
        return [date.fromordinal(EPOCH_ORDINAL + n) for n in sorted(numbers)]

    @property
    def start_ms(self) -> int:
        return min(self._times(), default=0)

    @property
    def end_ms(self) -> int:
        return max(self._times(), default=0)

    def between(self, first: date, last: date) -> "Data":
        """Only what falls on the IST days first..last, both included."""
        low = (first.toordinal() - EPOCH_ORDINAL) * DAY_MS - IST_OFFSET_MS
        high = (last.toordinal() + 1 - EPOCH_ORDINAL) * DAY_MS - IST_OFFSET_MS
        if self.ticks is not None:
            return Data([t for t in self.ticks if low <= t.ts_ms < high], None, self.tokens)
        return Data(None, [c for c in self.candles if low <= c.start_ms < high], self.tokens)

    def prices(self, points: int = 1200) -> dict[str, list[tuple[int, int]]]:
        """Each instrument's prices for a chart: the last of each of about `points` equal
        stretches of its time."""
        series: dict[str, list[tuple[int, int]]] = {}
        rows = ((t.token, t.ts_ms, t.ltp_paise) for t in self.ticks) if self.ticks is not None \
            else ((c.token, c.end_ms - 1, c.close) for c in self.candles)
        for token, at, price in rows:
            series.setdefault(token, []).append((at, price))
        out = {}
        for token, values in series.items():
            step = max(1, (values[-1][0] - values[0][0]) // points)
            kept: dict[int, tuple[int, int]] = {}
            for at, price in values:
                kept[(at - values[0][0]) // step] = (at, price)
            out[token] = list(kept.values())
        return out


def load(catalog, ticks_path: Path | None = None, candles_path: Path | None = None) -> Data:
    if candles_path is not None:
        candles = load_csv(candles_path, catalog)
        return Data(None, candles, sorted({c.token for c in candles}))
    ticks = list(replay.read(ticks_path))
    return Data(ticks, None, sorted({t.token for t in ticks}))


@dataclass(frozen=True)
class Setup:
    """A backtest's link (as the links topic carries it, paper), strategy and conventions."""
    link: dict
    name: str
    attachment: dict
    conventions: Conventions

    def with_params(self, params: dict) -> "Setup":
        return replace(self, attachment={**self.attachment, "params": params})

    @property
    def params(self) -> dict:
        return self.attachment["params"]


def setup(settings, link: dict, name: str, params: dict, data: Data, catalog) -> Setup:
    strategy = make(name, "0", params)          # a parameter it refuses, refused here
    tokens = data.tokens
    attachment = {"id": "backtest", "link_id": link["id"], "name": name, "params": params,
                  "timeframe": timeframe_of(strategy.params.timeframe), "tokens": tokens,
                  "symbols": [_symbol(catalog, t) for t in tokens], "enabled": True,
                  "version": 1, "user_id": link["user_id"]}
    paper = {**link, "paper": True, "enabled": True, "account_id": None, "version": 1}
    conventions = Conventions(dedupe_window_s=settings.own_id_dedupe_window_s,
                              mis_squareoff=settings.mis_squareoff, eod_time=settings.eod_time,
                              extra_holidays=eod.parse_holidays(settings.extra_holidays))
    return Setup(paper, name, attachment, conventions)


def in_process(s: Setup, data: Data, paths: bool = False) -> list[dict]:
    """The trades, from the in-process engine (agents/backtest.py); with paths, each with its
    levels as they moved and its fills ("path", as the position chart reads them)."""
    engine = Backtest(link_record(s.link).asdict(), s.attachment, s.conventions, paths=paths)
    done = engine.run(data.ticks) if data.ticks is not None else engine.run_candles(data.candles)
    rows = [p.to_dict() for p in done]
    found = trades(rows)
    if paths:
        for trade, row in zip(found, (r for r in rows if r["entry_qty"])):
            trade["path"] = engine.paths[row["id"]]
    return found


def result(s: Setup, data: Data, found: list[dict]) -> dict:
    """What the report, --json and --html show."""
    return {"strategy": s.name, "params": s.params, "link": s.link["name"],
            "ticks": data.count, "intrabar": INTRABAR if data.ticks is None else None,
            "instruments": len(data.tokens),
            "symbols": dict(zip(s.attachment["tokens"], s.attachment["symbols"])),
            "trades": found, **figures(found, data.days(), data.end_ms)}


def run(settings, s: Setup, data: Data, through_pipeline: bool = False,
        paths: bool = False) -> list[dict]:
    """The trades: in this process (with paths, each trade's), or through the agents (ticks
    only: with candles the order of a candle's low and high follows the position it holds,
    INTRABAR)."""
    if not through_pipeline:
        return in_process(s, data, paths)
    if data.ticks is None:
        raise ValueError("--candles runs in-process only: the order of a candle's low and "
                         "high follows the position it holds (--through-pipeline needs ticks)")
    return trades(backtest_pipeline.run(settings, s.link, s.attachment, data.ticks,
                                        s.conventions))


def _symbol(catalog, token: str) -> str:
    inst = instruments.by_token(token) or \
        (catalog.current().by_token(token) if hasattr(catalog, "current") else None)
    return f"{inst.exchange}:{inst.symbol}" if inst else f"NSE:{token}"


def report(result: dict) -> str:
    lines = [f"{result['strategy']} {json.dumps(result['params'])} on link {result['link']}: "
             f"{result['ticks']} ticks, {result['instruments']} instrument(s)"]
    if result.get("intrabar"):
        lines.append(f"  {result['intrabar']}")
    for t in result["trades"]:
        exit_ = f"{paise_to_rupees(t['exit_paise'])} {t['exit_reason']}" if t["exit_paise"] \
            else "still open"
        pnl = signed_rupees(t["pnl_paise"]) if t["pnl_paise"] is not None else "-"
        lines.append(f"  {t['symbol']:<16} {t['side']:<5} {t['quantity']:>6} "
                     f"{paise_to_rupees(t['entry_paise']):>10} -> {exit_:<18} P&L {pnl}")
    lines.append(f"trades {len(result['trades'])}, closed {result['closed']}, won "
                 f"{result['wins']}; P&L {signed_rupees(result['pnl_paise'])}, max drawdown "
                 f"{paise_to_rupees(result['max_drawdown_paise'])}")
    return "\n".join(lines)
