"""The in-process backtest: a link's strategy over recorded ticks, decided by the very functions
the worker calls — the strategy classes, candles, alert_rules (the signal, the risk gate and
sizing, stop-and-reverse), positions and fills, the exit rules, the paper broker's fills and
the end-of-day routine — in one process, in tick order: no Kafka, no worker, no SQL.

Within a tick, the order is the worker's: the live positions on its instrument see it (an exit
on a level fills at the tick that triggered it), then what rests in the paper book on it, then
the candles it closes go to the strategy, whose signals are alerts decided at once (an entry
fills at this tick, the last price, as the executor fills it after the candle closed). The end
of day runs before the first tick at or after its time, at the last prices (the sweep's
timer). Times are the ticks' own.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, time
from typing import Iterable

from agents import alert_rules, eod, fills, positions, risk, signals
from agents.exits import LONG
from agents.positions import LIVE_STATES, Position
from agents.strategies.base import Strategy
from agents.strategies.candles import (PERIODS, CandleBuilder, built_from, last_of_period,
                                       roll_up, timeframe_of)
from agents.strategies.shipped import make
from connectors.paper.broker import PaperBroker, fill_at_once
from connectors.ticks.replay import ReplayTick
from schemas.market_time import IST, SESSION_CLOSE, SESSION_OPEN
from schemas.records import Candle, Fill

ALWAYS_FRESH_MS = 10**12        # a backtest's last price is always the price to fill at
INTRABAR = ("candles only: each is its open at its start, then its low and high (with a LONG "
            "open the low first, with a SHORT the high first: the stop before the target; "
            "flat, the extreme against the candle's direction first) and its close just before "
            "its end")
DAY_MS, IST_OFFSET_MS = 86_400_000, 19_800_000


def _at(day, moment: time) -> int:
    return int(datetime.combine(day, moment, IST).timestamp() * 1000)


def sweeps_of_day(ts_ms: int, c: "Conventions") -> list[tuple[int, str]]:
    """The end-of-day sweeps of the IST day of ts_ms, (at_ms, kind), in time order: none on a
    day that is not a trading day."""
    day = risk.ist_day(ts_ms)
    if not eod.is_trading_day(day, c.extra_holidays):
        return []
    return [(_at(day, c.mis_squareoff), eod.MIS_SQUAREOFF), (_at(day, c.eod_time), eod.EOD)]


def due_sweeps(pending: list[tuple[int, str]], ts_ms: int) -> list[str]:
    """The sweeps a tick at ts_ms finds due (taken from `pending`): each runs before that tick,
    once, unless the tick comes after the sweeps' window (a timer that missed it runs none)."""
    due = []
    while pending and pending[0][0] <= ts_ms:
        kind = pending.pop(0)[1]
        if ts_ms < _at(risk.ist_day(ts_ms), eod.SWEEP_ENDS):
            due.append(kind)
    return due


@dataclass(frozen=True)
class Conventions:
    """What the worker reads from its settings."""
    dedupe_window_s: int = 86_400
    mis_squareoff: time = time(15, 15)
    eod_time: time = time(15, 29)
    eod: bool = True                       # the end-of-day routine runs (the worker's timer)
    extra_holidays: frozenset = frozenset()
    exit_retry: fills.ExitRetry = field(default_factory=fills.ExitRetry)


class Backtest:
    def __init__(self, link: dict, attachment: dict, conventions: Conventions = Conventions(),
                 paths: bool = False):
        """link: the link's settings as the links topic carries them; attachment: the
        strategy's (name, params, tokens, symbols); paths: keep each position's levels as
        they moved and its fills, as the dashboard's position chart reads them (`self.paths`:
        {"levels": [(at, stop, target, best)], "fills": [(at, side, price)]})."""
        self.paths: dict[str, dict] | None = {} if paths else None
        self.link, self.attachment, self.c = {**link, "paper": True}, attachment, conventions
        self.timeframe = timeframe_of(attachment["params"].get("timeframe", 15))
        self.minutes = (built_from(self.timeframe),)
        self.positions: dict[str, Position] = {}
        self.slots: dict[str, str] = {}
        self.watching: dict[str, tuple[str, ...]] = {}   # token -> its live positions' ids
        self.tokens = frozenset(attachment["tokens"])
        self.paper = PaperBroker({}, fill_timeout_ms=ALWAYS_FRESH_MS)
        self.last: dict[str, int] = {}
        self.last_seq: dict[str, int] = {}
        self.seq = -1
        self.now = 0
        self.builders: dict[str, CandleBuilder] = {}
        self.strategies: dict[str, Strategy] = {}
        self.rolling: dict[str, dict | None] = {}
        self.dedupe: dict[str, dict] = {}
        self.quiet: dict[str, tuple[int, int] | None] = {}   # positions.quiet_range of each
        self.exposed: dict[str, Position] = {}   # live, or closed today: what risk counts
        self.day: tuple[int, list[tuple[int, str]]] | None = None   # today, its sweeps due
        self.session = (0, 0)

    # -- the driver ----------------------------------------------------------------------
    def run(self, ticks: Iterable[ReplayTick]) -> list[Position]:
        for t in ticks:
            self.tick(t.token, t.ltp_paise, t.ts_ms, t.volume)
        return sorted(self.positions.values(), key=lambda p: (p.created_at_ms, p.id))

    def run_candles(self, candles: Iterable[Candle]) -> list[Position]:
        """Candles without their ticks, each as four ticks (INTRABAR): the order of its low
        and high is chosen after its open, when what it holds is known."""
        for c in sorted(candles, key=lambda c: (c.start_ms, c.token)):
            self.tick(c.token, c.open, c.start_ms)
            held = self.positions.get(self.slots.get(positions.slot_key(self.link["link_id"],
                                                                        c.token), ""))
            side = held.side if held is not None and held.state in LIVE_STATES else None
            low_first = side == LONG or side is None and c.close >= c.open
            third = (c.end_ms - c.start_ms) // 3
            for at, price in ((c.start_ms + third, c.low if low_first else c.high),
                              (c.start_ms + 2 * third, c.high if low_first else c.low),
                              (c.end_ms - 1, c.close)):
                self.tick(c.token, price, at)
        return sorted(self.positions.values(), key=lambda p: (p.created_at_ms, p.id))

    def tick(self, token: str, price: int, ts_ms: int, volume: int | None = None) -> None:
        self._new_day_and_sweeps(ts_ms)
        self.seq += 1
        self.now, self.last[token], self.last_seq[token] = ts_ms, price, self.seq
        for pid in self.watching.get(token, ()):
            quiet = self.quiet.get(pid)     # the worker's shortcut: a tick that changes nothing
            if quiet is None or not quiet[0] <= price <= quiet[1]:
                self._on_tick(self.positions[pid], price)
        if token in self.paper.book:
            for fill in self.paper.on_tick(token, price, ts_ms):
                self._fill(fill)
        if token in self.tokens and self.session[0] <= ts_ms < self.session[1]:
            builder = self.builders.setdefault(token, CandleBuilder(token, self.minutes))
            for candle in builder.on_tick(price, ts_ms, volume):
                self._candle(candle)

    # -- exits (agents/monitor.py) ---------------------------------------------------------
    def _on_tick(self, pos: Position, price: int) -> None:
        if pos.state != positions.OPEN:
            return
        changed, decision, _verdict = positions.on_tick(pos, price, self.now, self.seq)
        if changed is None:
            return
        self._store(changed)
        if decision is not None:
            if changed.entry_open:
                for fill in self.paper.cancel(pos.token, changed.entry_order_id, self.now):
                    self._fill(fill)
            self._order(changed, "EXIT")

    # -- candles and signals (agents/strategy_agent.py) -----------------------------------
    def _candle(self, candle: Candle) -> None:
        strategy = self.strategies.get(candle.token)
        if strategy is None:
            strategy = self.strategies[candle.token] = make(
                self.attachment["name"], candle.token, self.attachment["params"])
        if candle.timeframe == self.timeframe:
            for signal in strategy.on_candle(candle):
                self.alert(alert_rules.of_signal(self.link, self.attachment, signal,
                                                 candle.timeframe, self.c.dedupe_window_s, 1, 1))
        if candle.timeframe == "D":
            for period in PERIODS:
                key = f"{candle.token}|{period}"
                last = last_of_period(risk.ist_day(candle.start_ms), period, self._trading_day)
                self.rolling[key], closed = roll_up(self.rolling.get(key), candle, period, last)
                for rolled in closed:
                    self._candle(rolled)

    # -- alerts (agents/pipeline.handle_alert) ---------------------------------------------
    def alert(self, alert) -> alert_rules.Decided:
        seen = self.dedupe.get(alert.dedupe_key)
        duplicate = signals.duplicate_of(seen, alert.id, alert.received_at_ms,
                                         alert.dedupe_window_s)
        live = self.positions.get(self.slots.get(positions.slot_key(alert.link_id,
                                                                    alert.token), ""))
        decided = alert_rules.decide(alert, self.link, live, self._book(), bot_running=True,
                                     duplicate=duplicate, now_ms=self.now, partition=0)
        if duplicate is None:
            self.dedupe[alert.dedupe_key] = {"alert_id": alert.id, "at_ms": alert.received_at_ms}
        if decided.pos is not None:
            self._store(decided.pos)
            self._order(decided.pos, decided.purpose, alert.id)
        return decided

    def _book(self) -> alert_rules.Book:
        def positions_of(link_id=None, account_id=None):
            return [p._asdict() for p in self.exposed.values()
                    if link_id is None or p.link_id == link_id]
        return alert_rules.Book(positions_of, self.last.get)

    # -- orders and fills (the paper broker, agents/pipeline.apply_fill) ------------------
    def _order(self, pos: Position, purpose: str, alert_id: str | None = None) -> None:
        intent = positions.order_intent(pos, purpose, alert_id, self.now)
        at_once = fill_at_once(self.paper.book, intent, self.now)
        for fill in [at_once] if at_once else \
                self.paper.answer(intent, self.last.get(pos.token), self.now):
            self._fill(fill)

    def _fill(self, fill: Fill) -> None:
        before = self.positions[fill.position_id]
        pos = fills.apply_fill(before, fill_id=fill.fill_id,
                               client_order_id=fill.client_order_id, status=fill.status,
                               quantity=fill.quantity, price_paise=fill.price_paise,
                               text=fill.text, now_ms=fill.at_ms,
                               tick_offset=self.last_seq.get(fill.token),
                               order_filled=fill.order_filled,
                               order_value_paise=fill.order_value_paise,
                               exit_retry=self.c.exit_retry)
        if pos is None:
            return
        self._store(pos)
        if self.paths is not None and fill.status == "FILLED" and fill.quantity:
            self.paths[pos.id]["fills"].append((fill.at_ms, fill.side, fill.price_paise))
        if fills.exit_resent(before, pos):
            self._order(pos, "EXIT")
        if fills.closed_now(before, pos) and positions.reverse_id(pos.id) not in self.positions:
            planned = alert_rules.reverse(pos, self.link, self._book(), bot_running=True,
                                          exit_price=fill.price_paise, partition=0,
                                          now_ms=self.now)
            if planned.pos is not None:
                self._store(planned.pos)
                self._order(planned.pos, "ENTRY", planned.pos.opened_by_alert)

    def _store(self, pos: Position) -> None:
        self.positions[pos.id] = self.exposed[pos.id] = pos
        if self.paths is not None:
            path = self.paths.setdefault(pos.id, {"levels": [], "fills": []})
            levels = (pos.stop, pos.target, pos.best_paise)
            if not path["levels"] or path["levels"][-1][1:] != levels:
                path["levels"].append((self.now, *levels))
        ids = set(self.watching.get(pos.token, ()))
        if pos.state in LIVE_STATES:
            self.slots[pos.slot] = pos.id
            ids.add(pos.id)
            self.quiet[pos.id] = positions.quiet_range(pos)
        else:
            ids.discard(pos.id)
            self.quiet.pop(pos.id, None)
            if self.slots.get(pos.slot) == pos.id:
                del self.slots[pos.slot]
        self.watching[pos.token] = tuple(sorted(ids))

    # -- the end of the day (agents/control.sweep) -----------------------------------------
    def _trading_day(self, day) -> bool:
        return eod.is_trading_day(day, self.c.extra_holidays)

    def _new_day_and_sweeps(self, ts_ms: int) -> None:
        """On a new IST day, positions closed before it count towards no limit; the sweeps
        whose time has come run before this tick."""
        day = (ts_ms + IST_OFFSET_MS) // DAY_MS
        if self.day is None or self.day[0] != day:
            self.exposed = {pid: p for pid, p in self.exposed.items()
                            if p.state in LIVE_STATES}
            self.day = (day, sweeps_of_day(ts_ms, self.c) if self.c.eod else [])
            today = risk.ist_day(ts_ms)      # the session: in_session's, as bounds of the day
            self.session = (_at(today, SESSION_OPEN), _at(today, SESSION_CLOSE))
        for kind in due_sweeps(self.day[1], ts_ms):
            self._sweep(kind)

    def _sweep(self, kind: str) -> None:
        for pos in sorted((p for p in self.positions.values() if p.state == positions.OPEN),
                          key=lambda p: p.id):
            decision, last, _ = eod.at_sweep(kind, self.link.get("eod", "close-losers"), pos,
                                             self.last.get(pos.token))
            if decision == eod.CLOSE:
                closing = positions.begin_exit(pos, eod.REASONS[kind], self.now, price_paise=last)
                self._store(closing)
                self._order(closing, "EXIT")
