"""The in-process backtest's speed (agents/backtest.py), against a plain loop that only parses the
same ticks (the floor, measured in the same run).

1. One instrument, a year of 1-minute candles (2025's NSE trading days, 375 candles a day, four
   ticks a candle: open, the extreme against the candle's direction, the other, close), from a
   CSV: sma_cross 5/13 on a link with a stop, a target and a trailing stop. Goal: ≤ 10 s.
2. 50 instruments × that year, one backtest per instrument in a pool of processes (one per
   core). Goal: ≤ 5 minutes.
3. A sweep of 50 combinations (fast 5..25:5 × slow 30..120:10) over the year of (1), with a
   walk-forward split (chosen on January–September, the best 5 tested on October–December),
   in a pool of processes. Goal: within 1.5 × the ideal (50 × the one backtest of (1) over the
   cores, measured in the same run): the pool's overhead, not the backtests, is what it tells.
Writes bench/results/backtest.json.
"""
from __future__ import annotations

import argparse
import os
import random
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import date, datetime, timedelta
from pathlib import Path

from agents.backtest import Backtest, Conventions
from agents.eod import is_trading_day
from bench.stack import Result
from connectors.ticks import replay
from schemas.market_time import IST

LINK = dict(link_id="bench", name="bench", strategy="sma_cross", version=1, enabled=True,
            side="both", reverse=False, max_entries=1, quantity=1, sl_pct="1", target_pct="2",
            trail_pct="0.5", trail_activation_pct="0.5", slippage_bps=0, paper=True)
PARAMS = {"fast": 5, "slow": 13, "timeframe": 1}


def write_year(path: Path, token: str, seed: int, days: int | None = None) -> int:
    """A year of 1-minute candles as ticks (or its first `days` trading days), a seeded walk:
    the number of ticks written."""
    rnd, price, count = random.Random(seed), 100_000, 0
    day = date(2025, 1, 1)
    with path.open("w") as out:
        out.write("ts_ms,token,ltp_paise\n")
        while day.year == 2025 and days != 0:
            if is_trading_day(day):
                days = days - 1 if days else days
                minute = int(datetime(day.year, day.month, day.day, 9, 15, tzinfo=IST)
                             .timestamp() * 1000)
                for k in range(375):
                    close = max(1_000, price + rnd.randint(-120, 120))
                    up, reach = close >= price, rnd.randint(0, 60)
                    low, high = min(price, close) - reach, max(price, close) + reach
                    for j, p in enumerate((price, low if up else high, high if up else low,
                                           close)):
                        out.write(f"{minute + k * 60_000 + j * 15_000},{token},{p}\n")
                    count, price = count + 4, close
            day += timedelta(days=1)
    return count


def parse_only(path: Path) -> tuple[float, int]:
    started, n = time.perf_counter(), 0
    for tick in replay.read(path):
        n += tick.ltp_paise > 0
    return time.perf_counter() - started, n


def backtest(path: Path) -> tuple[float, int]:
    """Seconds to read the CSV and run the backtest, and its trades."""
    token = path.stem
    attachment = {"name": "sma_cross", "params": PARAMS, "tokens": [token],
                  "symbols": [f"NSE:B{token}-EQ"]}
    started = time.perf_counter()
    done = Backtest(LINK, attachment, Conventions()).run(replay.read(path))
    return time.perf_counter() - started, sum(1 for p in done if p.entry_qty)


def _write(args: tuple[str, int]) -> int:
    path = Path(args[0])
    return write_year(path, path.stem, args[1])


def main() -> dict:
    args = argparse.ArgumentParser()
    args.add_argument("--instruments", type=int, default=50)
    a = args.parse_args()
    res = Result("backtest", instruments=a.instruments)
    with tempfile.TemporaryDirectory() as work:
        path = Path(work) / "700001.csv"
        ticks = write_year(path, "700001", 1)
        floor, _ = min(parse_only(path) for _ in range(3))
        seconds, trades = backtest(path)
        res.figure("ticks (one instrument, a year of 1-minute candles)", ticks)
        res.figure("parse only (s, the floor)", round(floor, 2))
        res.figure("backtest (s)", round(seconds, 2))
        res.figure("trades", trades)
        res.figure("ticks/s", int(ticks / seconds))
        res.goal("one instrument, a year (s)", round(seconds, 2), "≤ 10", seconds <= 10,
                 parse_only_s=round(floor, 2), ratio=round(seconds / floor, 1))

        cores = len(os.sched_getaffinity(0))
        jobs = [(str(Path(work) / f"{700_100 + i}.csv"), 100 + i) for i in range(a.instruments)]
        with ProcessPoolExecutor(cores) as pool:
            written = sum(pool.map(_write, jobs))
            started = time.perf_counter()
            done = list(pool.map(backtest, [Path(p) for p, _ in jobs]))
            wall = time.perf_counter() - started
        res.figure(f"{a.instruments} instruments: wall s", round(wall, 1))
        res.figure(f"{a.instruments} instruments: backtest s, summed over {cores} processes",
                   round(sum(s for s, _ in done), 1))
        res.figure(f"{a.instruments} instruments: ticks/s", int(written / wall))
        res.goal(f"{a.instruments} instruments × a year on {cores} cores (s)", round(wall, 1),
                 "≤ 300", wall <= 300, one_instrument_s=round(seconds, 2))
        sweep_s = walk_forward(path)
        ideal = seconds * 50 / cores
        res.figure("sweep of 50 combinations, walk-forward: wall s", round(sweep_s, 1))
        res.goal("sweep of 50 × a year ÷ (50 × one backtest ÷ cores)", round(sweep_s / ideal, 2),
                 "≤ 1.5", sweep_s <= 1.5 * ideal, one_backtest_s=round(seconds, 2), cores=cores)
    return res.write()


def walk_forward(path: Path) -> float:
    """Seconds for `pinewire backtest --grid` over the year with a walk-forward split, from
    reading the ticks to the best combination's test figures."""
    from pinewire import backtest as bt, backtest_grid as grid
    from schemas.settings import Settings
    from webapp.links import DEFAULTS
    link = {**DEFAULTS, **{k: v for k, v in LINK.items() if k in DEFAULTS}, "id": "bench",
            "name": "bench", "strategy": "sma_cross", "version": 1, "user_id": "bench",
            "account_id": None, "enabled": True}
    started = time.perf_counter()
    data = bt.load(None, path)
    s = bt.setup(Settings(), link, "sma_cross", PARAMS, data, None)
    combos, _ = grid.valid(s, grid.parse_grid("fast=5..25:5,slow=30..120:10"))
    assert len(combos) == 50
    wf = grid.walk_forward(s, data, combos, "net", grid.parse_period("2025-01..2025-09"),
                           grid.parse_period("2025-10..2025-12"), top=5)
    assert len(wf.chosen) == 5
    return time.perf_counter() - started


if __name__ == "__main__":
    main()
