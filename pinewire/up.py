"""`pinewire up`: the embedded broker, topics, the ledger, a worker, the web app and a tick feed,
in order; Ctrl-C (or any part dying) stops them all in reverse order."""
from __future__ import annotations

import asyncio
import shutil
import signal
import subprocess
import sys
import time

from connectors import kafka
from connectors.follower import TopicFollower
from pinewire import broker, kafka_cluster, processes
from pinewire.reconcile import reconcile, reconcile_brokers
from schemas import sql, topics as registry
from schemas.settings import Settings
from webapp import users


def _say(message: str) -> None:
    print(f"pinewire: {message}", flush=True)


async def _prepare(settings: Settings) -> int:
    await kafka.wait_for_broker(settings.bootstrap, 30)
    await kafka.create_topics(settings.bootstrap, settings.namespace, settings.partitions,
                              settings.replication_factor)
    return await reconcile(sql.engine(settings.sql_url), settings)


async def wait_for_workers(settings: Settings, since_ms: int, timeout_s: float,
                           count: int = 1) -> None:
    """Until `count` worker heartbeats newer than since_ms name their active partitions."""
    topic = registry.topic_name(settings.namespace, registry.WORKERS)
    follower = TopicFollower(settings.bootstrap, [topic])
    follower.start()
    try:
        ok = await follower.wait_for(lambda: sum(
            bool(v and v["at_ms"] >= since_ms and v["active"])
            for v in follower.values[topic].values()) >= count, timeout_s)
    finally:
        await follower.stop()
    if not ok:
        raise TimeoutError(f"{count} worker(s) did not report within {timeout_s:.0f}s "
                           "(see worker*.log)")


async def wait_for_commands(settings: Settings, timeout_s: float) -> None:
    """Until the worker has consumed every command (restores) sent so far."""
    topic = registry.topic_name(settings.namespace, registry.COMMANDS)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        lag = await kafka.group_lag(settings.bootstrap, settings.namespace, [topic])
        if lag.get(topic, {}).get("lag", 1) == 0:
            return
        await asyncio.sleep(0.25)
    raise TimeoutError("the worker did not take the restored positions in time")


def trading_mode(settings: Settings) -> str:
    """What runs for real: the feed, and which links trade live on which account."""
    from webapp import accounts, links
    eng = sql.engine(settings.sql_url)
    rows = [r for r in links.list_links(eng) if r["enabled"]]
    names = {a["id"]: a["name"] for a in accounts.account_rows(eng)}
    live = [f"{r['name']} on {names.get(r['account_id'], r['account_id'])}"
            for r in rows if not r["paper"]]
    feed = {"smartapi": f"live SmartAPI feed ({settings.feed_account})",
            "kite": f"live Kite feed ({settings.feed_account})",
            "upstox": f"live Upstox feed ({settings.feed_account})",
            "synthetic": "synthetic feed", "none": "no feed"}.get(settings.feed, settings.feed)
    trading = f"LIVE links: {', '.join(live)}" if live else "paper only"
    return f"{feed}; {len(rows) - len(live)} paper link(s), {trading}"


def run(settings: Settings, workers: int = 1) -> int:
    started = time.monotonic()
    logs = settings.data_dir / "logs"
    children: list[tuple[str, subprocess.Popen]] = []
    cluster: kafka_cluster.Cluster | None = None
    stopping, serving = False, False

    def on_signal(signum, _frame):
        nonlocal stopping
        stopping = True
        if not serving:  # still starting up: abandon whatever wait is in progress
            raise KeyboardInterrupt

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    py = [sys.executable, "-m", "pinewire.cli"]
    try:
        if settings.embedded_broker and settings.broker == "kafka":
            cluster = kafka_cluster.start(settings.data_dir / "kafka",
                                          base_port=settings.broker_port)
            children.extend(("kafka", proc) for proc in cluster.procs)
            _say(f"Apache Kafka {kafka_cluster.KAFKA_VERSION} on {settings.bootstrap}, data in "
                 f"{cluster.data}")
        elif settings.embedded_broker:
            # it starts empty, so the workers' tables of its last run describe nothing it holds
            shutil.rmtree(settings.data_dir / "worker", ignore_errors=True)
            children.append(("broker", broker.start(settings.broker_port, logs)))
            _say(f"embedded broker on {settings.bootstrap}")
        restored = asyncio.run(_prepare(settings))
        if restored:
            _say(f"restored {restored} open position(s) from the ledger")
        since = int(time.time() * 1000)
        children.append(("ledger", processes.spawn(py + ["ledger"], logs / "ledger.log")))
        for n in range(1, workers + 1):
            log = logs / ("worker.log" if n == 1 else f"worker{n}.log")
            children.append(("worker", processes.spawn(py + ["worker"], log)))
        asyncio.run(wait_for_workers(settings, since, 90, workers))
        if restored:
            asyncio.run(wait_for_commands(settings, 60))
        for report in asyncio.run(reconcile_brokers(sql.engine(settings.sql_url), settings)):
            lines = report["closed"] + report["report"]
            _say(f"account {report['account']}: " + (
                "agrees with the broker" if not lines else "; ".join(lines)))
        children.append(("web", processes.spawn(py + ["web"], logs / "web.log")))
        if settings.feed != "none":
            children.append(("feed", processes.spawn(py + ["feed"], logs / "feed.log")))
        _say(f"ready in {time.monotonic() - started:.1f}s — {trading_mode(settings)}; "
             f"logs in {logs}")
        _say(f"dashboard: {settings.base_url}/   (Ctrl-C stops everything)")
        code = users.new_setup_code(sql.engine(settings.sql_url))
        if code:
            _say(f"no user yet: register the first (admin) account at {settings.base_url}"
                 f"/register?code={code}   (a one-time setup code: whoever holds it becomes "
                 "the admin)")
        serving = True
        while not stopping:
            for name, proc in children:
                if proc.poll() is not None:
                    _say(f"{name} exited with code {proc.returncode}; stopping (see {name}.log)")
                    return 1
            time.sleep(0.2)
        return 0
    except KeyboardInterrupt:
        return 130
    finally:
        # together, within one grace period; the embedded broker last, once they have let go
        processes.stop_all([proc for name, proc in children if name not in ("kafka", "broker")])
        processes.stop_all([proc for name, proc in children if name == "broker"])
        if cluster is not None:
            cluster.stop()     # a clean shutdown: the next start reads its logs at once
        if children:
            _say("stopped")
