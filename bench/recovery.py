"""A worker's recovery with 10,000 open positions: tables in memory vs on RocksDB.

The worker holds 10,000 open paper positions (2,000 instruments) and one sentinel position per
partition; once everything is committed it is killed (SIGKILL), a tick that exits every
sentinel is sent, and the worker is started again. Resume = from that start to the exit intent
of the last sentinel: every partition's table read back and its monitoring running again. In
memory, a restarted worker reads its changelogs back whole; on RocksDB, only their tail since
its last write. Also the restarted worker's resident memory. Both stores in the same run.
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
from tests.integration.harness import Pipeline

STORES = ("memory", "rocksdb")
NAME = "recovery-1"


def resume(broker: str, store: str) -> tuple[float, int]:
    """(seconds from the restart to the last sentinel's exit, the restarted worker's RSS)."""
    with BROKERS[broker]() as bootstrap, \
            tempfile.TemporaryDirectory(prefix="pinewire-bench-") as tmp:
        p = Pipeline(Path(tmp), bootstrap, PINEWIRE_LOG_LEVEL="WARNING",
                     PINEWIRE_TABLE_STORE=store)
        s = p.settings
        static = broker == "kafka"    # the embedded broker keeps a restarted static member out
        try:
            p.prepare_topics()
            p.ledger = p.spawn("ledger", log="ledger.log")
            since = int(time.time() * 1000)
            p.worker = p.named_worker(NAME, static)
            p.wait_for_worker(since, 90)
            guards = sentinels(s.partitions, 0)
            book = [_position(j, token(i), s.partitions)
                    for i in range(INSTRUMENTS) for j in range(PER_INSTRUMENT)] + guards
            asyncio.run(restore(s.bootstrap, s.namespace, book))
            wait_for(lambda: open_positions(p) == len(book), 180, "the restored positions",
                     interval_s=0.5)
            wait_for(lambda: settled(p), 300, "everything committed", interval_s=0.5)
            os.kill(p.worker.pid, signal.SIGKILL)
            p.worker.wait()
            asyncio.run(produce(s.bootstrap, s.namespace, s.partitions,
                                [(g["token"], ENTRY * 9 // 10) for g in guards]))
            started_ms = int(time.time() * 1000)
            p.worker = p.named_worker(NAME, static)
            ids = {g["id"] for g in guards}
            found = asyncio.run(exit_intents(s.bootstrap, s.namespace, len(ids), 300,
                                             keep=lambda intent: intent["position_id"] in ids))
            seconds = (max(i["created_at_ms"] for i in found) - started_ms) / 1000
            return seconds, rss_bytes(p.worker.pid)
        finally:
            p.stop()


def main() -> dict:
    args = argparse.ArgumentParser()
    args.add_argument("--broker", choices=sorted(BROKERS), default="tansu")
    a = args.parse_args()
    res = Result("recovery", a.broker, positions=INSTRUMENTS * PER_INSTRUMENT)
    seconds = {}
    for store in STORES:
        seconds[store], rss = resume(a.broker, store)
        res.figure(f"{store}: restart → every partition exits again (s)", seconds[store])
        res.figure(f"{store}: restarted worker RSS (MB)", round(rss / 2**20, 1))
    res.figure("rocksdb ÷ memory", round(seconds["rocksdb"] / seconds["memory"], 2))
    return res.write()


if __name__ == "__main__":
    main()
