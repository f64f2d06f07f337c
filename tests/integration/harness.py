"""A real pipeline for tests: a Kafka broker (PINEWIRE_TEST_KAFKA_URL, or the embedded one),
a worker process and the web app over real HTTP, each on free loopback ports."""
from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import secrets
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

import httpx
from sqlalchemy import select

from connectors import kafka
from connectors.ticks import feed
from pinewire import processes
from schemas import instruments, sql, topics as registry
from schemas.settings import Settings, webhook_token_key
from webapp import links, users
from webapp.publish import publish

ROOT = Path(__file__).resolve().parents[2]


# Servers of the tests listen below the kernel's ephemeral range (32768-60999 here), where no
# outgoing connection takes a port between its choice and the server's bind (a Kafka node of a
# cold start failed to bind: its port was taken by then).
PORTS = (20_000, 32_000)
_PICK = random.SystemRandom()     # unmoved by a test that seeds `random`


def free_port() -> int:
    return free_ports(1)


def free_ports(count: int) -> int:
    """A free port on loopback whose `count - 1` successors are free too (a local Kafka
    cluster's node i listens on base + 2i and base + 2i + 1)."""
    for _ in range(200):
        base = _PICK.randrange(PORTS[0], PORTS[1] - count)
        if all(_free(base + k) for k in range(count)):
            return base
    raise AssertionError("no run of free ports")


def _free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def static_members(broker: str) -> bool:
    """Whether named workers join their group as static members: not on the embedded broker,
    whose coordinator forgets static members in a rebalance (README, "Scaling out")."""
    return broker != "tansu"


def symbols_on(partitions: set[int], count: int, partition_count: int) -> list[str]:
    """`count` NSE equities of the paper catalog whose instrument partition is in `partitions`."""
    found = [i.symbol.removesuffix("-EQ") for i in instruments.CATALOG.values()
             if i.symbol.endswith("-EQ") and
             registry.instrument_partition(i.token, partition_count) in partitions]
    assert len(found) >= count, "the catalog has too few instruments on those partitions"
    return found[:count]


def wait_until(condition: Callable[[], object], timeout_s: float, what: str,
               interval_s: float = 0.05):
    """Poll a condition until it is truthy; fail with `what` after the timeout."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s}s waiting for {what}")
        time.sleep(interval_s)


def instrument_master(path: Path, count: int, prefix: str, first_token: int) -> list[str]:
    """An instrument master (SmartAPI's JSON) of `count` NSE equities named <prefix>000...,
    tokens from first_token, tick size 0.05; their symbols."""
    rows = [{"token": str(first_token + i), "symbol": f"{prefix}{i:03d}-EQ",
             "name": f"{prefix}{i:03d}", "expiry": "", "strike": "-1.000000", "lotsize": "1",
             "instrumenttype": "", "exch_seg": "NSE", "tick_size": "5.000000"}
            for i in range(count)]
    path.write_text(json.dumps(rows))
    return [f"{prefix}{i:03d}" for i in range(count)]


WEB_IDLE_S = 4.0                   # under the web app's 5 s keep-alive (README, "What can go wrong")
PIPELINES: list["Pipeline"] = []   # every pipeline of the run, for the secrets audit
SECRETS: set[str] = set()          # passwords, API and session tokens the tests used, likewise


async def until(condition: Callable[[], object], timeout_s: float, what: str,
                interval_s: float = 0.02):
    """wait_until for coroutines: poll without blocking the event loop."""
    deadline = time.monotonic() + timeout_s
    while not (value := condition()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s}s waiting for {what}")
        await asyncio.sleep(interval_s)
    return value


class Pipeline:
    def __init__(self, data_dir: Path, bootstrap: str | None, **env):
        PIPELINES.append(self)
        self.data_dir = data_dir
        self.env = {**os.environ,
                    "PINEWIRE_DATA_DIR": str(data_dir),
                    "PINEWIRE_NAMESPACE": f"t{secrets.token_hex(4)}",
                    "PINEWIRE_WEB_PORT": str(free_port()),
                    "PINEWIRE_FEED": "none",
                    "PINEWIRE_LOG_LEVEL": "INFO",
                    # in-session checks (brokers, stalled ticks) at any hour: the same run
                    # whenever CI runs
                    "PINEWIRE_MARKET_HOURS": "00:00-23:59",
                    # end-of-day sweeps only when a test sends them (`eod run --at`), not
                    # when CI happens to run at 15:15 or 15:29 IST
                    "PINEWIRE_EOD_ON_TIME": "false",
                    **{k: str(v) for k, v in env.items()}}
        if bootstrap:
            self.env["PINEWIRE_KAFKA_URL"] = bootstrap
        self.settings = Settings(**{k[len("PINEWIRE_"):].lower(): v for k, v in self.env.items()
                                    if k.startswith("PINEWIRE_") and not k.startswith("PINEWIRE_TEST")})
        self.engine = sql.engine(self.settings.sql_url)
        self.password = secrets.token_urlsafe(12)
        self.user = users.user_by_name(self.engine, "admin") or \
            users.add_user(self.engine, "admin", self.password)
        self.worker: subprocess.Popen | None = None
        self.ledger: subprocess.Popen | None = None
        self.web: subprocess.Popen | None = None
        self.token = users.new_token(self.engine, self.user["id"], "tests")   # the admin's
        SECRETS.update((self.password, self.token))
        # a client that keeps connections alive lets an idle one go before the web app's 5 s
        # keep-alive does (as nginx does, 4 s): one sent on a connection the web app is
        # closing at that moment ends without an answer, and a POST is not sent again
        self.http = httpx.Client(base_url=self.settings.base_url, timeout=10,
                                 limits=httpx.Limits(keepalive_expiry=WEB_IDLE_S),
                                 headers={"Authorization": f"Bearer {self.token}"})

    # -- processes ----------------------------------------------------------------------
    def cli(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "pinewire.cli", *args]

    def spawn(self, *args: str, log: str) -> subprocess.Popen:
        return processes.spawn(self.cli(*args), self.data_dir / "logs" / log, env=self.env)

    def named_worker(self, name: str, static: bool) -> subprocess.Popen:
        """A worker named `name` logging to <name>.log; static: a static group member."""
        env = {**self.env, "PINEWIRE_WORKER_NAME": name,
               "PINEWIRE_STATIC_MEMBERSHIP": "true" if static else "false"}
        return processes.spawn(self.cli("worker"), self.data_dir / "logs" / f"{name}.log",
                               env=env)

    def prepare_topics(self) -> None:
        asyncio.run(kafka.create_topics(self.settings.bootstrap, self.settings.namespace,
                                        self.settings.partitions,
                                        self.settings.replication_factor))

    def start_worker(self, timeout_s: float = 60) -> None:
        """A worker, and the ledger process once (a test that kills the worker keeps it)."""
        if self.ledger is None or self.ledger.poll() is not None:
            self.ledger = self.spawn("ledger", log="ledger.log")
        since = int(time.time() * 1000)
        self.worker = self.spawn("worker", log="worker.log")
        self.wait_for_worker(since, timeout_s)

    def wait_for_worker(self, since_ms: int, timeout_s: float) -> None:
        from pinewire.up import wait_for_workers
        asyncio.run(wait_for_workers(self.settings, since_ms, timeout_s))

    def start_web(self) -> None:
        self.web = self.spawn("web", log="web.log")
        wait_until(self._web_healthy, 30, "the web app's /healthz")

    def _web_healthy(self) -> bool:
        if self.web.poll() is not None:
            raise AssertionError(f"web exited with {self.web.returncode}")
        return self.healthy()

    def healthy(self) -> bool:
        try:
            return self.http.get("/healthz").status_code == 200
        except httpx.TransportError:
            return False

    @contextlib.contextmanager
    def running(self):
        """Topics, a worker and the web app, for the length of the block."""
        try:
            self.prepare_topics()
            self.start_worker()
            self.start_web()
            yield self
        finally:
            self.stop()

    def stop(self) -> None:
        for proc in (self.web, self.worker, self.ledger):
            if proc is not None:
                processes.stop(proc)
        self.http.close()

    # -- workers ------------------------------------------------------------------------
    def workers_alive(self) -> dict[str, dict]:
        """The status page's live workers by id."""
        return {w["worker_id"]: w for w in self.http.get("/status.json").json()["workers"]
                if w["alive"]}

    def committed(self, timeout_s: float = 30) -> None:
        """Until the workers have committed every record of their topics: whatever they wrote
        to their tables before is in the changelogs (Faust flushes before it commits)."""
        group, specs = registry.consumer_groups(self.settings.namespace)["workers"]
        names = [registry.topic_name(self.settings.namespace, spec) for spec in specs]
        wait_until(lambda: all(v["lag"] == 0 for v in asyncio.run(kafka.group_lag(
            self.settings.bootstrap, group, names)).values()), timeout_s,
            "the workers to commit everything", interval_s=0.2)

    def split_between(self, names: set[str]) -> dict[str, set[int]] | None:
        """Each named worker's active partitions, once they split all of them between them."""
        alive = self.workers_alive()
        owned = {n: set(alive[n]["active_partitions"]) for n in names if n in alive}
        every = set(range(self.settings.partitions))
        if len(owned) == len(names) and all(owned.values()) and \
                set().union(*owned.values()) == every and \
                sum(map(len, owned.values())) == len(every):
            return owned
        return None

    # -- configuration ------------------------------------------------------------------
    def add_link(self, **kw) -> dict:
        # both sides: the tests open shorts as often as longs (a new link's default is long)
        defaults = dict(name=f"l{secrets.token_hex(3)}", strategy="st", quantity=10,
                        sl_pct="1", target_pct="2", user_id=self.user["id"], side="both")
        row = links.add_link(self.engine, token_key=webhook_token_key(self.settings),
                             **{**defaults, **kw})
        self.publish(links=[row])
        return row

    def set_link(self, name: str, **changes) -> dict:
        """As the trader does it, on the dashboard's API: the gateway knows it at once (a
        change published by another process reaches it a moment later, and an alert sent in
        that moment is decided by the link as it was)."""
        link = links.link_by_name(self.engine, name, self.user["id"])
        answer = self.http.patch(f"/api/v1/links/{link['id']}", json=changes)
        assert answer.status_code == 200, answer.text
        return links.link_by_name(self.engine, name, self.user["id"])

    def set_bot(self, running: bool) -> None:
        """As the trader does it, on the dashboard's API: the gateway knows it at once."""
        answer = self.http.put("/api/v1/bot", json={"running": running})
        assert answer.status_code == 200 and answer.json()["own_switch"] is running, answer.text

    def publish(self, **records) -> None:
        asyncio.run(publish(self.settings.bootstrap, self.settings.namespace, **records))

    def post(self, link: dict, body: str | bytes, **headers) -> httpx.Response:
        return self.http.post(f"/hook/{link['token']}", content=body, headers=headers)

    def alert(self, link: dict, action: str, symbol: str, price: str | None = None,
              **extra) -> str:
        """Post an alert. One that carries a price comes with a tick at that price first, as
        the market would show it: a paper order then fills at once, at that price."""
        body = {"strategy": link["strategy"], "symbol": symbol, "action": action, **extra}
        if price:
            body["price"] = price
            self.ticks(symbol, [price])
        response = self.post(link, json.dumps(body))
        assert response.status_code == 200, response.text
        return response.json()["alert_id"]

    # -- ticks --------------------------------------------------------------------------
    def ticks(self, symbol: str, prices: list[str]) -> None:
        """Replay ticks (rupees) for one instrument, as fast as possible, through the feed."""
        token = instruments.lookup(symbol).token
        start = int(time.time() * 1000)
        self.replay([(start + i, token, p) for i, p in enumerate(prices)])

    def replay(self, rows: list[tuple[int, str, str]]) -> Path:
        """Replay (ts_ms, token, rupees) ticks as fast as possible through the feed; the file."""
        path = self.data_dir / f"ticks-{secrets.token_hex(4)}.csv"
        path.write_text("ts,token,ltp\n" + "".join(f"{t},{tok},{p}\n" for t, tok, p in rows))
        asyncio.run(feed.run_replay(self.settings.bootstrap, self.settings.namespace,
                                    self.settings.partitions, path,
                                    speed=0, only_subscribed=False))
        return path

    # -- ledger -------------------------------------------------------------------------
    def rows(self, table, *where) -> list[dict]:
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(select(table).where(*where))]

    def rows_when(self, table, *where, count: int, timeout_s: float = 10) -> list[dict]:
        """The rows once there are `count` of them: each topic has its own ledger agent, so
        a fill can reach SQL after the position it closed."""
        return wait_until(lambda: (rows := self.rows(table, *where)) and len(rows) >= count
                          and rows, timeout_s, f"{count} rows in {table.name}")

    def alert_row(self, alert_id: str, final: bool = True, timeout_s: float = 20) -> dict:
        def done():
            rows = self.rows(sql.alerts, sql.alerts.c.id == alert_id)
            return rows and (not final or rows[0]["status"] != "RECEIVED") and rows[0]
        return wait_until(done, timeout_s, f"alert {alert_id} in the ledger")

    def position(self, position_id: str, state: str | tuple, timeout_s: float = 20) -> dict:
        states = (state,) if isinstance(state, str) else state

        def reached():
            rows = self.rows(sql.positions, sql.positions.c.id == position_id)
            return rows and rows[0]["state"] in states and rows[0]
        return wait_until(reached, timeout_s, f"position {position_id} in state {states}")

    def produce(self, spec: registry.TopicSpec, record, key: str,
                instrument: str | None = None) -> None:
        """Write a record to a topic as a part of the pipeline would (on its instrument's
        partition when given)."""
        partition = None if instrument is None else \
            registry.instrument_partition(instrument, self.settings.partitions)

        async def send():
            async with kafka.producing(self.settings.bootstrap) as prod:
                await prod.send_and_wait(registry.topic_name(self.settings.namespace, spec),
                                         kafka.encode(record), key=key.encode(),
                                         partition=partition)
        asyncio.run(send())

    def topic_records(self, spec: registry.TopicSpec) -> list[tuple[int, int, str, dict]]:
        return self.kafka_records(registry.topic_name(self.settings.namespace, spec))

    def kafka_records(self, name: str) -> list[tuple[int, int, str, dict]]:
        """Every record of any topic (a table's changelog too): (partition, offset, key, value)."""
        async def read():
            return [r async for r in kafka.read_topic(self.settings.bootstrap, name)]
        return asyncio.run(read())
