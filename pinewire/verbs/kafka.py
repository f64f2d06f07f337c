"""kafka up, kafka down: a local Apache Kafka cluster (pinewire/kafka_cluster.py)."""
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
    try:
        while not stopping:
            if any(proc.poll() is not None for proc in cluster.procs):
                print(f"pinewire: a Kafka node exited; see {data}/node-*/server.log", flush=True)
                return 1
            time.sleep(0.5)
        return 0
    except KeyboardInterrupt:
        return 130
    finally:
        cluster.stop()
        print("pinewire: Kafka stopped", flush=True)


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
    down = verbs.add_parser("down", help="stop the brokers `kafka up` started on --data")
    down.add_argument("--data", help="as given to kafka up")
    down.set_defaults(fn=cmd_kafka_down)
