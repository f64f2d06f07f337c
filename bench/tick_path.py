"""The tick path's per-tick cost, against a baseline measured in the same run.

Baseline: decoding a tick's JSON value (what any consumer pays). Measured: what the exit monitor
adds per open position on the ticked instrument (load the position, evaluate the rules).
Prints the numbers and writes bench/results/tick_path.json.
"""
from __future__ import annotations

import json
import platform
import time
from pathlib import Path

from agents import positions as P
from schemas.records import Tick

N = 50_000


def _position() -> dict:
    pos = P.open_position(alert_id="bench", link_id="L", token="2885", symbol="RELIANCE-EQ",
                          exchange="NSE", side="LONG", quantity=10, paper=True, sl_pct="1",
                          target_pct="50", trail_pct="0.5", trail_activation_pct=None,
                          slippage_bps=0, reference_price_paise=None, partition=0, now_ms=0)
    return P.apply_fill(pos, fill_id="f", client_order_id=pos.entry_order_id, status="FILLED",
                        quantity=10, price_paise=100000, text=None, now_ms=0).to_dict()


def _prices() -> list[int]:
    # oscillates inside the levels so no exit ends the run; best price rises now and then
    return [100000 + (i * 37) % 900 + i // 100 for i in range(N)]


def baseline(raw: list[bytes]) -> float:
    start = time.perf_counter()
    for value in raw:
        Tick(**json.loads(value))
    return time.perf_counter() - start


def exit_monitor(prices: list[int], stored: dict) -> float:
    start = time.perf_counter()
    for price in prices:
        pos = P.Position.from_dict(stored)
        changed, _ = P.on_tick(pos, price, 0)
        if changed is not None:
            stored = changed.to_dict()
    return time.perf_counter() - start


def main() -> dict:
    prices = _prices()
    raw = [json.dumps({"token": "2885", "ltp_paise": p, "ts_ms": 0}).encode() for p in prices]
    runs = []
    for _ in range(3):
        runs.append((baseline(raw), exit_monitor(prices, _position())))
    base, measured = min(r[0] for r in runs), min(r[1] for r in runs)
    result = {
        "benchmark": "tick_path", "ticks": N, "python": platform.python_version(),
        "baseline_decode_us_per_tick": round(base / N * 1e6, 2),
        "exit_monitor_us_per_position_tick": round(measured / N * 1e6, 2),
        "ratio_exit_monitor_to_decode": round(measured / base, 2),
        "position_ticks_per_s": int(N / measured),
    }
    out = Path(__file__).parent / "results"
    out.mkdir(exist_ok=True)
    (out / "tick_path.json").write_text(json.dumps(result, indent=2) + "\n")
    for key, value in result.items():
        print(f"{key:38} {value}")
    return result


if __name__ == "__main__":
    main()
