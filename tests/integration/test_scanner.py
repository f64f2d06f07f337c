"""A universe scanner: a strategy attached to a link over a universe of 200 instruments, one
worker on 2 cores: every instrument's candle is evaluated, and all 200 alerts of the candle
that crosses are on the alerts topic well within one 1-minute candle. Prints how long it took
from the ticks that closed the candle to the last alert."""
import json
import subprocess
import time
from datetime import datetime

from schemas import topics as registry
from schemas.market_time import IST
from tests.integration.harness import Pipeline, instrument_master, wait_until

COUNT, FIRST_TOKEN = 200, 920_000
CLOSES = ["100", "100", "100", "98", "97", "99", "102", "103"]     # SMA2 crosses SMA3 at 102
START = int(datetime(2026, 11, 24, 13, 0, 30, tzinfo=IST).timestamp() * 1000)


def test_two_hundred_instruments_scanned_within_one_candle(kafka_url, tmp_path):
    symbols = instrument_master(tmp_path / "master.json", COUNT, "SC", FIRST_TOKEN)
    (tmp_path / "universe.txt").write_text("\n".join(symbols))
    with Pipeline(tmp_path, kafka_url, PINEWIRE_INSTRUMENT_MASTER=tmp_path / "master.json",
                  PINEWIRE_LOG_LEVEL="WARNING").running() as p:
        def cli(*args):
            done = subprocess.run(p.cli(*args), env=p.env, capture_output=True, text=True,
                                  timeout=60)
            assert done.returncode == 0, done.stderr
            return done.stdout
        link = p.add_link(name="scan", sl_pct=None, target_pct=None, quantity=1)
        assert "universe scan200: 200 instrument(s)" in cli(
            "universe", "add", "scan200", "--symbols-file", str(tmp_path / "universe.txt"))
        cli("strategy", "attach", "scan", "--name", "sma_cross", "--universe", "scan200",
            "--params", json.dumps({"fast": 2, "slow": 3, "timeframe": 1}))
        tokens = [str(FIRST_TOKEN + i) for i in range(COUNT)]
        changelog = registry.changelog_name(p.settings.namespace, "candle_builders")
        before_open = START - 5 * 3600_000            # 08:00 IST: no candle, a builder
        wait_until(lambda: p.replay([(before_open, t, "100") for t in tokens]) and
                   len({r[2].strip('"') for r in p.kafka_records(changelog)}) == COUNT,
                   60, "the workers building candles of the 200", interval_s=1)

        p.replay([(START + k * 60_000, t, c) for k, c in enumerate(CLOSES[:-1])
                  for t in tokens])
        p.replay([(START + 7 * 60_000, t, CLOSES[-1]) for t in tokens])   # closes the 7th
        closed_at = time.monotonic()

        def alerts():
            return [r[3] for r in p.topic_records(registry.ALERTS)
                    if r[3]["link_id"] == link["id"]]
        found = wait_until(lambda: len(a := alerts()) >= COUNT and a, 60, "200 alerts",
                           interval_s=0.5)
        took = time.monotonic() - closed_at
        print(f"\nscanner: {COUNT} instruments, {len(found)} alerts {took:.1f} s after the "
              "ticks that closed their candle")
        assert sorted(a["token"] for a in found) == sorted(tokens)
        assert {(a["action"], a["price_paise"], a["source"]) for a in found} == \
            {("BUY", 10200, "strategy:sma_cross")}
        assert took < 60, f"the scan took {took:.0f} s, longer than its 1-minute candle"
