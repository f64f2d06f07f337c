"""Parameter sweeps for `pinewire backtest --grid`: every combination of the grid, each an
in-process backtest, run in a pool of processes (one per core unless told), ranked by a figure
of pinewire/backtest_figures.py. With a walk-forward split (--train, --test) the grid runs on
the training days, and the best combinations found there run again on the test days, which
they have not seen: the test's figures are the out-of-sample result.

The data is read once, before the pool starts; the pool's processes are forked from this one
and share it. A test window starts with no candles behind it: a strategy warms up on its own
first candles there, as it would on a first day of live trading.
"""
from __future__ import annotations

import itertools
import multiprocessing
import os
import re
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from typing import Callable

from agents.strategies.base import StrategyError
from agents.strategies.shipped import make
from pinewire.backtest import Data, Setup, in_process
from pinewire.backtest_figures import RANKS, figures, rank_value

MAX_COMBINATIONS = 10_000
_AXIS = re.compile(r"^\s*(?P<name>[a-z_][a-z0-9_]*)\s*=\s*(?P<values>[^=]+?)\s*$")
_RANGE = re.compile(r"^(?P<low>[-\d.]+)\.\.(?P<high>[-\d.]+)(?::(?P<step>[\d.]+))?$")
_PERIOD = re.compile(r"^(\d{4}-\d{2}(?:-\d{2})?)\.\.(\d{4}-\d{2}(?:-\d{2})?)$")


class GridError(ValueError):
    """A grid or period that cannot be read: the message says what to write instead."""


def _number(text: str) -> int | float:
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise GridError(f"{text!r} is not a number") from None
    return int(value) if value == value.to_integral_value() else float(value)


def _axis_values(text: str) -> list:
    """'5..20:5' (both ends included, step 1 unless given), '5/8/13' (a list), or one value."""
    found = _RANGE.match(text)
    if found is None:
        return [_number(v) for v in text.split("/")]
    low, high = Decimal(found["low"]), Decimal(found["high"])
    step = Decimal(found["step"] or "1")
    if step <= 0 or high < low:
        raise GridError(f"{text!r}: write low..high:step with low ≤ high and a step above 0")
    count = int((high - low) / step) + 1
    if count > MAX_COMBINATIONS:
        raise GridError(f"{text!r} has {count} values; at most {MAX_COMBINATIONS}")
    return [_number(str(low + k * step)) for k in range(count)]


def parse_grid(spec: str) -> list[dict]:
    """'fast=5..20:5,slow=20..60:10' → every combination, as parameter dicts."""
    axes: dict[str, list] = {}
    for part in spec.split(","):
        found = _AXIS.match(part)
        if found is None:
            raise GridError(f"{part.strip()!r}: write name=low..high:step, name=a/b/c or "
                            "name=value, separated by commas (fast=5..20:5,slow=20..60:10)")
        if found["name"] in axes:
            raise GridError(f"{found['name']} is given twice")
        axes[found["name"]] = _axis_values(found["values"])
    count = 1
    for values in axes.values():
        count *= len(values)
    if count > MAX_COMBINATIONS:
        raise GridError(f"the grid has {count} combinations; at most {MAX_COMBINATIONS}")
    return [dict(zip(axes, combo)) for combo in itertools.product(*axes.values())]


def parse_period(text: str) -> tuple[date, date]:
    """'2025-01..2025-09' (whole months) or '2025-01-01..2025-09-30': (first, last day)."""
    found = _PERIOD.match(text.strip())
    if found is None:
        raise GridError(f"{text!r}: write YYYY-MM..YYYY-MM or YYYY-MM-DD..YYYY-MM-DD")
    try:
        first = date.fromisoformat(found[1] if len(found[1]) == 10 else found[1] + "-01")
        last = date.fromisoformat(found[2]) if len(found[2]) == 10 else \
            _month_end(date.fromisoformat(found[2] + "-01"))
    except ValueError as exc:
        raise GridError(f"{text!r}: {exc}") from None
    if last < first:
        raise GridError(f"{text!r} ends before it starts")
    return first, last


def _month_end(first: date) -> date:
    return (first.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)


@dataclass(frozen=True)
class Row:
    params: dict
    figures: dict


def valid(s: Setup, combos: list[dict]) -> tuple[list[dict], list[str]]:
    """The combinations the strategy accepts, and why it refuses the others."""
    good, refused = [], []
    for params in combos:
        try:
            make(s.name, "0", {**s.params, **params})
            good.append({**s.params, **params})
        except StrategyError as exc:
            refused.append(f"{params}: {exc}")
    return good, refused


# what the forked processes read: the setup, the data, and its days and end (read once, not
# from every tick again for each combination)
_SHARED: tuple[Setup, Data, list, int] | None = None


def _one(params: dict) -> Row:
    s, data, days, end_ms = _SHARED
    return Row(params, figures(in_process(s.with_params(params), data), days, end_ms))


def sweep(s: Setup, data: Data, combos: list[dict], workers: int | None = None,
          progress: Callable[[int, int], None] | None = None) -> list[Row]:
    """Each combination's figures over data, in the order given."""
    global _SHARED
    _SHARED = (s, data, data.days(), data.end_ms)
    workers = max(1, min(workers or len(os.sched_getaffinity(0)), len(combos)))
    rows: list[Row] = []
    try:
        if workers == 1:
            for row in map(_one, combos):
                rows.append(row)
                if progress:
                    progress(len(rows), len(combos))
            return rows
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork")) as pool:
            for row in pool.map(_one, combos):
                rows.append(row)
                if progress:
                    progress(len(rows), len(combos))
        return rows
    finally:
        _SHARED = None


def ranked(rows: list[Row], metric: str) -> list[Row]:
    if metric not in RANKS:
        raise GridError(f"rank by one of {', '.join(RANKS)}, not {metric!r}")
    return sorted(rows, key=lambda r: -rank_value(r.figures, metric))


@dataclass(frozen=True)
class WalkForward:
    train: tuple[date, date]
    test: tuple[date, date]
    chosen: list[tuple[Row, Row]]     # the best in training, each with its test row


def walk_forward(s: Setup, data: Data, combos: list[dict], metric: str,
                 train: tuple[date, date], test: tuple[date, date], top: int = 5,
                 workers: int | None = None, progress=None) -> WalkForward:
    if not train[1] < test[0]:
        raise GridError("the test period must start after the training period ends")
    best = ranked(sweep(s, data.between(*train), combos, workers, progress), metric)[:top]
    tested = sweep(s, data.between(*test), [r.params for r in best], workers)
    return WalkForward(train, test, list(zip(best, tested)))
