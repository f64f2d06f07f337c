"""Cold starts on Apache Kafka: a new three-node cluster (replication 3, two replicas in sync
for a write: every topic's partitions on all three nodes), three workers started together on
it, which create the pipeline's topics between them. Every alert answered 200 is decided (never "internal error" because a changelog was not
yet in a worker's metadata); one worker is then killed with SIGKILL and the others take its
partitions over with their state: every position it held exits once at its stop.

Repeated on a new cluster each round: PINEWIRE_TEST_COLD_STARTS rounds (1 under `make test`,
10 under `make chaos`). Prints each round's times."""
import asyncio
import os
import signal
import time

import pytest

from connectors import kafka
from pinewire import kafka_cluster, processes
from schemas import sql
from schemas import topics as registry
from tests.integration.harness import (Pipeline, free_ports, static_members, symbols_on,
                                       wait_until)
from tests.integration.test_kafka_cluster import _alive, replication

ROUNDS = int(os.environ.get("PINEWIRE_TEST_COLD_STARTS", "1"))
WORKERS, SYMBOLS = 3, 12


@pytest.mark.chaos
@pytest.mark.timeout(240 * ROUNDS)
def test_workers_started_together_on_a_new_cluster_decide_every_alert_and_take_over(
        tmp_path, capsys):
    figures = [_round(tmp_path / f"round-{n}") for n in range(1, ROUNDS + 1)]
    with capsys.disabled():
        print(f"\ncold starts on 3 Kafka nodes: {ROUNDS} rounds; each (workers sharing, "
              f"alerts decided, takeover exits) in s: {figures}")


def _round(directory) -> tuple[float, float, float]:
    cluster = kafka_cluster.start(directory / "kafka", 3, base_port=free_ports(6))
    p = Pipeline(directory, cluster.bootstrap, PINEWIRE_REPLICATION_FACTOR=3,
                 PINEWIRE_LOG_LEVEL="WARNING")
    workers: dict[str, object] = {}
    try:
        began = time.monotonic()
        p.ledger = p.spawn("ledger", log="ledger.log")
        p.start_web()
        for n in range(1, WORKERS + 1):               # together: none created the topics
            workers[f"cold-{n}"] = p.named_worker(f"cold-{n}", static_members("kafka"))
        owned = wait_until(lambda: p.split_between(set(workers)), 180,
                           "three workers sharing the partitions", interval_s=0.5)
        sharing = time.monotonic() - began
        # one cluster: every partition of every topic the workers made (changelogs too) on all
        # three nodes, two of them in sync for a write
        names = list(asyncio.run(kafka.topic_offsets(p.settings.bootstrap, [
            registry.topic_name(p.settings.namespace, spec) for spec in registry.ALL] + [
            registry.changelog_name(p.settings.namespace, t) for t in registry.TABLES])))
        assert len(names) == len(registry.ALL) + len(registry.TABLES)
        assert asyncio.run(replication(cluster.bootstrap, names)) == {(3, "2")}

        began = time.monotonic()
        link = p.add_link(sl_pct="1", target_pct=None, quantity=1)
        symbols = symbols_on(set(range(p.settings.partitions)), SYMBOLS, p.settings.partitions)
        alerts = {s: p.alert(link, "BUY", s, price="1000") for s in symbols}
        decided = {s: p.alert_row(a, timeout_s=60) for s, a in alerts.items()}
        assert {s: (r["status"], r["reason"]) for s, r in decided.items()
                if r["status"] != "ACCEPTED"} == {}
        pids = {s: r["position_id"] for s, r in decided.items()}
        for pid in pids.values():
            p.position(pid, "OPEN", timeout_s=30)
        deciding = time.monotonic() - began

        victim = max(owned, key=lambda w: len(owned[w]))
        lost = {s for s in symbols if registry.instrument_partition(
            _token(s), p.settings.partitions) in owned[victim]}
        assert lost, "the killed worker held positions"
        p.committed()
        os.kill(workers[victim].pid, signal.SIGKILL)
        workers[victim].wait()
        began = time.monotonic()
        for s in symbols:
            p.ticks(s, ["989"])                             # under every 990.00 stop
        for s, pid in pids.items():
            closed = p.position(pid, "CLOSED", timeout_s=120)
            assert (closed["exit_reason"], closed["exit_trigger_paise"]) == ("SL", 98900), s
        exits: dict[str, set] = {}
        for _, _, _, intent in p.topic_records(registry.ORDERS):
            if intent["purpose"] == "EXIT":
                exits.setdefault(intent["position_id"], set()).add(intent["client_order_id"])
        assert {pid: len(exits.get(pid, ())) for pid in pids.values()} == \
            {pid: 1 for pid in pids.values()}, "one exit a position"
        assert p.rows(sql.alerts, sql.alerts.c.status != "ACCEPTED") == []
        return round(sharing, 1), round(deciding, 1), round(time.monotonic() - began, 1)
    finally:
        for proc in workers.values():
            processes.stop(proc)
        p.stop()
        pids = [proc.pid for proc in cluster.procs]
        cluster.stop()
        assert not any(_alive(pid) for pid in pids), "every node stopped"


def _token(symbol: str) -> str:
    from schemas import instruments
    return instruments.lookup(symbol).token
