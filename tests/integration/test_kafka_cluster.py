"""A local Apache Kafka cluster from Maven Central: `pinewire kafka up` in the foreground until
Ctrl-C, its data kept across runs; three brokers, one of them killed and started again. (Three
brokers forming one cluster that replicates pinewire's topics: test_cold_start.py.)"""
import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

from connectors import kafka
from pinewire import kafka_cluster
from tests.integration.harness import free_ports, wait_until


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def _round_trip(bootstrap: str, topic: str, value: bytes | None,
                create: bool = True) -> list[bytes]:
    """Produce `value` (acks=all) unless None, to a new topic unless not `create`; every
    record of the topic."""
    async def go():
        if value is not None:
            if create:
                await kafka.create_topic(bootstrap, topic, 3)
            async with kafka.producing(bootstrap, acks="all") as producer:
                await producer.send_and_wait(topic, value, key=b"k")
        return [v async for _, _, _, v in kafka.read_topic(bootstrap, topic)]
    return asyncio.run(go())


def test_kafka_up_serves_until_ctrl_c_and_keeps_its_data(tmp_path):
    port, data, runs = free_ports(2), tmp_path / "kafka", []

    def up() -> subprocess.Popen:
        log = tmp_path / f"up-{len(runs)}.log"
        runs.append(log)
        proc = subprocess.Popen(
            [sys.executable, "-m", "pinewire.cli", "kafka", "up", "--data", str(data),
             "--port", str(port)], stdout=open(log, "ab"), stderr=subprocess.STDOUT,
            start_new_session=True)
        # the first run resolves the jars from Maven Central
        wait_until(lambda: proc.poll() is not None or "Kafka ready" in log.read_text(), 600,
                   "pinewire kafka up")
        assert proc.poll() is None, log.read_text()
        return proc

    def ctrl_c(proc: subprocess.Popen) -> None:
        pids = [int(p) for p in (data / "pids").read_text().split()]
        os.killpg(proc.pid, signal.SIGINT)
        assert proc.wait(timeout=60) == 130
        wait_until(lambda: not any(_alive(p) for p in pids), 30, "every Kafka node to exit")

    proc = up()
    try:
        bootstrap = f"127.0.0.1:{port}"
        assert f"PINEWIRE_KAFKA_URL={bootstrap}" in runs[0].read_text()
        assert _round_trip(bootstrap, "kept", b'{"n": 1}') == [{"n": 1}]
        assert "Kafka Server started" in (data / "node-0" / "server.log").read_text()
        ctrl_c(proc)
        proc = up()                                   # same data directory: the record is there
        assert _round_trip(bootstrap, "kept", None) == [{"n": 1}]
        ctrl_c(proc)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        kafka_cluster.stop_recorded(data)


async def replication(bootstrap: str, names: list[str]) -> set[tuple[int, str]]:
    """(replicas, min.insync.replicas) of every partition of these topics."""
    from aiokafka.admin import AIOKafkaAdminClient
    from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        described = await admin.describe_topics(names)
        configs = await admin.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, name) for name in names])
    finally:
        await admin.close()
    in_sync = {topic: value for response in configs
               for _error, _message, _type, topic, entries in response.resources
               for key, value, *_ in entries if key == "min.insync.replicas"}
    assert in_sync, "no topic's min.insync.replicas came back"
    return {(len(p["replicas"]), in_sync.get(t["topic"], "2")) for t in described
            for p in t["partitions"]}


def test_a_node_of_three_killed_leaves_the_others_serving_and_restarts_on_request(tmp_path):
    """kill -9 of one node of `pinewire kafka up --brokers 3`: the other two go on serving
    (writes need two in sync), and `pinewire kafka restart N` brings the node back into the
    cluster."""
    port, data = free_ports(6), tmp_path / "kafka3"
    log = tmp_path / "up.log"
    up = subprocess.Popen([sys.executable, "-m", "pinewire.cli", "kafka", "up", "--brokers",
                           "3", "--data", str(data), "--port", str(port)],
                          stdout=open(log, "ab"), stderr=subprocess.STDOUT,
                          start_new_session=True)
    try:
        wait_until(lambda: up.poll() is not None or "Kafka ready" in log.read_text(), 600,
                   "pinewire kafka up --brokers 3")
        assert up.poll() is None, log.read_text()
        bootstrap = ",".join(f"127.0.0.1:{port + 2 * i}" for i in range(3))
        asyncio.run(kafka.create_topic(bootstrap, "kept", 3, replication=3))
        assert _round_trip(bootstrap, "kept", b'{"n": 1}', create=False) == [{"n": 1}]
        pids = kafka_cluster.recorded_pids(data)
        os.kill(pids[1], signal.SIGKILL)
        wait_until(lambda: "Kafka node 1 exited" in log.read_text(), 30, "the node's death")
        assert up.poll() is None and _alive(pids[0]) and _alive(pids[2]), log.read_text()
        survivors = f"127.0.0.1:{port},127.0.0.1:{port + 4}"
        assert _round_trip(survivors, "kept", b'{"n": 2}', create=False) == [{"n": 1}, {"n": 2}]
        again = subprocess.run([sys.executable, "-m", "pinewire.cli", "kafka", "restart", "1",
                                "--data", str(data)], capture_output=True, text=True,
                               timeout=90)
        assert again.returncode == 0 and "node 1 started again" in again.stdout, again.stderr
        cluster = kafka_cluster.Cluster(data, 3, port)
        asyncio.run(kafka_cluster.until_all_brokers(cluster, 90))
        assert _round_trip(bootstrap, "kept", None) == [{"n": 1}, {"n": 2}]
    finally:
        os.killpg(up.pid, signal.SIGINT)
        up.wait(timeout=90)
        kafka_cluster.stop_recorded(data)
