"""The tick path through Kafka: 10,000 open paper positions over 2,000 instruments.

1. Throughput: the worker is frozen (SIGSTOP) while the ticks are produced through the feed's
   own batching, then thawed; ticks/s = ticks ÷ time until the last partition's final tick was
   acted on (a sentinel position per partition exits on it). Baseline in the same run: a plain
   aiokafka consumer that reads the same records and decodes every tick (json, as Faust).
   Goal: ≥ 0.5 of the raw read.
2. Memory per open position: the worker's RSS with 10,000 positions minus with none, ÷ 10,000
   (goal ≤ 2 KB); and the changelog bytes written per tick.
3. Scaling: the throughput run with 1, 2 and 4 workers (this machine's cores bound it).
Tick → exit order on the same book is bench/exits.py.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import json
from aiokafka import AIOKafkaConsumer, TopicPartition

from agents import fills as F
from agents import positions as P
from bench.stack import BROKERS, Result, pipeline, rss_bytes, wait_for
from connectors import kafka
from connectors.ticks.feed import TickSender
from pinewire import processes
from schemas import topics as registry
from schemas.records import Command

INSTRUMENTS, PER_INSTRUMENT = 2000, 5
ENTRY = 100_000   # every position entered at 1,000.00
BEST = 100_300    # ... and the best price since is 1,003.00
PROFILE: str | None = None          # py-spy output for the first throughput run's drain


def token(i: int) -> str:
    return str(700_000 + i)


def _position(i: int, tok: str, partitions: int, *, sl: str = "1") -> dict:
    pos = P.open_position(alert_id=f"bench-{tok}-{i}", link_id=f"bench-link-{i}", token=tok,
                          symbol=f"B{tok}-EQ", exchange="NSE", side="LONG", quantity=1,
                          paper=True, sl_pct=sl, target_pct="2", trail_pct="0.5",
                          trail_activation_pct="0.4", slippage_bps=0, reference_price_paise=None,
                          partition=registry.instrument_partition(tok, partitions), now_ms=0)
    pos = F.apply_fill(pos, fill_id="f", client_order_id=pos.entry_order_id, status="FILLED",
                       quantity=1, price_paise=ENTRY, text=None, now_ms=0)
    return P.on_tick(pos, BEST, 0)[0].to_dict()   # the market has been higher since


def sentinels(partitions: int, run: int) -> list[dict]:
    """One position per partition, on an instrument outside the 2,000, that the run's last
    tick on that partition exits: when all have exited, every tick before them was handled."""
    found, i = {}, 0
    while len(found) < partitions:
        tok = str(800_000 + i)
        found.setdefault(registry.instrument_partition(tok, partitions), tok)
        i += 1
    return [_position(1000 + run, tok, partitions) for tok in found.values()]


async def restore(bootstrap: str, namespace: str, books: list[dict]) -> None:
    topic = registry.topic_name(namespace, registry.COMMANDS)
    async with kafka.producing(bootstrap, linger_ms=20) as prod:
        for pos in books:
            command = Command(command_id=f"restore:{pos['id']}", kind="RESTORE",
                              at_ms=int(time.time() * 1000), position_id=pos["id"], position=pos)
            await prod.send(topic, kafka.encode(command), key=pos["id"].encode(),
                            partition=pos["partition"])
        await prod.flush()


def open_positions(p) -> int:
    return sum(v["open_positions"] for v in worker_beats(p))


def settled(p) -> bool:
    """The workers have consumed every topic but the ticks, and the ledger all of its own."""
    s = p.settings

    def caught_up(group: str, specs) -> bool:
        names = [registry.topic_name(s.namespace, t) for t in specs if t is not registry.TICKS]
        return all(v["lag"] == 0 for v in asyncio.run(kafka.group_lag(s.bootstrap, group,
                                                                      names)).values())
    return all(caught_up(group, specs)
               for group, specs in registry.consumer_groups(s.namespace).values())


def worker_beats(p) -> list[dict]:
    topic = registry.topic_name(p.settings.namespace, registry.WORKERS)
    recent = int(time.time() * 1000) - 3 * int(p.settings.heartbeat_s * 1000)

    async def read():
        latest = {}
        async for _, _, key, value in kafka.read_topic(p.settings.bootstrap, topic):
            latest[key] = value
        return [v for v in latest.values() if v and v["at_ms"] >= recent]
    return asyncio.run(read())


def walks(n: int, seed: int, start: int = ENTRY) -> list[tuple[str, int]]:
    """n ticks over the 2,000 instruments, a random walk of ±3 paise a tick each from `start`.
    From the entry price (below the positions' best, 1,003.00) they move no position; from the
    best, about one tick in ten is a new best price for the instrument's five positions."""
    rng, prices, out = random.Random(seed), [start] * INSTRUMENTS, []
    for k in range(n):
        i = k % INSTRUMENTS
        prices[i] += rng.randint(-3, 3)
        out.append((token(i), prices[i]))
    return out


async def produce(bootstrap: str, namespace: str, partitions: int, ticks,
                  rate: float | None = None, stamp: set[int] = frozenset()) -> dict[int, int]:
    """The ticks through the feed's batching, paced at `rate` per second if given. Returns the
    timestamp given to each tick whose index is in `stamp`."""
    start, stamps = time.monotonic(), {}
    async with kafka.producing(bootstrap, linger_ms=5) as prod, \
            TickSender(prod, namespace, partitions) as sender:
        for k, (tok, price) in enumerate(ticks):
            if rate and k % 20 == 0:
                ahead = start + k / rate - time.monotonic()
                if ahead > 0:
                    await asyncio.sleep(ahead)
            now = int(time.time() * 1000)
            if k in stamp:
                stamps[k] = now
            await sender.send(tok, price, now)
    return stamps


async def exit_intents(bootstrap: str, namespace: str, wanted: int, timeout_s: float,
                       keep=lambda intent: True, partial: bool = False) -> list[dict]:
    """The first `wanted` exit intents that `keep` accepts; with partial, those found by the
    timeout."""
    topic = registry.topic_name(namespace, registry.ORDERS)
    found: list[dict] = []

    async def collect():
        async for _, _, _, value in kafka.read_topic(bootstrap, topic, follow=True, idle_s=0.1):
            if value and value["purpose"] == "EXIT" and keep(value):
                found.append(value)
                if len(found) >= wanted:
                    return
    try:
        await asyncio.wait_for(collect(), timeout_s)
    except asyncio.TimeoutError:
        if not partial:
            raise
    return found


async def raw_read(bootstrap: str, namespace: str, timeout_s: float = 60) -> float:
    """Ticks per second of a plain consumer reading the whole ticks topic and decoding every
    tick (json, the codec the worker uses), from a full topic."""
    topic = registry.topic_name(namespace, registry.TICKS)
    ends = (await kafka.topic_offsets(bootstrap, [topic]))[topic]
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False,
                                fetch_max_wait_ms=20, max_partition_fetch_bytes=8 << 20)
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in ends]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        seen, start, left = 0, time.perf_counter(), {tp for tp in tps if ends[tp.partition]}
        while left and time.perf_counter() - start < timeout_s:
            for tp, records in (await consumer.getmany(timeout_ms=200, max_records=10_000)).items():
                for record in records:
                    for _token, _price, _ts in json.loads(record.value)["ticks"]:
                        seen += 1
                if records and records[-1].offset + 1 >= ends[tp.partition]:
                    left.discard(tp)
        return seen / (time.perf_counter() - start)
    finally:
        await consumer.stop()


def throughput(p, workers: list, ticks, run: int, res: Result, label: str) -> float:
    """Freeze the workers, produce the ticks and a sentinel exit per partition, thaw them:
    ticks/s until every sentinel's exit intent exists."""
    s = p.settings
    tail = sentinels(s.partitions, run)
    asyncio.run(restore(s.bootstrap, s.namespace, tail))
    wait_for(lambda: open_positions(p) >= len(tail), 60, "the sentinels")
    wait_for(lambda: settled(p), 300, "the worker to catch up on every topic (the ledger too)",
             interval_s=0.5)
    for w in workers:
        os.kill(w.pid, signal.SIGSTOP)
    try:
        started = time.monotonic()
        asyncio.run(produce(s.bootstrap, s.namespace, s.partitions,
                            ticks + [(t["token"], ENTRY * 98 // 100) for t in tail]))
        produced_s = time.monotonic() - started
    finally:
        thawed = time.time()
        for w in workers:
            os.kill(w.pid, signal.SIGCONT)
    profiler = PROFILE and _profile(workers[0].pid, PROFILE)
    ids = {t["id"] for t in tail}
    intents = asyncio.run(exit_intents(s.bootstrap, s.namespace, len(tail), 180,
                                       keep=lambda i: i["position_id"] in ids))
    if profiler:
        profiler.wait()
    elapsed = max(i["created_at_ms"] for i in intents) / 1000 - thawed
    rate = len(ticks) / elapsed
    res.figure(f"{label}: produce while frozen (s)", round(produced_s, 2))
    res.figure(f"{label}: drain after thaw (s)", round(elapsed, 2))
    res.figure(f"{label}: ticks/s", int(rate))
    return rate


def _profile(pid: int, path: str) -> subprocess.Popen:
    """py-spy on the worker for 20 s: a flame graph (.svg), speedscope (.json) or collapsed
    stacks (anything else)."""
    kind = {"json": "speedscope", "svg": "flamegraph"}.get(path.rsplit(".", 1)[-1], "raw")
    return subprocess.Popen(
        [str(Path(sys.executable).parent / "py-spy"), "record", "--pid", str(pid), "--duration",
         "20", "--rate", "200", "--nonblocking", "--idle", "--format", kind, "--output", path],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def main() -> dict:
    args = argparse.ArgumentParser()
    args.add_argument("--ticks", type=int, default=400_000)
    args.add_argument("--no-scaling", action="store_true")
    args.add_argument("--profile", help="py-spy the worker's first 20 s of draining into this "
                      "file (.svg flame graph, .json speedscope, else collapsed stacks)")
    args.add_argument("--broker", choices=sorted(BROKERS), default="tansu",
                      help="the embedded broker (default) or a one-node Apache Kafka")
    a = args.parse_args()
    global PROFILE
    PROFILE = a.profile
    res = Result("tick_path", a.broker, positions=INSTRUMENTS * PER_INSTRUMENT,
                 instruments=INSTRUMENTS,
                 ticks=a.ticks)
    with BROKERS[a.broker]() as bootstrap, pipeline(bootstrap, web=False) as p:
        s = p.settings
        idle_rss = rss_bytes(p.worker.pid)
        book = [_position(j, token(i), s.partitions)
                for i in range(INSTRUMENTS) for j in range(PER_INSTRUMENT)]
        asyncio.run(restore(s.bootstrap, s.namespace, book))
        wait_for(lambda: open_positions(p) == len(book), 120, "the restored positions")
        loaded_rss = rss_bytes(p.worker.pid)
        per_position = (loaded_rss - idle_rss) / len(book)
        res.figure("worker RSS, no positions (MB)", round(idle_rss / 2**20, 1))
        res.figure(f"worker RSS, {len(book)} positions (MB)", round(loaded_rss / 2**20, 1))
        res.goal("memory per open position (bytes)", int(per_position), "≤ 2048",
                 per_position <= 2048)

        throughputs(p, res, a)
    return res.write()


def throughputs(p, res: Result, a) -> None:
    """Steady and trending books against the raw read, then 2 and 4 workers."""
    s = p.settings
    before = asyncio.run(changelog_usage(p, None))
    rate = throughput(p, [p.worker], walks(a.ticks, seed=1), 0, res, "1 worker")
    records, size = asyncio.run(changelog_usage(p, before))
    res.figure("changelog bytes per tick", round(size / a.ticks, 1))
    raw = asyncio.run(raw_read(s.bootstrap, s.namespace))
    res.figure("raw aiokafka read + decode, same topic: ticks/s", int(raw))
    res.goal("ticks/s per worker ÷ raw aiokafka consume", round(rate / raw, 3), "≥ 0.5",
             rate / raw >= 0.5, raw_ticks_per_s=int(raw))
    before = asyncio.run(changelog_usage(p, None))
    trending = throughput(p, [p.worker], walks(a.ticks, seed=3, start=BEST), 1, res,
                          "1 worker, trending (new bests)")
    records, size = asyncio.run(changelog_usage(p, before))
    res.figure("trending: changelog records per tick", round(records / a.ticks, 4))
    res.figure("trending: changelog bytes per tick", round(size / a.ticks, 1))
    res.figure("trending: ticks/s ÷ raw", round(trending / raw, 3))
    if not a.no_scaling:   # before the exit-latency run, whose exits are still closing
        scaling(p, res, a.ticks)   # long after it


async def changelog_usage(p, since: dict | None):
    """The changelog topics' end offsets (since=None), or the records and bytes written to
    them since those offsets."""
    s = p.settings
    names = [f"{s.namespace}-{table}-changelog"
             for table in ("positions", "slots", "dedupe", "executions", "paper_book", "sweeps")]
    ends = await kafka.topic_offsets(s.bootstrap, names)
    if since is None:
        return ends
    records = size = 0
    for name in names:
        async for partition, offset, key, value in kafka.read_topic(s.bootstrap, name):
            if offset >= since.get(name, {}).get(partition, 0):
                records += 1
                size += len(key) + len(json.dumps(value))
    return records, size


def scaling(p, res: Result, n: int) -> None:
    """The throughput run again with 2 and 4 workers sharing the partitions."""
    extra, live = [], open_positions(p)
    try:
        for run, count in enumerate((2, 4), start=2):   # runs 0 and 1: one worker
            while len(extra) < count - 1:
                extra.append(p.spawn("worker", log=f"worker{len(extra) + 2}.log"))
            wait_for(lambda: len([b for b in worker_beats(p) if b["active"]]) == count and
                     open_positions(p) >= live, 300,
                     f"{count} workers sharing the partitions")
            total = throughput(p, [p.worker, *extra], walks(n, seed=10 + run), run, res,
                               f"{count} workers")
            res.figure(f"{count} workers: ticks/s per worker", int(total / count))
    finally:
        for w in extra:
            processes.stop(w)


if __name__ == "__main__":
    main()
