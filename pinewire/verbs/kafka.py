"""kafka up, kafka down, kafka restart: a local Apache Kafka cluster (pinewire/kafka_cluster.py).
A node that dies leaves the others serving (a broker failure can be rehearsed: kill -9 one,
watch the pipeline go on, `pinewire kafka restart N` brings it back)."""
from __future__ import annotations

import signal
import time
from pathlib import Path

from pinewire import kafka_cluster
from schemas.settings import settings


def _data(a) -> Path:
    return Path(a.data) if a.data else settings().data_dir / "kafka"


def cmd_kafka_up(a) -> int:
    data = _data(a)
    print(f"pinewire: Apache Kafka {kafka_cluster.KAFKA_VERSION} (jars in "
          f"{kafka_cluster.cache_dir()}), {a.brokers} broker(s), data in {data}", flush=True)
    cluster = kafka_cluster.start(data, brokers=a.brokers, base_port=a.port)
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
    # Ctrl-C stops it even when started in a shell's background, which ignores SIGINT
    signal.signal(signal.SIGINT, signal.default_int_handler)
    replicas = f" PINEWIRE_REPLICATION_FACTOR={a.brokers}" if a.brokers > 1 else ""
    print(f"pinewire: Kafka ready: PINEWIRE_KAFKA_URL={cluster.bootstrap}{replicas}   "
          "(Ctrl-C stops it)", flush=True)
    down: set[int] = set()
    try:
        while not stopping:
            for node, proc in enumerate(cluster.procs):
                if proc.poll() is not None and node not in down:
                    down.add(node)
                    print(f"pinewire: Kafka node {node} exited with {proc.returncode} (see "
                          f"{data}/node-{node}/server.log); the others go on; `pinewire kafka "
                          f"restart {node}` starts it again", flush=True)
            for node in kafka_cluster.restart_requests(data):
                if cluster.procs[node].poll() is None:
                    print(f"pinewire: Kafka node {node} is running; not restarted", flush=True)
                    continue
                cluster.start_node(node)
                down.discard(node)
                print(f"pinewire: Kafka node {node} started again", flush=True)
            time.sleep(0.5)
        return 0
    except KeyboardInterrupt:
        return 130
    finally:
        cluster.stop()
        print("pinewire: Kafka stopped", flush=True)


def cmd_kafka_restart(a) -> int:
    """Ask the running `kafka up` on --data to start node N again; wait until it has."""
    data = _data(a)
    before = kafka_cluster.recorded_pids(data)
    if not before:
        raise SystemExit(f"pinewire: error: no `pinewire kafka up` is running on {data}")
    if not 0 <= a.node < len(before):
        raise SystemExit(f"pinewire: error: node must be 0 to {len(before) - 1}")
    kafka_cluster.request_restart(data, a.node)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        now = kafka_cluster.recorded_pids(data)
        if len(now) > a.node and now[a.node] != before[a.node]:
            print(f"node {a.node} started again (pid {now[a.node]})")
            return 0
        time.sleep(0.2)
    raise SystemExit(f"pinewire: error: node {a.node} was not started again within 60 s (is "
                     "it still running?)")


def cmd_kafka_down(a) -> int:
    print(f"stopped {kafka_cluster.stop_recorded(_data(a))} Kafka node(s)")
    return 0


def register(sub) -> None:
    k = sub.add_parser("kafka", help="a local Apache Kafka cluster (KRaft) from Maven Central")
    verbs = k.add_subparsers(dest="kafka_command", required=True)
    up = verbs.add_parser("up", help="start 1 or 3 brokers on 127.0.0.1 until Ctrl-C")
    up.add_argument("--brokers", type=int, choices=(1, 3), default=1)
    up.add_argument("--data", help="data and logs (default: <data dir>/kafka); kept across runs")
    up.add_argument("--port", type=int, default=29092,
                    help="first broker's port; broker i listens on PORT + 2i, its controller "
                         "on PORT + 2i + 1")
    up.set_defaults(fn=cmd_kafka_up)
    restart = verbs.add_parser("restart", help="start a node of a running `kafka up` again "
                                               "(after it died, or was killed to rehearse)")
    restart.add_argument("node", type=int, help="0, 1 or 2")
    restart.add_argument("--data", help="as given to kafka up")
    restart.set_defaults(fn=cmd_kafka_restart)
    down = verbs.add_parser("down", help="stop the brokers `kafka up` started on --data")
    down.add_argument("--data", help="as given to kafka up")
    down.set_defaults(fn=cmd_kafka_down)
