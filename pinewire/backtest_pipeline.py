"""`pinewire backtest --through-pipeline`: the agents themselves instead of the in-process engine —
a worker of its own, on a namespace of its own (on the Kafka PINEWIRE_KAFKA_URL names, else an
embedded broker started for the run) — fed a candle at a time: each step ends with the ticks of
the moment that opens the next window (they close the candle) and waits until the worker has
handled everything that followed from it (settle). Both give the same trades
(tests/integration/test_backtest_parity.py)."""
from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import sys
import tempfile
import time
from pathlib import Path

from agents import eod, risk
from agents.backtest import ALWAYS_FRESH_MS, Conventions, due_sweeps, sweeps_of_day
from agents.strategies.candles import built_from, window_start
from connectors import kafka
from connectors.ticks.feed import TickSender
from pinewire import broker, processes
from schemas import topics as registry
from webapp.publish import publish


def steps(ticks: list, minutes: int, conventions: Conventions | None = None) -> list:
    """The ticks cut after those that open a new window (they close a candle; the ticks of
    the same moment go with them); with conventions, an end-of-day sweep, (kind, at_ms),
    before the first tick that finds it due (agents/backtest.py runs it there too)."""
    out, current, window, day, pending, cut = [], [], {}, None, [], False
    for tick in ticks:
        if cut and tick.ts_ms != current[-1].ts_ms:
            out.append(current)
            current, cut = [], False
        if conventions is not None and conventions.eod:
            if risk.ist_day(tick.ts_ms) != day:
                day, pending = risk.ist_day(tick.ts_ms), sweeps_of_day(tick.ts_ms, conventions)
            times = {kind: at for at, kind in pending}
            for kind in due_sweeps(pending, tick.ts_ms):
                out += ([current] if current else []) + [(kind, times[kind])]
                current, cut = [], False
        current.append(tick)
        start = window_start(tick.ts_ms, minutes)
        if window.setdefault(tick.token, start) != start:
            window[tick.token], cut = start, True
    return out + ([current] if current else [])


async def _awaiting_fills(bootstrap: str, namespace: str) -> int:
    """Paper orders filled as they were decided whose fill is not on its topic yet: a worker
    sends such a fill once Kafka has acknowledged its order, a moment after the order."""
    at_once = {order["client_order_id"] async for _, _, _, order in kafka.read_topic(
        bootstrap, registry.topic_name(namespace, registry.ORDERS))
        if order.get("filled_at_once")}
    filled = {fill["client_order_id"] async for _, _, _, fill in kafka.read_topic(
        bootstrap, registry.topic_name(namespace, registry.FILLS))}
    return len(at_once - filled)


async def settle(bootstrap: str, namespace: str, timeout_s: float = 120) -> None:
    """Until the workers' group has read and committed every record of its topics, none came
    for three readings running, and every paper order filled as it was decided has its fill
    on the fills topic (sent once Kafka acknowledged the order, so not at once)."""
    group, specs = registry.consumer_groups(namespace)["workers"]
    names = [registry.topic_name(namespace, spec) for spec in specs]
    deadline, quiet, ends = time.monotonic() + timeout_s, 0, None
    while quiet < 2:
        if time.monotonic() > deadline:
            raise TimeoutError(f"the backtest worker did not settle in {timeout_s:.0f} s")
        lags = await kafka.group_lag(bootstrap, group, names)
        before, ends = ends, {name: lag["end"] for name, lag in lags.items()}
        still = lags and all(v["lag"] == 0 for v in lags.values()) and ends == before
        if still and quiet == 1:
            still = not await _awaiting_fills(bootstrap, namespace)
        quiet = quiet + 1 if still else 0
        await asyncio.sleep(0.1)      # the pace of polling an external condition


async def paced_replay(bootstrap: str, namespace: str, partitions: int, ticks: list,
                       minutes: int, conventions: Conventions | None = None) -> None:
    commands = registry.topic_name(namespace, registry.COMMANDS)
    async with kafka.producing(bootstrap, linger_ms=1) as prod, \
            TickSender(prod, namespace, partitions) as sender:
        for step in steps(ticks, minutes, conventions):
            if isinstance(step, tuple):           # an end-of-day sweep, to every partition
                for command in eod.sweep_commands(*step, partitions):
                    await prod.send_and_wait(commands, kafka.encode(command),
                                             key=command.command_id.encode(),
                                             partition=command.partition)
            else:
                for t in step:
                    await sender.send(t.token, t.ltp_paise, t.ts_ms, t.volume)
                await sender.flush()
            await settle(bootstrap, namespace)


async def positions(bootstrap: str, namespace: str) -> list[dict]:
    """Each position's last snapshot on the events topic."""
    last: dict[str, dict] = {}
    async for _, _, _, ev in kafka.read_topic(bootstrap,
                                              registry.topic_name(namespace, registry.EVENTS)):
        pos = ev.get("position")
        if pos and pos["version"] >= last.get(pos["id"], {"version": -1})["version"]:
            last[pos["id"]] = pos
    return sorted(last.values(), key=lambda p: (p["created_at_ms"], p["id"]))


def run(settings, link: dict, attachment: dict, ticks: list,
                      conventions: Conventions) -> list[dict]:
    minutes = built_from(attachment["timeframe"])
    namespace = f"backtest-{secrets.token_hex(4)}"
    work = Path(tempfile.mkdtemp(prefix="pinewire-backtest-"))
    embedded = None
    bootstrap = settings.kafka_url
    if not bootstrap:
        port = _free_port()
        embedded = broker.start(port, work)
        bootstrap = f"127.0.0.1:{port}"
    env = {**os.environ, "PINEWIRE_KAFKA_URL": bootstrap, "PINEWIRE_NAMESPACE": namespace,
           "PINEWIRE_DATA_DIR": str(work), "PINEWIRE_DATABASE_URL": f"sqlite:///{work}/bt.db",
           "PINEWIRE_FEED": "none", "PINEWIRE_METRICS_PORT": "0",
           "PINEWIRE_WORKER_NAME": "backtest", "PINEWIRE_STATIC_MEMBERSHIP": "false",
           "PINEWIRE_CANDLES_ON_TIME": "false", "PINEWIRE_EOD_ON_TIME": "false",
           "PINEWIRE_PAPER_PRICE_MAX_AGE_MS": str(ALWAYS_FRESH_MS),
           "PINEWIRE_LOG_LEVEL": "WARNING", "PINEWIRE_COMMIT_INTERVAL_S": "0.2"}
    worker, done = None, False
    try:
        asyncio.run(kafka.create_topics(bootstrap, namespace, settings.partitions, 1))
        asyncio.run(kafka.until_topics_complete(bootstrap, namespace, settings.partitions))
        running = {"running": True, "version": 1, "at_ms": int(time.time() * 1000)}
        asyncio.run(publish(bootstrap, namespace, links=[link], strategies=[attachment],
                            bots=[running, {**running, "user_id": link["user_id"]}]))
        worker = processes.spawn([sys.executable, "-m", "pinewire.cli", "worker"],
                                 work / "worker.log", env=env)
        asyncio.run(_worker_ready(bootstrap, namespace, worker))
        asyncio.run(paced_replay(bootstrap, namespace, settings.partitions, ticks, minutes,
                                 conventions))
        found = asyncio.run(positions(bootstrap, namespace))
        done = True
    finally:
        if worker is not None:
            processes.stop(worker)
        if embedded is not None:
            processes.stop(embedded)
        if done:
            shutil.rmtree(work, ignore_errors=True)
        else:
            print(f"backtest failed: its worker's log is in {work}", file=sys.stderr)
    return found


def _free_port() -> int:
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def _worker_ready(bootstrap: str, namespace: str, worker, timeout_s: float = 90) -> None:
    """Until the worker's heartbeat says it owns every partition."""
    topic = registry.topic_name(namespace, registry.WORKERS)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if worker.poll() is not None:
            raise RuntimeError(f"the backtest worker exited ({worker.returncode}); see its log")
        async for _, _, _, beat in kafka.read_topic(bootstrap, topic):
            if beat and beat.get("active"):
                return
        await asyncio.sleep(0.5)      # the pace of polling an external condition
    raise TimeoutError("the backtest worker did not start")
