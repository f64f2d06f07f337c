"""Tick → exit order against a floor measured in the same run: 10,000 open paper positions over
2,000 instruments (tick_path's book), ticks paced at 10,000/s through the feed's batching.

The floor: how old a tick is when a plain aiokafka consumer (the worker's fetch wait, no work)
sees it. Latency: the exit intent's creation − the tick's timestamp; an exit not found within
120 s counts as 120 s.

1. Steady: for 10 s one tick in 1,000 takes an instrument through the stops of its five
   positions (50 exits/s), the worker settled. Goal: p99 ≤ 1.5 × the floor's p99.
2. After a rebalance: the same right after two more workers joined and left, and for 30 s
   right after a second worker was killed (SIGKILL) and the first took its partitions over.
   Goal: p99 ≤ 2 × the floor's p99.
3. Crash burst: two workers, one tick in 100 for 10 s (500 exits/s: 5,000 exits over 1,000
   instruments). Goals: p99 ≤ 1 s, and the workers' CPU per exit ≤ 0.5 ms: the run's CPU
   minus that of the same ticks with no stop in them, ÷ the exits.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import time

from bench.stack import (BROKERS, Result, ages_seen, cpu_seconds, percentile, pipeline,
                         wait_for)
from bench.tick_path import (ENTRY, INSTRUMENTS, PER_INSTRUMENT, _position, _profile,
                             exit_intents, open_positions, produce, restore, settled,
                             token, walks, worker_beats)
from pinewire import processes
from schemas import topics as registry

MISSING_MS = 120_000
RUNS = ("steady", "rebalance", "takeover", "crash")


async def raw_ages(bootstrap: str, namespace: str, partitions: int, seconds: float) -> list:
    """The floor under tick → exit: how old each tick is (ms) when a plain consumer sees it,
    ticks paced at 10,000/s through the feed's batching."""
    n = int(10_000 * seconds)

    async def send() -> int:
        await produce(bootstrap, namespace, partitions, walks(n, seed=4), rate=10_000)
        return n
    return await ages_seen(bootstrap, registry.topic_name(namespace, registry.TICKS), partitions,
                           lambda r: [ts for _tok, _price, ts in json.loads(r.value)["ticks"]],
                           send)


def run(p, seconds: float, every: int, first: int, cpu_of: tuple[int, ...] = (),
        profile: str | None = None) -> tuple[list[float], int, float, list[tuple[int, float]]]:
    """Ticks paced at 10,000/s; every `every`-th takes an instrument not yet hit (from number
    `first` on) 1.5 % down, through the stop of its five positions. Each exit's latency (ms),
    the exits wanted, the CPU seconds the processes `cpu_of` used until all was settled, and
    (tick's time, latency) of each exit found, in tick order."""
    s = p.settings
    n = int(10_000 * seconds)
    ticks, hits = walks(n, seed=2), {}
    for k in range(0, n, every) if every else ():
        i = first + k // every
        if i >= INSTRUMENTS:
            break
        ticks[k] = (token(i), ENTRY * 985 // 1000)
        hits[k] = token(i)
    cpu_before = sum(cpu_seconds(pid) for pid in cpu_of)
    profiler = profile and _profile(cpu_of[0], profile)
    stamps = asyncio.run(produce(s.bootstrap, s.namespace, s.partitions, ticks, rate=10_000,
                                 stamp=set(hits)))
    at = {hits[k]: ts for k, ts in stamps.items()}
    wanted = len(at) * PER_INSTRUMENT
    intents = asyncio.run(exit_intents(s.bootstrap, s.namespace, wanted, 120,
                                       keep=lambda i: i["token"] in at, partial=True)) \
        if wanted else []
    wait_for(lambda: settled(p), 300, "the workers to catch up", interval_s=0.5)
    cpu = sum(cpu_seconds(pid) for pid in cpu_of) - cpu_before
    if profiler:
        profiler.wait()
    timed = sorted((at[i["token"]], i["created_at_ms"] - at[i["token"]]) for i in intents)
    latency = [ms for _, ms in timed] + [MISSING_MS] * (wanted - len(timed))
    return latency, wanted, cpu, timed


def report(res: Result, name: str, latency: list[float], wanted: int) -> float:
    res.figure(f"{name}: exits within 120 s",
               f"{sum(1 for ms in latency if ms < MISSING_MS)} of {wanted}")
    res.figure(f"{name}: p50 (ms)", percentile(latency, 50))
    res.figure(f"{name}: max (ms)", max(latency))
    return percentile(latency, 99)


def beats_of(p, pids: set[int]) -> list[dict]:
    return [b for b in worker_beats(p) if b["pid"] in pids]


def serving(p, pids: set[int], live: int) -> bool:
    """Exactly these workers share every partition and watch `live` positions between them."""
    beats = beats_of(p, pids)
    active = sorted(q for b in beats for q in b["active"])
    return len(beats) == len(pids) and active == list(range(p.settings.partitions)) and \
        sum(b["open_positions"] for b in beats) >= live


def join(p, count: int, live: int, name: str) -> list:
    """`count` more workers, once they share the partitions with the first."""
    extra = [p.spawn("worker", log=f"{name}{k}.log") for k in range(count)]
    pids = {p.worker.pid, *(w.pid for w in extra)}
    wait_for(lambda: serving(p, pids, live) and all(beats_of(p, {w.pid})[0]["active"]
                                                    for w in extra), 300,
             f"{count + 1} workers sharing the partitions", interval_s=0.5)
    return extra


def alone_again(p, live: int, since_ms: int) -> None:
    """The first worker serves every partition again, by a heartbeat sent after `since_ms`."""
    def done() -> bool:
        beats = beats_of(p, {p.worker.pid})
        return bool(beats) and beats[0]["at_ms"] > since_ms and serving(p, {p.worker.pid}, live)
    wait_for(done, 300, "the first worker serving every partition again", interval_s=0.2)


def main() -> dict:
    args = argparse.ArgumentParser()
    args.add_argument("--broker", choices=sorted(BROKERS), default="tansu",
                      help="the embedded broker (default) or a one-node Apache Kafka")
    args.add_argument("--profile", help="py-spy the first worker during the crash burst into "
                      "this file (.svg flame graph, .json speedscope, else collapsed stacks)")
    args.add_argument("--runs", default=",".join(RUNS),
                      help=f"which of {', '.join(RUNS)} to measure (default: all)")
    a = args.parse_args()
    runs = set(a.runs.split(","))
    res = Result("exits", a.broker, positions=INSTRUMENTS * PER_INSTRUMENT,
                 instruments=INSTRUMENTS, ticks_per_s=10_000)
    with BROKERS[a.broker]() as bootstrap, pipeline(bootstrap, web=False) as p:
        s = p.settings
        book = [_position(j, token(i), s.partitions)
                for i in range(INSTRUMENTS) for j in range(PER_INSTRUMENT)]
        asyncio.run(restore(s.bootstrap, s.namespace, book))
        wait_for(lambda: open_positions(p) == len(book), 120, "the restored positions")
        wait_for(lambda: settled(p), 300, "the worker to catch up", interval_s=0.5)
        floor = percentile(asyncio.run(raw_ages(s.bootstrap, s.namespace, s.partitions, 10)), 99)
        res.figure("floor: a plain consumer's tick age p99 (ms)", round(floor))
        live = len(book)

        def goal(name: str, latency, wanted, times: float) -> None:
            p99 = report(res, name, latency, wanted)
            res.figure(f"{name}: p99 (ms)", p99)
            res.goal(f"{name}: p99 ÷ the floor's p99", round(p99 / floor, 2), f"≤ {times}",
                     p99 <= times * floor, plain_consumer_tick_age_p99_ms=round(floor))

        if "steady" in runs:
            latency, wanted, _, _ = run(p, 10, 1000, 0)
            goal("steady, 50 exits/s", latency, wanted, 1.5)
            live -= wanted
        if "rebalance" in runs:
            since = int(time.time() * 1000)
            processes.stop_all(join(p, 2, live, "joined"))
            alone_again(p, live, since)
            latency, wanted, _, _ = run(p, 10, 1000, 100)
            goal("right after 2 workers joined and left, 50 exits/s", latency, wanted, 2)
            live -= wanted
        if "takeover" in runs:
            live -= takeover(p, res, live, goal)
        if "crash" in runs:
            crash(p, res, live, a.profile)
    return res.write()


def takeover(p, res: Result, live: int, goal) -> int:
    """A second worker joins and is killed; for the 30 s after the first took its partitions
    over, 50 exits/s. Returns the exits."""
    killed = join(p, 1, live, "killed")[0]
    wait_for(lambda: settled(p), 300, "the workers to catch up", interval_s=0.5)
    since = int(time.time() * 1000)
    os.kill(killed.pid, signal.SIGKILL)
    killed.wait()
    alone_again(p, live, since)
    res.figure("kill -9 → the first worker serving every partition (s)",
               round(time.time() - since / 1000, 1))
    latency, wanted, _, timed = run(p, 30, 1000, 200)
    name = "the 30 s after a kill -9 takeover, 50 exits/s"
    goal(name, latency, wanted, 2)
    start = timed[0][0] if timed else 0
    for second in range(0, 30, 5):
        window = [ms for at, ms in timed if second <= (at - start) / 1000 < second + 5]
        if window:
            res.figure(f"{name}: {second}-{second + 5} s: p50 / p99 (ms)",
                       f"{percentile(window, 50):.0f} / {percentile(window, 99):.0f}")
    return wanted


def crash(p, res: Result, live: int, profile: str | None) -> None:
    """Two workers; 500 exits/s for 10 s, and the same ticks without the stops for the CPU."""
    second = join(p, 1, live, "second")
    try:
        pids = (p.worker.pid, second[0].pid)
        wait_for(lambda: settled(p), 300, "the workers to catch up", interval_s=0.5)
        _, _, quiet, _ = run(p, 10, 0, 0, cpu_of=pids)
        latency, wanted, cpu, _ = run(p, 10, 100, 500, cpu_of=pids, profile=profile)
        name = "crash burst, 2 workers, 500 exits/s"
        p99 = report(res, name, latency, wanted)
        res.goal(f"{name}: p99 (ms)", p99, "≤ 1000", p99 <= 1000)
        res.figure("2 workers' CPU, the same 10 s of ticks with no exits (s)", round(quiet, 2))
        res.figure(f"{name}: 2 workers' CPU (s)", round(cpu, 2))
        per_exit = (cpu - quiet) / wanted * 1000
        res.goal(f"{name}: CPU per exit (ms)", round(per_exit, 3), "≤ 0.5", per_exit <= 0.5,
                 cpu_s_same_ticks_no_exits=round(quiet, 2), exits=wanted)
    finally:
        processes.stop_all(second)


if __name__ == "__main__":
    main()
