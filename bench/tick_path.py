"""The tick path's per-tick cost, against a baseline measured in the same run.

Baseline: decoding a tick's JSON value (what any consumer pays). Measured: what the exit monitor
adds per open position on the ticked instrument (load the position, evaluate the rules, write
it back when it changed), without and with a bad-tick band.
Prints the numbers and writes bench/results/tick_path.json.
"""
from __future__ import annotations

import json
import platform
import time
from pathlib import Path

from agents import positions as P
from agents.memory import WorkerMemory
from schemas.records import Tick

N = 50_000


def _position(**link) -> dict:
    pos = P.open_position(alert_id="bench", link_id="L", token="2885", symbol="RELIANCE-EQ",
                          exchange="NSE", side="LONG", quantity=10, paper=True, sl_pct="1",
                          target_pct="50", trail_pct="0.5", trail_activation_pct=None,
                          slippage_bps=0, reference_price_paise=None, partition=0, now_ms=0,
                          **link)
    return P.apply_fill(pos, fill_id="f", client_order_id=pos.entry_order_id, status="FILLED",
                        quantity=10, price_paise=100000, text=None, now_ms=0).to_dict()


def _prices() -> list[int]:
    # oscillates between the stop (990.00) and the trailing activation (1005.00), so no exit
    # ends the run; the best price rises now and then
    return [99800 + (i * 37) % 500 + i // 1000 for i in range(N)]


def baseline(raw: list[bytes]) -> float:
    start = time.perf_counter()
    for value in raw:
        Tick(**json.loads(value))
    return time.perf_counter() - start


def exit_monitor(prices: list[int], stored: dict) -> float:
    """As agents/monitor.py: the position as the worker's memory holds it, the rules, and on a
    change the table value and the memory written again (agents/emit.py save)."""
    memory = WorkerMemory("127.0.0.1:9", "bench")   # never connects: only its positions
    start = time.perf_counter()
    for price in prices:
        pos = memory.position(stored)
        changed, _, _ = P.on_tick(pos, price, 0)
        if changed is not None:
            stored = changed.to_dict()
            memory.track(changed)
    assert stored["state"] == "OPEN", "an exit ended the run early: the numbers would be wrong"
    return time.perf_counter() - start


def main() -> dict:
    prices = _prices()
    raw = [json.dumps({"token": "2885", "ltp_paise": p, "ts_ms": 0}).encode() for p in prices]
    runs = []
    for _ in range(3):
        runs.append((baseline(raw), exit_monitor(prices, _position()),
                     exit_monitor(prices, _position(tick_band_pct="5"))))
    base, measured, guarded = (min(r[i] for r in runs) for i in range(3))
    result = {
        "benchmark": "tick_path", "ticks": N, "python": platform.python_version(),
        "baseline_decode_us_per_tick": round(base / N * 1e6, 2),
        "exit_monitor_us_per_position_tick": round(measured / N * 1e6, 2),
        "ratio_exit_monitor_to_decode": round(measured / base, 2),
        "position_ticks_per_s": int(N / measured),
        # the bad-tick guard remembers every accepted tick: a state write per tick
        "with_tick_band_us_per_position_tick": round(guarded / N * 1e6, 2),
        "ratio_with_tick_band_to_decode": round(guarded / base, 2),
    }
    out = Path(__file__).parent / "results"
    out.mkdir(exist_ok=True)
    (out / "tick_path.json").write_text(json.dumps(result, indent=2) + "\n")
    for key, value in result.items():
        print(f"{key:38} {value}")
    return result


if __name__ == "__main__":
    main()
