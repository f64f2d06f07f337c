"""Backtests over each broker's historical API, as a trader runs them: `pinewire backtest
--account` on an Angel One, a Kite and an Upstox account (their simulators serve the same
simulated past through each broker's own API and SDK, and refuse a call spanning more days
than the broker allows). The candles come in the fewest calls the broker's caps allow, a
second run reads them from the disk cache with no call at all, a day missing from the cache is
the only one fetched again, and the three brokers' candles make the same trades."""
import json
import subprocess

import pytest

from connectors import credentials
from tests.integration.harness import Pipeline
from tests.integration.test_broker_pipelines import Live, add_account

pytestmark = pytest.mark.one_kafka_broker
KINDS = ("smartapi", "kite", "upstox")
# 1 January to 28 February 2025 (59 days) of 1-minute candles: Angel One allows 30 days a call
# (1-30 January, 31 January-28 February), Kite 60 (one call), Upstox a month (January, February)
CALLS = {"smartapi": 2, "kite": 1, "upstox": 2}


@pytest.fixture(scope="module")
def world(request, kafka_url, tmp_path_factory):
    sims = {kind: request.getfixturevalue(f"{kind}_sim") for kind in KINDS}
    key = credentials.new_key()
    p = Pipeline(tmp_path_factory.mktemp("history"), kafka_url, PINEWIRE_SECRET_KEY=key,
                 **{k: v for sim in sims.values() for k, v in sim.env().items()})
    for kind in KINDS:
        sim_account = request.getfixturevalue("sim_account" if kind == "smartapi" else
                                              f"{kind}_account")
        live = Live(kind, p, sims[kind], sim_account,
                    add_account(p, key, kind, sim_account), None)
        if kind != "smartapi":
            done = live.log_in()
            assert done.returncode == 0, done.stdout + done.stderr
    p.add_link(name="hist", sl_pct="1", target_pct="2", quantity=1)
    yield p, sims
    p.stop()


def _backtest(p, kind: str, out) -> dict:
    done = subprocess.run(p.cli(
        "backtest", "--strategy", "sma_cross", "--params",
        '{"fast": 5, "slow": 20, "timeframe": 15}', "--link", "hist", "--account", kind,
        "--symbols", "RELIANCE", "--timeframe", "1", "--from", "2025-01-01", "--to",
        "2025-02-28", "--json", str(out)), env=p.env, capture_output=True, text=True,
        timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(out.read_text())


def _calls(sim) -> int:
    return sim.http.get("/sim/history-calls").json()["calls"]


def test_history_from_each_broker_is_fetched_once_then_read_from_the_cache(world, tmp_path):
    p, sims = world
    results = {}
    for kind in KINDS:
        before = _calls(sims[kind])
        results[kind] = _backtest(p, kind, tmp_path / f"{kind}-1.json")
        assert _calls(sims[kind]) - before == CALLS[kind], kind
        cached = p.data_dir / "history" / kind / "NSE-2885" / "1"
        days = sorted(f.stem for f in cached.glob("*.csv"))
        # NSE's trading days of January and February 2025 (26 February: Mahashivratri)
        assert len(days) == 23 + 19 and "2025-02-26" not in days and "2025-01-04" not in days

    # the cache is the brokers' alike (connectors/history.py): shown on one
    sim, before = sims["kite"], _calls(sims["kite"])
    assert _backtest(p, "kite", tmp_path / "again.json") == results["kite"]
    assert _calls(sim) == before, "the second run called the broker"
    cached = p.data_dir / "history" / "kite" / "NSE-2885" / "1"
    (cached / "2025-02-10.csv").unlink()               # one day lost from the cache
    assert _backtest(p, "kite", tmp_path / "healed.json") == results["kite"]
    assert _calls(sim) == before + 1 and (cached / "2025-02-10.csv").exists()
    assert results["smartapi"]["ticks"] == 4 * 375 * 42
    assert results["smartapi"]["closed"] > 0, "the strategy made no trade over two months"
    assert results["smartapi"]["trades"] == results["kite"]["trades"] == \
        results["upstox"]["trades"]
