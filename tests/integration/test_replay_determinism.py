"""Paper exits are decided by the tick stream, not by processing speed: the same exit paths
replayed as fast as possible and in real time (150 ms apart) give identical exits — reason,
trigger, fill price and P&L — although later ticks keep coming after each trigger."""
import time

from schemas import instruments, sql

# (action, symbol, entry, ticks after the entry); SL 1 %, target 2 %, trail 0.5 %
PATHS = [
    ("BUY", "BAJFINANCE", "920", ["921", "915", "910.80", "905", "900", "930"]),
    ("BUY", "ASIANPAINT", "2400", ["2410", "2430", "2448", "2455", "2460", "2300"]),
    ("BUY", "ULTRACEMCO", "11800", ["11850", "11900", "11850", "11840.50", "11700", "11600"]),
    ("SELL", "AXISBANK", "1180", ["1185", "1191.80", "1200", "1210", "1100"]),
    ("SELL", "HINDUNILVR", "2420", ["2410", "2371.60", "2360", "2350", "2500"]),
    ("SELL", "POWERGRID", "288", ["287", "285", "286.45", "290", "280"]),
]


def _run(pipeline, speed: float) -> dict:
    opened = {}
    for action, symbol, entry, _ in PATHS:
        link = pipeline.add_link(sl_pct="1", target_pct="2", trail_pct="0.5")
        alert = pipeline.alert_row(pipeline.alert(link, action, symbol, price=entry))
        assert alert["status"] == "ACCEPTED", alert["reason"]
        opened[symbol] = alert["position_id"]
    for pid in opened.values():
        pipeline.position(pid, "OPEN")
    start, lines, step = int(time.time() * 1000), [], 0
    for i in range(max(len(p[3]) for p in PATHS)):          # interleaved, 150 ms apart
        for _, symbol, _, ticks in PATHS:
            if i < len(ticks):
                lines.append(f"{start + 150 * step},{instruments.lookup(symbol).token},{ticks[i]}")
                step += 1
    path = pipeline.data_dir / f"paths-{speed}.csv"
    path.write_text("ts,token,ltp\n" + "\n".join(lines) + "\n")
    import asyncio

    from connectors.ticks import feed
    asyncio.run(feed.run_replay(pipeline.settings.bootstrap, pipeline.settings.namespace,
                                pipeline.settings.partitions, path,
                                speed=speed))
    exits = {}
    for symbol, pid in opened.items():
        pos = pipeline.position(pid, "CLOSED", timeout_s=30)
        [fill] = pipeline.rows_when(sql.fills, sql.fills.c.client_order_id == f"{pid}X0",
                                    count=1)
        exits[symbol] = (pos["exit_reason"], pos["exit_trigger_paise"], fill["price_paise"],
                         pos["realized_pnl_paise"])
    return exits


def test_exits_are_identical_at_full_speed_and_in_real_time(pipeline):
    fast = _run(pipeline, speed=0)
    real = _run(pipeline, speed=1)
    assert fast == real
    assert {reason for reason, *_ in fast.values()} == {"SL", "TARGET", "TRAIL"}
    assert all(trigger == price for _, trigger, price, _ in fast.values())
