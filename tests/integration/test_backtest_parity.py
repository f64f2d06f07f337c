"""The in-process backtest (agents/backtest.py) makes the very trades the live pipeline makes on
the same ticks: scenarios that stop out through a gap, trail, pyramid, stop and reverse, trade
5-minute candles on two instruments, and meet the intraday square-off and the end of day — all
replayed at once through a pipeline's workers, a candle at a time, and each run in-process.
The pipeline is set as `--through-pipeline` sets its own: the last price is always fresh (an
entry fills at the tick that closed its candle, however long the step took) and only ticks
close candles. On one Kafka broker: what is compared is the agents' decisions, not the
broker's part."""
import asyncio
import json
import random
from datetime import datetime, timedelta

import pytest

from agents.backtest import ALWAYS_FRESH_MS, Backtest, Conventions
from agents.eod import is_trading_day
from connectors.ticks.replay import ReplayTick
from pinewire import backtest, backtest_pipeline
from schemas import instruments
from schemas.market_time import IST
from webapp.publish import link_record
from tests.integration.harness import Pipeline
from tests.integration.test_strategies_pipeline import _known_to_the_workers, cli

pytestmark = pytest.mark.one_kafka_broker


def _day():
    """A trading day (the end of day sweeps only those)."""
    day = datetime.now(IST).date() + timedelta(days=10)
    while not is_trading_day(day):
        day += timedelta(days=1)
    return day


DAY = _day()
START = int(datetime(DAY.year, DAY.month, DAY.day, 14, 31, tzinfo=IST).timestamp() * 1000)
MINUTES, EVERY_S = 62, 15          # 14:31 to 15:33, a tick every 15 s


def walk(seed: int, start: int, step: int, drift: int = 0, gaps=()) -> list[int]:
    """Prices in paise, a tick every EVERY_S: a seeded walk; gaps: {tick index: jump}."""
    rnd, price, out = random.Random(seed), start, []
    for i in range(MINUTES * 60 // EVERY_S):
        price = max(100, price + rnd.randint(-step, step) + drift + dict(gaps).get(i, 0))
        out.append(price)
    return out


# name: (strategy, params, link settings, {symbol: path})
SCENARIOS = {
    "trail": ("sma_cross", {"fast": 2, "slow": 4, "timeframe": 1},
              dict(sl_pct="1", target_pct=None, trail_pct="0.4", side="long"),
              {"LT": walk(1, 350_000, 300, drift=120, gaps=((200, -3000),))}),
    "gap_reverse": ("sma_cross", {"fast": 2, "slow": 3, "timeframe": 1},
                    dict(sl_pct="0.8", target_pct="1.5", reverse=True),
                    {"NTPC": walk(2, 35_000, 60, gaps=((60, -900), (150, 800)))}),
    "pyramid": ("rsi_reversion", {"period": 3, "oversold": 40, "overbought": 60,
                                  "timeframe": 1},
                dict(sl_pct="3", target_pct="3", max_entries=3),
                {"ONGC": walk(3, 28_000, 90, drift=-4)}),
    "five_minutes": ("supertrend", {"period": 2, "multiplier": 1, "timeframe": 5},
                     dict(sl_pct="2", target_pct="2"),
                     {"POWERGRID": walk(4, 30_000, 120), "ICICIBANK": walk(6, 120_000, 700)}),
}


def ticks_of(paths: dict[str, list[int]]) -> list[ReplayTick]:
    return [ReplayTick(START + i * EVERY_S * 1000, instruments.lookup(symbol).token, price, None)
            for symbol, prices in paths.items() for i, price in enumerate(prices)]


def in_process(link: dict, name: str, params: dict, paths: dict) -> list[dict]:
    tokens = sorted(instruments.lookup(s).token for s in paths)
    attachment = {"name": name, "params": params, "tokens": tokens,
                  "symbols": [f"NSE:{instruments.by_token(t).symbol}" for t in tokens]}
    ticks = sorted(ticks_of(paths), key=lambda t: t.ts_ms)
    engine = Backtest(link_record({**link, "paper": True}).asdict(), attachment, Conventions())
    return backtest.trades([p.to_dict() for p in engine.run(ticks)])


def same(trades: list[dict]) -> list[dict]:
    """Times aside: the pipeline stamps its own clock, the backtest the ticks'."""
    return sorted(({k: v for k, v in t.items() if not k.endswith("_at_ms")} for t in trades),
                  key=lambda t: (t["symbol"], t["entry_paise"], t["side"], t["quantity"]))


@pytest.fixture(scope="module")
def pipeline(kafka_url, tmp_path_factory):
    with Pipeline(tmp_path_factory.mktemp("parity"), kafka_url,
                  PINEWIRE_PAPER_PRICE_MAX_AGE_MS=str(ALWAYS_FRESH_MS),
                  PINEWIRE_CANDLES_ON_TIME="false", PINEWIRE_COMMIT_INTERVAL_S="0.2").running() as p:
        yield p


@pytest.fixture(scope="module")
def both(pipeline):
    """Every scenario on a link of its own, through the pipeline's workers (one replay of all
    their ticks), and in-process."""
    links = {}
    for scenario, (name, params, settings, paths) in SCENARIOS.items():
        link = links[scenario] = pipeline.add_link(name=f"parity-{scenario}", quantity=2,
                                                   **settings)
        cli(pipeline, "strategy", "attach", link["name"], "--name", name, "--params",
            json.dumps(params), "--symbols", ",".join(paths))
        for symbol in paths:
            _known_to_the_workers(pipeline, instruments.lookup(symbol).token)
    ticks = sorted((t for *_, paths in SCENARIOS.values() for t in ticks_of(paths)),
                   key=lambda t: t.ts_ms)
    s = pipeline.settings
    asyncio.run(backtest_pipeline.paced_replay(s.bootstrap, s.namespace, s.partitions, ticks, 1,
                                      Conventions()))
    rows = asyncio.run(backtest_pipeline.positions(s.bootstrap, s.namespace))
    return {scenario: (backtest.trades([r for r in rows if r["link_id"] == link["id"]]),
                       in_process(link, *SCENARIOS[scenario][:2], SCENARIOS[scenario][3]))
            for scenario, link in links.items()}


@pytest.mark.parametrize("scenario,shows", [
    ("trail", lambda t: any(x["exit_reason"] == "TRAIL" for x in t)),
    ("gap_reverse", lambda t: any(x["exit_reason"] == "SL" for x in t)
     and len({x["side"] for x in t}) == 2),
    ("pyramid", lambda t: any(x["quantity"] > 2 for x in t)),
    ("five_minutes", lambda t: len({x["symbol"] for x in t}) == 2),
])
def test_the_backtest_trades_as_the_pipeline_does(both, scenario, shows):
    live, local = both[scenario]
    assert live and shows(live), f"the scenario does not show what it is for: {live}"
    assert same(local) == same(live), f"in-process:\n{_lines(local)}\npipeline:\n{_lines(live)}"


def _lines(trades: list[dict]) -> str:
    """The trades in time order, a line each (what a failed comparison leaves to look at)."""
    return "\n".join(f"  {t['symbol']} {t['side']} {t['quantity']} {t['entry_paise']} "
                     f"{(t['opened_at_ms'] - START) / 1000:+.0f}s -> {t['exit_paise']} "
                     f"{t['exit_reason']} {((t['closed_at_ms'] or START) - START) / 1000:+.0f}s"
                     for t in sorted(trades, key=lambda t: t["opened_at_ms"]))


def test_the_end_of_day_closes_the_same_positions_in_both(both):
    live = [t for pair in both.values() for t in pair[0]]
    assert {t["exit_reason"] for t in live} >= {"MIS", "EOD"}, live
    assert same([t for pair in both.values() for t in pair[1]]) == same(live)
