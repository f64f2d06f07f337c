"""A local Apache Kafka cluster (KRaft, no ZooKeeper): 1 or 3 combined broker+controller JVMs
on 127.0.0.1, every node's data and log under one directory, which survives restarts.

The jars come from Maven Central, resolved once with `mvn dependency:copy-dependencies` into a
cache every checkout shares (~/.cache/pinewire/kafka-<version>/lib); nothing is downloaded
afterwards. Node i listens on base_port + 2i (clients) and base_port + 2i + 1 (controller).
"""
from __future__ import annotations

import asyncio
import base64
import os
import shutil
import signal
import subprocess
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from aiokafka import AIOKafkaConsumer
from aiokafka.errors import KafkaError

from connectors import kafka
from pinewire import processes

KAFKA_VERSION = "4.1.1"
LOG4J_VERSION = "2.25.3"
HEAP = "-Xmx384m"
_POM = """<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>pinewire</groupId><artifactId>kafka-runtime</artifactId><version>1</version>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId>
      <version>{kafka}</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-slf4j-impl</artifactId>
      <version>{log4j}</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-core</artifactId>
      <version>{log4j}</version></dependency>
  </dependencies>
</project>
"""
_LOG4J = """status = warn
appender.file.type = File
appender.file.name = file
appender.file.fileName = ${sys:kafka.logs.dir}/server.log
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.file.ref = file
"""


def cache_dir(version: str = KAFKA_VERSION) -> Path:
    root = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return root / "pinewire" / f"kafka-{version}"


def resolve(version: str = KAFKA_VERSION) -> Path:
    """The directory of the broker's jars, resolved from Maven Central the first time."""
    home = cache_dir(version)
    lib = home / "lib"
    if (lib / f"kafka_2.13-{version}.jar").exists():
        return lib
    home.mkdir(parents=True, exist_ok=True)
    (home / "pom.xml").write_text(_POM.format(kafka=version, log4j=LOG4J_VERSION))
    partial = home / "lib.partial"
    shutil.rmtree(partial, ignore_errors=True)
    done = subprocess.run(["mvn", "-q", "-B", "-f", str(home / "pom.xml"),
                           "dependency:copy-dependencies", f"-DoutputDirectory={partial}",
                           "-DincludeScope=runtime"], capture_output=True, text=True, timeout=900)
    if done.returncode != 0:
        raise kafka.KafkaUnavailable(f"resolving Apache Kafka {version} with Maven failed: "
                               f"{(done.stdout + done.stderr).strip()[-1500:]}")
    partial.rename(lib)       # whole or not at all: a half download is never taken for a cache
    return lib


def _properties(node: int, brokers: int, base_port: int, data: Path) -> str:
    voters = ",".join(f"{i}@127.0.0.1:{base_port + 2 * i + 1}" for i in range(brokers))
    port, replicas, in_sync = base_port + 2 * node, brokers, min(2, brokers)
    return "\n".join([
        "process.roles=broker,controller", f"node.id={node}",
        f"controller.quorum.voters={voters}",
        f"listeners=PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{port + 1}",
        f"advertised.listeners=PLAINTEXT://127.0.0.1:{port}",
        "controller.listener.names=CONTROLLER", "inter.broker.listener.name=PLAINTEXT",
        "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
        f"log.dirs={data / f'node-{node}' / 'data'}",
        f"default.replication.factor={replicas}", f"min.insync.replicas={in_sync}",
        f"offsets.topic.replication.factor={replicas}",
        f"transaction.state.log.replication.factor={replicas}",
        f"transaction.state.log.min.isr={in_sync}",
        "group.initial.rebalance.delay.ms=0", "auto.create.topics.enable=false",
        # a dead replica leaves the in-sync set in 10 s (not 30): writes go on on the others
        "replica.lag.time.max.ms=10000", ""])


@dataclass
class Cluster:
    data: Path
    brokers: int
    base_port: int
    java: list[str] = field(default_factory=list)
    procs: list[subprocess.Popen] = field(default_factory=list)

    @property
    def bootstrap(self) -> str:
        return ",".join(f"127.0.0.1:{self.base_port + 2 * i}" for i in range(self.brokers))

    def start_node(self, node: int) -> subprocess.Popen:
        """Start (or start again) one node on its formatted storage."""
        home = self.data / f"node-{node}"
        proc = processes.spawn(self.java + [f"-Dkafka.logs.dir={home}", "kafka.Kafka",
                                            str(home / "server.properties")],
                               home / "stdout.log")
        if node < len(self.procs):
            self.procs[node] = proc
        else:
            self.procs.append(proc)
        (self.data / "pids").write_text(" ".join(str(p.pid) for p in self.procs))
        return proc

    def stop(self) -> None:
        for proc in reversed(self.procs):
            processes.stop(proc, grace_s=20)
        self.procs.clear()
        (self.data / "pids").unlink(missing_ok=True)


def new_cluster_id() -> str:
    """Kafka's form of a UUID: its 16 bytes in URL-safe base64, unpadded, never starting with
    '-' (the storage tool would read it as an option; Kafka's own ids avoid it the same way)."""
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cluster_id.startswith("-"):
            return cluster_id


def start(data: Path, brokers: int = 1, base_port: int = 29092, timeout_s: float = 90,
          version: str = KAFKA_VERSION) -> Cluster:
    """Format the nodes' storage once (one cluster id, kept in data/cluster.id), start every
    node and return once the cluster's metadata lists all of them."""
    if brokers not in (1, 3):
        raise ValueError("a local cluster has 1 or 3 brokers")
    lib, data = resolve(version), data.resolve()
    data.mkdir(parents=True, exist_ok=True)
    id_file = data / "cluster.id"
    if not id_file.exists():
        id_file.write_text(new_cluster_id())
    cluster_id = id_file.read_text().strip()
    (data / "log4j2.properties").write_text(_LOG4J)
    java = [shutil.which("java") or "java", HEAP, "-cp", f"{lib}/*",
            f"-Dlog4j2.configurationFile={data / 'log4j2.properties'}"]
    cluster = Cluster(data, brokers, base_port, java)
    try:
        for node in range(brokers):
            home = data / f"node-{node}"
            config = home / "server.properties"
            home.mkdir(exist_ok=True)
            config.write_text(_properties(node, brokers, base_port, data))
            if not (home / "data" / "meta.properties").exists():
                subprocess.run(java + [f"-Dkafka.logs.dir={home}", "kafka.tools.StorageTool",
                                       "format", "-t", cluster_id, "-c", str(config)],
                               check=True, capture_output=True, timeout=120)
            cluster.start_node(node)
        asyncio.run(until_all_brokers(cluster, timeout_s))
    except BaseException:
        cluster.stop()
        raise
    return cluster


async def until_all_brokers(cluster: Cluster, timeout_s: float) -> None:
    loop = asyncio.get_running_loop()
    deadline, seen = loop.time() + timeout_s, 0
    while loop.time() < deadline:
        for proc in cluster.procs:
            if proc.poll() is not None:
                raise kafka.KafkaUnavailable(f"a Kafka node exited with {proc.returncode}; see "
                                       f"{cluster.data}/node-*/server.log")
        if not all([await kafka.accepts(cluster.base_port + 2 * i) for i in range(cluster.brokers)]):
            await asyncio.sleep(0.3)   # a JVM still starting: no client errors in the log
            continue
        consumer = AIOKafkaConsumer(bootstrap_servers=cluster.bootstrap, request_timeout_ms=3000)
        try:
            await consumer.start()
            await consumer._client.force_metadata_update()
            seen = len(consumer._client.cluster.brokers())
            if seen == cluster.brokers:
                return
        except (KafkaError, OSError):
            pass
        finally:
            await consumer.stop()
        await asyncio.sleep(0.5)
    raise kafka.KafkaUnavailable(f"{seen} of {cluster.brokers} Kafka brokers answered within "
                           f"{timeout_s:.0f}s; see {cluster.data}/node-*/server.log")


def recorded_pids(data: Path) -> list[int]:
    """The nodes' pids a running `kafka up` on this data directory keeps, by node."""
    path = data / "pids"
    return [int(p) for p in path.read_text().split()] if path.exists() else []


def request_restart(data: Path, node: int) -> None:
    (data / f"restart-{node}").touch()


def restart_requests(data: Path) -> list[int]:
    """Nodes asked to start again (by `pinewire kafka restart`), each request taken once."""
    nodes = []
    for request in data.glob("restart-*"):
        request.unlink(missing_ok=True)
        nodes.append(int(request.name.removeprefix("restart-")))
    return sorted(nodes)


def stop_recorded(data: Path) -> int:
    """Stop the nodes a `kafka up` on this data directory started (from its pids file)."""
    stopped = 0
    for pid in recorded_pids(data):
        try:
            os.killpg(pid, signal.SIGTERM)
            stopped += 1
        except ProcessLookupError:
            pass
    (data / "pids").unlink(missing_ok=True)
    return stopped
