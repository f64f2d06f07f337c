"""Strategies on links and the universes they scan: strategy attach|detach|list,
universe add|list, candles load."""
from __future__ import annotations

import asyncio
import csv
import json
from datetime import datetime, timedelta
from pathlib import Path

from agents.strategies.base import StrategyError
from agents.strategies.shipped import STRATEGIES
from pinewire.verbs.common import engine, me, progress, publish, user_flag
from pinewire.verbs.links import my_link
from schemas.market_time import IST
from schemas.settings import settings
from webapp import catalog, strategies


def _symbols(a) -> list[str] | None:
    if a.symbols_file:
        return Path(a.symbols_file).read_text().replace("\n", ",").split(",")
    return a.symbols.split(",") if a.symbols else None


def cmd_strategy_attach(a) -> int:
    link = my_link(a, a.link)
    try:
        params = json.loads(a.params)
    except json.JSONDecodeError as exc:
        raise StrategyError(f"--params is not JSON ({exc.msg}); e.g. '{{\"fast\": 20}}'") \
            from None
    row = strategies.attach(engine(), catalog.catalog(settings()), link, name=a.name,
                            params=params, symbols=_symbols(a), universe_name=a.universe)
    publish("the strategy", strategies=[row])
    frame = {"D": "daily", "W": "weekly", "M": "monthly"}.get(row["timeframe"],
                                                               f"{row['timeframe']}-minute")
    print(f"{row['name']} attached to link {link['name']} (version {row['version']}): "
          f"{len(row['tokens'])} instrument(s), {frame} candles")
    return 0


def cmd_strategy_detach(a) -> int:
    link = my_link(a, a.link)
    row = strategies.detach(engine(), link)
    if row is None:
        raise StrategyError(f"link {link['name']} has no strategy attached")
    publish("the change", strategies=[row])
    print(f"{row['name']} detached from link {link['name']}")
    return 0


def cmd_strategy_list(a) -> int:
    rows = strategies.attachments(engine(), me(a)["id"])
    if not rows:
        print("no strategy attached: pinewire strategy attach LINK --name "
              f"{'|'.join(STRATEGIES)} --symbols A,B")
    for r in rows:
        where = f"universe {r['universe']}" if r["universe"] else ", ".join(r["symbols"][:5]) + \
            (f" and {len(r['symbols']) - 5} more" if len(r["symbols"]) > 5 else "")
        print(f"{r['name']:<14} params {json.dumps(r['params'])} timeframe {r['timeframe']} "
              f"on {where}")
    return 0


def _rows(a, cat) -> list[dict]:
    """The candidates: --symbols, --symbols-file (a list, or a CSV with a symbol column and any
    of price, avg_volume, market_cap) or --master (every NSE equity of the catalog)."""
    if a.master:
        return [{"symbol": s} for s in cat.equities()]
    if a.symbols_file and "symbol" in Path(a.symbols_file).read_text().split("\n", 1)[0].lower():
        with open(a.symbols_file, newline="") as f:
            return [{k.strip().lower(): (v or "").strip() for k, v in row.items()}
                    for row in csv.DictReader(f)]
    symbols = _symbols(a)
    if symbols is None:
        raise StrategyError("give --symbols A,B, --symbols-file FILE or --master")
    return [{"symbol": s} for s in symbols]


def cmd_universe_add(a) -> int:
    cat = catalog.catalog(settings())
    symbols, unknown = strategies.screen(
        _rows(a, cat), min_price=a.min_price, max_price=a.max_price,
        min_avg_volume=a.min_avg_volume, min_market_cap=a.min_market_cap)
    row = strategies.add_universe(engine(), cat, name=a.name, symbols=symbols,
                                  user_id=me(a)["id"])
    print(f"universe {row['name']}: {len(row['symbols'])} instrument(s)")
    for field, count in unknown.items():
        if count:
            print(f"  {count} kept without a known {field.replace('_', ' ')}")
    return 0


def cmd_universe_list(a) -> int:
    rows = strategies.universes(engine(), me(a)["id"])
    if not rows:
        print("no universe yet: pinewire universe add NAME --symbols-file FILE")
    for r in rows:
        print(f"{r['name']:<16} {len(r['symbols'])} instrument(s)")
    return 0


def cmd_candles_load(a) -> int:
    from pinewire.candle_history import load_csv, publish_history
    s = settings()
    if (a.csv is None) == (a.account is None):
        raise StrategyError("give --csv FILE or --account ACCOUNT (with --symbols)")
    if a.csv:
        candles = load_csv(Path(a.csv), catalog.catalog(s))
    else:
        today = datetime.now(IST).date()
        candles = account_candles(a, s, today - timedelta(days=a.days), today)
    sent = asyncio.run(publish_history(s.bootstrap, s.namespace, s.partitions, candles))
    print(f"{sent} history candle(s) sent; strategies warm up from them")
    return 0


def account_candles(a, s, first, last) -> list:
    """--account's candles of --symbols (or --symbols-file) in --timeframe, first..last: the
    broker's historical API, through the cache on disk (a bar on a terminal while fetching)."""
    from pinewire.candle_history import from_account
    from schemas.market_time import TIMEFRAMES
    from webapp import accounts
    account = accounts.account_by_name(engine(), a.account, me(a)["id"])
    if account is None:
        raise accounts.AccountError(f"no account named {a.account!r} (pinewire account list)")
    timeframe = str(a.timeframe).upper()
    if timeframe not in TIMEFRAMES:
        raise StrategyError(f"--timeframe must be one of {', '.join(TIMEFRAMES)}")
    names, tokens = strategies.resolve(catalog.catalog(s), _symbols(a) or [])
    if not names:
        raise StrategyError("name the instruments: --symbols A,B or --symbols-file FILE")
    return asyncio.run(from_account(engine(), s, account, names, tokens, timeframe, first, last,
                                    lambda name, n, total: progress(n, total, name)))


def register(sub) -> None:
    strategy = sub.add_parser("strategy", help="strategies that emit a link's alerts") \
        .add_subparsers(dest="strategy", required=True)
    attach = strategy.add_parser("attach", help="run a strategy for a link (replaces any)")
    attach.add_argument("link")
    attach.add_argument("--name", required=True, choices=sorted(STRATEGIES))
    attach.add_argument("--params", default="{}", help='JSON, e.g. \'{"fast":20,"slow":50,'
                                                       '"timeframe":5}\'')
    attach.add_argument("--symbols", help="comma-separated, e.g. RELIANCE,TCS")
    attach.add_argument("--symbols-file", dest="symbols_file", help="one symbol a line")
    attach.add_argument("--universe", help="a universe's name (pinewire universe add)")
    detach = strategy.add_parser("detach", help="stop a link's strategy")
    detach.add_argument("link")
    ls = strategy.add_parser("list", help="attached strategies")
    for parser, fn in ((attach, cmd_strategy_attach), (detach, cmd_strategy_detach),
                       (ls, cmd_strategy_list)):
        user_flag(parser)
        parser.set_defaults(fn=fn)

    universe = sub.add_parser("universe", help="named lists of instruments to scan") \
        .add_subparsers(dest="universe", required=True)
    add = universe.add_parser("add", help="create or replace a universe")
    add.add_argument("name")
    add.add_argument("--symbols", help="comma-separated")
    add.add_argument("--symbols-file", dest="symbols_file", help="one symbol a line, or a "
                     "screener's CSV: symbol[, price, avg_volume, market_cap (crores)]")
    add.add_argument("--master", action="store_true", help="every NSE equity of the catalog")
    for flag, what in (("--min-price", "rupees"), ("--max-price", "rupees"),
                       ("--min-avg-volume", "shares a day"), ("--min-market-cap", "crores")):
        add.add_argument(flag, type=float, help=f"{what}; where the file gives it")
    uls = universe.add_parser("list", help="universes")
    for parser, fn in ((add, cmd_universe_add), (uls, cmd_universe_list)):
        user_flag(parser)
        parser.set_defaults(fn=fn)

    candles = sub.add_parser("candles", help="candle history").add_subparsers(
        dest="candles", required=True)
    load = candles.add_parser("load", help="send past candles for the strategies to warm up "
                                           "from: a CSV or the broker's historical API")
    load.add_argument("--csv", help="symbol, timeframe, start, open, high, low, close[, volume]")
    load.add_argument("--account", "--smartapi", dest="account", metavar="ACCOUNT",
                      help="an account's broker: its historical API (Angel One, Kite, Upstox)")
    load.add_argument("--symbols", help="with --account: comma-separated")
    load.add_argument("--symbols-file", dest="symbols_file", help="one symbol a line")
    load.add_argument("--timeframe", default="D", help="with --account: 1 3 5 15 60 or D")
    load.add_argument("--days", type=int, default=400, help="with --account: how far back")
    user_flag(load)
    load.set_defaults(fn=cmd_candles_load)
