"""A worker's recovery with 10,000 open positions: tables in memory vs on RocksDB, after a
clean stop and after a kill.

The worker holds 10,000 open paper positions (2,000 instruments) and one sentinel position per
partition; once everything is committed it is stopped (SIGTERM), a tick that exits every
sentinel is sent, and the worker is started again; then the same with new sentinels and a kill
(SIGKILL). Resume = from that start to the exit intent of the last sentinel: every partition's
table read back and its monitoring running again. In memory, a restarted worker reads its
changelogs back whole; on RocksDB, only their tail after a clean stop, and whole after a kill
(a killed worker's tables may be ahead of their changelogs). Also the restarted worker's
resident memory. Both stores in the same run.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import signal
import tempfile
import time
from pathlib import Path

from bench.stack import BROKERS, Result, rss_bytes, wait_for
from bench.tick_path import (ENTRY, INSTRUMENTS, PER_INSTRUMENT, _position, exit_intents,
                             open_positions, produce, restore, sentinels, settled, token)
from tests.integration.harness import Pipeline, static_members

STORES = ("memory", "rocksdb")
NAME = "recovery-1"
STOPS = {"stopped": signal.SIGTERM, "killed": signal.SIGKILL}


def resume(broker: str, store: str) -> dict[str, tuple[float, int]]:
    """Per way of stopping: (seconds from the restart to the last sentinel's exit, the
    restarted worker's RSS)."""
    with BROKERS[broker]() as bootstrap, \
            tempfile.TemporaryDirectory(prefix="pinewire-bench-") as tmp:
        p = Pipeline(Path(tmp), bootstrap, PINEWIRE_LOG_LEVEL="WARNING",
                     PINEWIRE_TABLE_STORE=store)
        s = p.settings
        static = static_members(broker)
        out = {}
        try:
            p.prepare_topics()
            p.ledger = p.spawn("ledger", log="ledger.log")
            since = int(time.time() * 1000)
            p.worker = p.named_worker(NAME, static)
            p.wait_for_worker(since, 90)
            book = [_position(j, token(i), s.partitions)
                    for i in range(INSTRUMENTS) for j in range(PER_INSTRUMENT)]
            for run, (how, stop) in enumerate(STOPS.items()):
                guards = sentinels(s.partitions, run)
                asyncio.run(restore(s.bootstrap, s.namespace, guards if run else book + guards))
                wait_for(lambda: open_positions(p) == len(book) + len(guards), 180,
                         "the restored positions", interval_s=0.5)
                wait_for(lambda: settled(p), 300, "everything committed", interval_s=0.5)
                os.kill(p.worker.pid, stop)
                p.worker.wait(timeout=120)
                asyncio.run(produce(s.bootstrap, s.namespace, s.partitions,
                                    [(g["token"], ENTRY * 9 // 10) for g in guards]))
                started_ms = int(time.time() * 1000)
                p.worker = p.named_worker(NAME, static)
                ids = {g["id"] for g in guards}
                found = asyncio.run(exit_intents(
                    s.bootstrap, s.namespace, len(ids), 300,
                    keep=lambda intent: intent["position_id"] in ids))
                out[how] = ((max(i["created_at_ms"] for i in found) - started_ms) / 1000,
                            rss_bytes(p.worker.pid))
            return out
        finally:
            p.stop()


def main() -> dict:
    args = argparse.ArgumentParser()
    args.add_argument("--broker", choices=sorted(BROKERS), default="tansu")
    a = args.parse_args()
    res = Result("recovery", a.broker, positions=INSTRUMENTS * PER_INSTRUMENT)
    seconds = {}
    for store in STORES:
        for how, (seconds[store, how], rss) in resume(a.broker, store).items():
            res.figure(f"{store}, {how}: restart → every partition exits again (s)",
                       seconds[store, how])
            res.figure(f"{store}, {how}: restarted worker RSS (MB)", round(rss / 2**20, 1))
    for how in STOPS:
        res.figure(f"{how}: rocksdb ÷ memory",
                   round(seconds["rocksdb", how] / seconds["memory", how], 2))
    return res.write()


if __name__ == "__main__":
    main()
