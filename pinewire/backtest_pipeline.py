"""`pinewire backtest --through-pipeline`: the agents themselves instead of the in-process engine —
a worker of its own, on a namespace of its own (on the Kafka PINEWIRE_KAFKA_URL names, else an
embedded broker started for the run) — fed a candle at a time: the ticks within a window, then
those of the moment that opens the next window (they close the candle), each step waiting until
the worker has handled everything that followed from it (settle). Both give the same trades
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
    """The ticks cut before and after the moment whose ticks open a new window (they close a
    candle): what happened within the window (an exit) is settled before the candle closes,
    and an entry the close signals fills at that moment's price; with conventions, an end-of-day sweep, (kind, at_ms),
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
        start = window_start(tick.ts_ms, minutes)
        if window.setdefault(tick.token, start) != start:
            earlier = [t for t in current if t.ts_ms < tick.ts_ms]
            if earlier and not cut:     # what came within the window, settled before it closes
                out.append(earlier)
                current = current[len(earlier):]
            window[tick.token], cut = start, True
        current.append(tick)
    return out + ([current] if current else [])


async def _awaiting_fills(bootstrap: str, namespace: str) -> int:
    """Orders without their whole answer on the fills topic yet (filled in full, or refused):
    a paper order filled as it was decided has its fill sent once Kafka acknowledged the
    order, the others once the executor has read them. (A partial paper fill's rest may rest
    in the book: such orders are not waited for.)"""
    wanted = {order["client_order_id"]: order["quantity"]
              async for _, _, _, order in kafka.read_topic(
                  bootstrap, registry.topic_name(namespace, registry.ORDERS))
              if order["purpose"] in ("ENTRY", "EXIT") and order["paper_fill"] == "full"}
    async for _, _, _, fill in kafka.read_topic(bootstrap,
                                                registry.topic_name(namespace, registry.FILLS)):
        left = wanted.get(fill["client_order_id"])
        if left is not None:
            done = fill["status"] != "FILLED" or left <= fill["quantity"]
            wanted[fill["client_order_id"]] = 0 if done else left - fill["quantity"]
    return sum(1 for left in wanted.values() if left)


async def settle(bootstrap: str, namespace: str, timeout_s: float = 120) -> None:
    """Until every entry and exit order has its whole answer on the fills topic, and then the
    workers' group has read and committed every record of its topics with none coming for
    four readings running (what a worker sends as it handles a record reaches its topic a
    moment after the record is committed)."""
    group, specs = registry.consumer_groups(namespace)["workers"]
    names = [registry.topic_name(namespace, spec) for spec in specs]
    deadline, quiet, ends = time.monotonic() + timeout_s, 0, None
    while quiet < 3:
        if time.monotonic() > deadline:
            raise TimeoutError(f"the backtest worker did not settle in {timeout_s:.0f} s")
        # fills looked for before the lags are read: a fill found must then show in the
        # ends, and as lag until the worker has read it
        awaiting = quiet == 1 and await _awaiting_fills(bootstrap, namespace)
        lags = await kafka.group_lag(bootstrap, group, names)
        before, ends = ends, {name: lag["end"] for name, lag in lags.items()}
        still = lags and all(v["lag"] == 0 for v in lags.values()) and ends == before
        quiet = quiet + 1 if still and not awaiting else 0
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
