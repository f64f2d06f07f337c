"""pinewire backtest: one run, or a parameter sweep (--grid) with an optional walk-forward split
(--train, --test); the text report, --json and the HTML report (--html)."""
from __future__ import annotations

import json
from dataclasses import asdict
from datetime import date
from pathlib import Path

from agents.strategies.base import StrategyError
from agents.strategies.shipped import STRATEGIES
from pinewire import backtest, backtest_grid, backtest_html
from pinewire.backtest_figures import RANKS
from pinewire.verbs.common import progress, user_flag
from pinewire.verbs.links import my_link
from pinewire.verbs.strategies import account_candles
from schemas.money import paise_to_rupees, signed_rupees
from schemas.settings import settings
from webapp import catalog, links


def _row_line(k: int, params: dict, f: dict) -> str:
    return (f"{k:>3}  {json.dumps(params):<40} P&L {signed_rupees(f['pnl_paise']):>13}  "
            f"Sharpe {str(f['sharpe']):>6}  max DD {paise_to_rupees(f['max_drawdown_paise']):>10}"
            f"  PF {str(f['profit_factor']):>5}  closed {f['closed']}")


def _sweep(a, s: backtest.Setup, data: backtest.Data) -> tuple[dict, dict, backtest.Data]:
    """Ranks the grid (on --train, tested on --test, when given): the sweep's table for the
    report, and the best combination's parameters and the data its report is drawn on."""
    combos, refused = backtest_grid.valid(s, backtest_grid.parse_grid(a.grid))
    for line in refused:
        print(f"skipped {line}")
    if not combos:
        raise StrategyError("no combination of the grid is one the strategy accepts")
    if a.train or a.test:
        if not (a.train and a.test):
            raise backtest_grid.GridError("a walk-forward needs both --train and --test")
        train, test = backtest_grid.parse_period(a.train), backtest_grid.parse_period(a.test)
        wf = backtest_grid.walk_forward(s, data, combos, a.rank, train, test, a.top,
                                        a.workers, progress)
        print(f"walk-forward: {len(combos)} combinations ranked by {a.rank} on "
              f"{a.train}, the best {len(wf.chosen)} tested on {a.test}:")
        for k, (trained, tested) in enumerate(wf.chosen, 1):
            print(_row_line(k, trained.params, trained.figures) + "   train")
            print(_row_line(k, tested.params, tested.figures) + "   test")
        rows = [{"params": tr.params, "train": tr.figures, "test": te.figures}
                for tr, te in wf.chosen]
        table = {"walk_forward": {"train": a.train, "test": a.test, "rows": rows},
                 "rank": a.rank, "combinations": len(combos)}
        return table, wf.chosen[0][0].params, data.between(*test)
    rows = backtest_grid.ranked(backtest_grid.sweep(s, data, combos, a.workers, progress),
                                a.rank)
    print(f"{len(combos)} combinations ranked by {a.rank}; the best {min(a.top, len(rows))}:")
    for k, row in enumerate(rows[:a.top], 1):
        print(_row_line(k, row.params, row.figures))
    table = {"rank": a.rank, "combinations": len(combos),
             "rows": [asdict(r) for r in rows[:a.top]]}
    return table, rows[0].params, data


def _history(a) -> backtest.Data:
    """--account's candles over --from..--to (cached on disk after the first run)."""
    if not (a.start and a.end):
        raise StrategyError("with --account give --from YYYY-MM-DD and --to YYYY-MM-DD")
    try:
        first, last = date.fromisoformat(a.start), date.fromisoformat(a.end)
    except ValueError as exc:
        raise StrategyError(f"--from and --to are dates, YYYY-MM-DD ({exc})") from None
    candles = account_candles(a, settings(), first, last)
    print(f"{len(candles)} candles from the account's broker (cache: "
          f"{Path(settings().data_dir) / 'history'})")
    return backtest.Data(None, candles, sorted({c.token for c in candles}))


def cmd_backtest(a) -> int:
    try:
        params = json.loads(a.params)
    except json.JSONDecodeError as exc:
        raise StrategyError(f"--params is not JSON ({exc.msg})") from None
    if (a.train or a.test) and not a.grid:
        raise backtest_grid.GridError("--train and --test go with --grid")
    if a.grid and a.through_pipeline:
        raise backtest_grid.GridError("--grid runs in-process only")
    link, cat = my_link(a, a.link), catalog.catalog(settings())
    if a.costs:
        link = {**link, "costs": a.costs}
    data = _history(a) if a.account else \
        backtest.load(cat, Path(a.ticks) if a.ticks else None,
                      Path(a.candles) if a.candles else None)
    s, table = backtest.setup(settings(), link, a.strategy, params, data, cat), None
    if a.grid:
        table, best, data = _sweep(a, s, data)
        s = s.with_params(best)
        print("the best, over the data of its report:")
    result = backtest.result(s, data, backtest.run(settings(), s, data, a.through_pipeline,
                                                   paths=bool(a.html)))
    print(backtest.report(result))
    if a.json:
        Path(a.json).write_text(json.dumps({**result, "sweep": table}, indent=2))
    if a.html:
        Path(a.html).write_text(backtest_html.render(result, data.prices(), table))
        print(f"report: {Path(a.html).resolve()}")
    return 0


def register(sub) -> None:
    bt = sub.add_parser("backtest", help="a strategy and a link's rules over recorded ticks or "
                                         "candles, decided as live trading decides, paper")
    bt.add_argument("--strategy", required=True, choices=sorted(STRATEGIES))
    bt.add_argument("--params", default="{}", help="JSON, as for strategy attach")
    bt.add_argument("--link", required=True, help="the link whose trading and exit rules apply")
    given = bt.add_mutually_exclusive_group(required=True)
    given.add_argument("--ticks", help="CSV: ts, token, ltp (rupees)[, volume]")
    given.add_argument("--candles", help="CSV as for candles load (symbol, timeframe, start, "
                                         "open, high, low, close): each candle taken as four "
                                         "ticks, the stop before the target (README)")
    given.add_argument("--account", help="candles from this account's broker (its historical "
                                         "API, cached on disk), taken as --candles are")
    bt.add_argument("--symbols", help="with --account: comma-separated")
    bt.add_argument("--symbols-file", dest="symbols_file", help="with --account: one a line")
    bt.add_argument("--timeframe", default="1", help="with --account: 1 3 5 15 60 or D")
    bt.add_argument("--from", dest="start", help="with --account: the first day, YYYY-MM-DD")
    bt.add_argument("--to", dest="end", help="with --account: the last day, YYYY-MM-DD")
    bt.add_argument("--json", help="also write the trades and figures to this file")
    bt.add_argument("--html", help="also write the report (charts, figures, trades) as one "
                                   "HTML file")
    bt.add_argument("--through-pipeline", dest="through_pipeline", action="store_true",
                    help="run the agents themselves on Kafka (a worker of its own, a candle at "
                         "a time: slow) instead of the same decisions in this process")
    bt.add_argument("--grid", help="sweep parameters, e.g. 'fast=5..20:5,slow=20..60:10' "
                                   "(low..high:step, a/b/c, or one value); --params gives the "
                                   "others")
    bt.add_argument("--rank", default="net", choices=sorted(RANKS),
                    help="what ranks a sweep's combinations (max_drawdown: the smallest first)")
    bt.add_argument("--top", type=int, default=10, help="combinations shown (walk-forward: "
                                                        "tested)")
    bt.add_argument("--train", help="walk-forward: choose on these days, e.g. 2025-01..2025-09")
    bt.add_argument("--test", help="... and test the choice on these, e.g. 2025-10..2025-12")
    bt.add_argument("--costs", choices=links.COST_PLANS,
                    help="charge each fill by this broker's table (default: the link's)")
    bt.add_argument("--workers", type=int, help="processes for a sweep (default: one a core)")
    user_flag(bt)
    bt.set_defaults(fn=cmd_backtest)
