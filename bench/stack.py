"""What every benchmark stands on: an embedded broker and pipelines on loopback (the same
harness as the integration tests), a process's resident memory, percentiles, and the result
file with its goals."""
from __future__ import annotations

import asyncio
import contextlib
import json
import os
import platform
import tempfile
import time
from pathlib import Path
from typing import Awaitable, Callable

from aiokafka import AIOKafkaConsumer, TopicPartition

from pinewire import broker, kafka_cluster, processes
from tests.integration.harness import Pipeline, free_port, free_ports

RESULTS = Path(__file__).parent / "results"


@contextlib.contextmanager
def embedded_broker():
    """A fresh embedded broker for one benchmark; yields its bootstrap address."""
    with tempfile.TemporaryDirectory(prefix="pinewire-bench-") as tmp:
        port = free_port()
        proc = broker.start(port, Path(tmp))
        try:
            yield f"127.0.0.1:{port}"
        finally:
            processes.stop(proc)


@contextlib.contextmanager
def apache_kafka():
    """A fresh one-node Apache Kafka cluster (pinewire kafka up) for one benchmark."""
    with tempfile.TemporaryDirectory(prefix="pinewire-bench-kafka-") as tmp:
        cluster = kafka_cluster.start(Path(tmp), 1, base_port=free_ports(2))
        try:
            yield cluster.bootstrap
        finally:
            cluster.stop()


BROKERS = {"tansu": embedded_broker, "kafka": apache_kafka}


@contextlib.contextmanager
def pipeline(bootstrap: str, *, web: bool = True, **env):
    """Topics, a worker and (unless web=False) the web app, in a temporary data dir."""
    with tempfile.TemporaryDirectory(prefix="pinewire-bench-") as tmp:
        p = Pipeline(Path(tmp), bootstrap, PINEWIRE_LOG_LEVEL="WARNING", **env)
        try:
            p.prepare_topics()
            p.start_worker()
            if web:
                p.start_web()
            yield p
        finally:
            p.stop()


async def ages_seen(bootstrap: str, topic: str, partitions: int,
                    sent_at: Callable[[object], list[float]],
                    produce: Callable[[], Awaitable[int]]) -> list[float]:
    """A floor: how old (ms) what a record carries is when a plain aiokafka consumer (the
    worker's 20 ms fetch wait, no work) sees it, while `produce()` sends (it returns how many
    items); `sent_at(record)` gives the send times of a record's items."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False,
                                fetch_max_wait_ms=20)
    await consumer.start()
    ages: list[float] = []
    try:
        tps = [TopicPartition(topic, p) for p in range(partitions)]
        consumer.assign(tps)
        await consumer.seek_to_end(*tps)

        async def read():
            while True:
                for records in (await consumer.getmany(timeout_ms=100)).values():
                    now = time.time() * 1000
                    ages.extend(now - sent for r in records for sent in sent_at(r))
        reader = asyncio.create_task(read())
        n = await produce()
        deadline = time.monotonic() + 10
        while len(ages) < n and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        reader.cancel()
        return ages
    finally:
        await consumer.stop()


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


def cpu_seconds(pid: int) -> float:
    """User + system CPU a process (all its threads) has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0..100), nearest rank."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(0, min(len(ordered) - 1, int(round(q / 100 * len(ordered) + 0.5)) - 1))
    return ordered[rank]


def wait_for(condition: Callable[[], object], timeout_s: float, what: str,
             interval_s: float = 0.05):
    deadline = time.monotonic() + timeout_s
    while not (value := condition()):
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout_s}s waiting for {what}")
        time.sleep(interval_s)
    return value


class Result:
    """A benchmark's figures and goals: printed as a table and written to
    bench/results/<name>.json (<name>_kafka.json on Apache Kafka), each goal as
    {"metric", "value", "goal", "pass"} and, for a ratio, "floor": the figures it divides by."""

    def __init__(self, name: str, broker: str = "tansu", **setup):
        self.name = name if broker == "tansu" else f"{name}_{broker}"
        self.data = {"benchmark": name, "broker": broker,
                     "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                     "python": platform.python_version(), "cpus": _cpus(), **setup,
                     "figures": {}, "goals": []}

    def figure(self, key: str, value) -> None:
        self.data["figures"][key] = value
        print(f"  {key:<52} {value}", flush=True)

    def goal(self, metric: str, value, goal: str, passed: bool, **floor) -> None:
        """A goal; `floor` names the same-run figures it was compared with."""
        self.data["goals"].append({"metric": metric, "value": value, "goal": goal,
                                   "pass": bool(passed), **({"floor": floor} if floor else {})})
        against = f", floor {floor}" if floor else ""
        print(f"  {'PASS' if passed else 'MISS'} {metric:<47} {value}  (goal {goal}{against})",
              flush=True)

    def write(self) -> dict:
        RESULTS.mkdir(exist_ok=True)
        (RESULTS / f"{self.name}.json").write_text(json.dumps(self.data, indent=2) + "\n")
        return self.data


def _cpus() -> int:
    return len(os.sched_getaffinity(0))
