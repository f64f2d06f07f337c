"""The webhook path: ack latency under open-loop load, and alert → paper fill.

1. Webhook ack latency: 300 and 1,000 alerts/s for 10 s each, a new TCP connection per alert
   (bench/load.py, its own process), against pinewire's gateway (a worker and a tick feed run
   meanwhile, as in production) and, in the same run, against a bare Starlette app that only
   produces the body with acks=all to the same broker (bench/bare_gateway.py); and against
   pinewire's gateway alone for 4 s, its worker and ledger paused as the bare app has no
   consumers (briefer than their 6 s group session: a pause that cost a rebalance would be
   measured in the runs after it);
   then 1,000/s again with PINEWIRE_WEB_WORKERS=2.
   Goal at each rate: every alert answered 2xx, p99 ≤ 1.5 × the bare app's p99.
2. Alert → paper fill: 100 alerts/s over 100 links for 10 s (a BUY and a SELL per link in
   turn); for each BUY, the fill's time on the fills topic minus the time the alert was sent.
   The floor, in the same run: one hop, a record produced with acks=all at 100/s and read by a
   plain aiokafka consumer (the worker's fetch wait). Goal: p99 ≤ 3 × the floor's p99 (an alert
   takes three hops: alerts, orders, fills).
Writes bench/results/webhook.json and bench/results/alert_fill.json.
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from bench.stack import BROKERS, RESULTS, Result, ages_seen, percentile, pipeline, wait_for
from bench.tick_path import settled
from connectors import kafka
from pinewire import processes
from schemas import ids, sql, topics as registry
from tests.integration.harness import free_port

LINKS = 100
PAUSED_S = 4    # the gateway alone: the workers' group session (6 s) outlasts the pause


def bodies(links: list[dict], n: int) -> list[tuple[str, str]]:
    """n alerts: per link a BUY then a SELL (open, close), the links in turn; each body
    distinct (a repeat within the dedupe window would be ignored as a duplicate)."""
    out = []
    for i in range(n):
        link, action = links[i % len(links)], ("BUY", "SELL")[i // len(links) % 2]
        out.append((f"/hook/{link['token']}", json.dumps(
            {"strategy": link["strategy"], "symbol": "RELIANCE", "action": action,
             "comment": f"bench {i}"})))
    return out


def load(port: int, requests, rate: float, seconds: float) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        spec, out = Path(tmp) / "spec.json", Path(tmp) / "out.json"
        spec.write_text(json.dumps({"host": "127.0.0.1", "port": port, "requests": requests}))
        subprocess.run([sys.executable, "-m", "bench.load", str(spec), str(rate), str(seconds),
                        str(out)], check=True, timeout=seconds + 60)
        results = json.loads(out.read_text())
    ok = [r[1] for r in results if r[2] == 200]
    errors: dict = {}
    for r in results:
        if r[2] != 200:
            errors[str(r[2])] = errors.get(str(r[2]), 0) + 1
    return {"sent": len(results), "ok": len(ok), "errors": errors,
            "p50_ms": round(percentile(ok, 50), 2), "p99_ms": round(percentile(ok, 99), 2),
            "max_ms": round(max(ok), 2) if ok else None}


def bare_server(bootstrap: str, topic: str):
    port = free_port()
    asyncio.run(kafka.create_topic(bootstrap, topic, 8))
    proc = processes.spawn(
        [sys.executable, "-m", "uvicorn", "bench.bare_gateway:app", "--host", "127.0.0.1",
         "--port", str(port), "--no-access-log", "--log-level", "warning"],
        Path(tempfile.mkdtemp(prefix="pinewire-bare-")) / "bare.log",
        env={**__import__("os").environ, "BARE_BOOTSTRAP": bootstrap, "BARE_TOPIC": topic})
    wait_for(lambda: _answers(port), 30, "the bare gateway")
    return proc, port


def _answers(port: int) -> bool:
    try:
        return httpx.post(f"http://127.0.0.1:{port}/hook/x", content=b"{}").status_code == 200
    except httpx.TransportError:
        return False


def webhook(p, links, seconds: float, broker: str) -> dict:
    res = Result("webhook", broker, seconds_per_rate=seconds, links=LINKS)
    requests = bodies(links, int(1000 * seconds))
    bare, bare_port = bare_server(p.settings.bootstrap, f"{p.settings.namespace}.bare")
    try:
        for rate in (300, 1000):
            base = load(bare_port, requests, rate, seconds)
            ours = load(p.settings.web_port, requests, rate, seconds)
            with paused(p.worker, p.ledger):   # briefer than their group session: no
                alone = load(p.settings.web_port, requests, rate, PAUSED_S)   # rebalance after
            wait_for(lambda: settled(p), 300, "the worker and ledger to catch up", 0.5)
            for name, r in (("bare baseline", base), ("pinewire", ours),
                            ("pinewire, worker and ledger paused", alone)):
                res.figure(f"{rate}/s {name}", r)
            res.figure(f"{rate}/s: p99 ÷ bare, the gateway alone (worker and ledger paused)",
                       round(alone["p99_ms"] / base["p99_ms"], 2))
            ratio = ours["p99_ms"] / base["p99_ms"] if base["p99_ms"] else float("inf")
            res.goal(f"webhook ack p99 ÷ bare app's p99 at {rate:,}/s", round(ratio, 2),
                     "≤ 1.5, every alert 2xx", ratio <= 1.5 and ours["ok"] == ours["sent"],
                     bare_p99_ms=base["p99_ms"], pinewire_p99_ms=ours["p99_ms"],
                     answered_2xx=f"{ours['ok']} of {ours['sent']}")
        two = two_web_processes(p, requests, seconds)
        res.figure("1000/s pinewire, PINEWIRE_WEB_WORKERS=2", two)
        res.figure("1000/s: p99 ÷ bare, 2 web processes", round(two["p99_ms"] / base["p99_ms"], 2))
    finally:
        processes.stop(bare)
    return res.write()


@contextlib.contextmanager
def paused(*procs):
    """The gateway alone, as the bare app is: the processes that consume its alerts frozen
    (SIGSTOP) meanwhile; they catch up after."""
    for proc in procs:
        os.kill(proc.pid, signal.SIGSTOP)
    try:
        yield
    finally:
        for proc in procs:
            os.kill(proc.pid, signal.SIGCONT)


def two_web_processes(p, requests, seconds: float) -> dict:
    """The 1,000/s load again, on the web app restarted with two processes."""
    processes.stop(p.web)
    p.env["PINEWIRE_WEB_WORKERS"] = "2"
    p.start_web()
    wait_for(lambda: settled(p), 300, "the worker and ledger to catch up", 0.5)
    return load(p.settings.web_port, requests, 1000, seconds)


async def _paced_alerts(base_url: str, requests, rate: float, seconds: float) -> list:
    """(sent at ms, alert id) of each BUY accepted."""
    sent: list = []
    async with httpx.AsyncClient(base_url=base_url, timeout=5) as client:
        async def one(path, body):
            at = time.time() * 1000
            r = await client.post(path, content=body)
            if r.status_code == 200 and '"BUY"' in body:
                sent.append((at, r.json()["alert_id"]))
        start, tasks = time.perf_counter(), []
        for i in range(int(rate * seconds)):
            delay = start + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(*requests[i % len(requests)])))
        await asyncio.gather(*tasks)
    return sent


async def _fills(bootstrap: str, namespace: str, wanted: set[str], timeout_s: float) -> dict:
    topic, found = registry.topic_name(namespace, registry.FILLS), {}

    async def collect():
        async for _, _, _, value in kafka.read_topic(bootstrap, topic, follow=True, idle_s=0.1):
            if value and value["position_id"] in wanted and value["status"] == "FILLED":
                found.setdefault(value["position_id"], value["at_ms"])
                if len(found) == len(wanted):
                    return
    try:
        await asyncio.wait_for(collect(), timeout_s)
    except asyncio.TimeoutError:
        pass
    return found


def settled_alerts(p, alert_ids: list[str]) -> list[dict] | None:
    """The ledger's rows of these alerts once each has its outcome."""
    rows = p.rows(sql.alerts, sql.alerts.c.id.in_(alert_ids))
    done = [r for r in rows if r["status"] in ("ACCEPTED", "IGNORED")]
    return done if len(done) == len(alert_ids) else None


def ticking(p) -> bool:
    name = registry.topic_name(p.settings.namespace, registry.TICKS)
    return sum(asyncio.run(kafka.topic_offsets(p.settings.bootstrap, [name]))
               .get(name, {}).values()) > 0


async def one_hop(bootstrap: str, topic: str, rate: float, seconds: float) -> list[float]:
    """The floor under alert → fill: ms from a send (acks=all, as the gateway) to a plain
    consumer's receipt, `rate` records a second."""
    await kafka.create_topic(bootstrap, topic, 8)
    n = int(rate * seconds)

    async def send() -> int:
        async with kafka.producing(bootstrap) as prod:
            start = time.perf_counter()
            for i in range(n):
                delay = start + i / rate - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                await prod.send(topic, str(time.time() * 1000).encode(), partition=i % 8)
        return n
    return await ages_seen(bootstrap, topic, 8, lambda r: [float(r.value)], send)


def alert_fill(p, links, seconds: float, broker: str) -> dict:
    res = Result("alert_fill", broker, rate=100, seconds=seconds, links=LINKS)
    hop = asyncio.run(one_hop(p.settings.bootstrap, f"{p.settings.namespace}.one-hop", 100,
                              seconds))
    floor = round(percentile(hop, 99), 1)
    res.figure("floor: produce → consume, one hop, 100/s: p50 / p99 (ms)",
               f"{percentile(hop, 50):.1f} / {floor}")
    sent = asyncio.run(_paced_alerts(p.settings.base_url, bodies(links, int(100 * seconds)),
                                     100, seconds))
    by_position = {ids.position_id(alert_id): at for at, alert_id in sent}
    fills = asyncio.run(_fills(p.settings.bootstrap, p.settings.namespace, set(by_position), 60))
    wait_for(lambda: settled_alerts(p, [a for _, a in sent]), 60, "every alert's outcome")
    rows = settled_alerts(p, [a for _, a in sent])
    # a link's next BUY comes 1 s after its SELL: when the close has not completed, the BUY
    # is ignored (the position is still open); when a BUY was ignored so, the SELL after it
    # opens a SHORT and the next BUY closes it. Only a BUY that opened a position of its own
    # has an entry fill to wait for.
    accepted = {ids.position_id(a["id"]) for a in rows if a["status"] == "ACCEPTED"}
    opened = {a["position_id"] for a in rows if a["status"] == "ACCEPTED"} & accepted
    latency = [fills[pid] - at for pid, at in by_position.items() if pid in fills]
    res.figure("BUY alerts sent / accepted / opening a position / filled",
               f"{len(by_position)} / {len(accepted)} / {len(opened)} / {len(fills)}")
    res.figure("alert → fill p50 (ms)", round(percentile(latency, 50), 1))
    p99 = round(percentile(latency, 99), 1)
    res.figure("alert → fill p99 (ms)", p99)
    if opened - set(fills):     # kept for a look: the benchmark's data dir goes with it
        kept = RESULTS / f"{res.name}-unfilled"
        shutil.copytree(p.data_dir / "logs", kept / "logs", dirs_exist_ok=True)
        (kept / "positions.txt").write_text("".join(
            f"{row}\n{p.rows(sql.orders, sql.orders.c.position_id == row['id'])}\n"
            f"{[(e['kind'], e['reason']) for e in p.rows(sql.position_events, sql.position_events.c.position_id == row['id'])]}\n\n"
            for row in p.rows(sql.positions, sql.positions.c.id.in_(opened - set(fills)))))
        res.figure("BUYs that opened a position without a fill within 60 s (logs kept)",
                   f"{len(opened - set(fills))}: {kept}")
    res.goal("alert → paper fill p99 ÷ one hop's p99", round(p99 / floor, 2),
             "≤ 3, every BUY that opened a position filled",
             p99 <= 3 * floor and opened <= set(fills),
             one_hop_p99_ms=floor, alert_to_fill_p99_ms=p99)
    return res.write()


def main() -> None:
    args = argparse.ArgumentParser()
    args.add_argument("--seconds", type=float, default=10)
    args.add_argument("--broker", choices=sorted(BROKERS), default="tansu",
                      help="the embedded broker (default) or a one-node Apache Kafka")
    a = args.parse_args()
    with BROKERS[a.broker]() as bootstrap, pipeline(bootstrap) as p:
        links = [p.add_link(name=f"bench{i}", strategy="st", quantity=1, sl_pct="1",
                            target_pct="2") for i in range(LINKS)]
        feed = p.spawn("feed", log="feed.log")   # fresh ticks: paper entries fill at once
        try:
            # until then an entry rests in the paper book for its first tick, which is not
            # what this measures
            wait_for(lambda: ticking(p), 60, "the feed's first ticks")
            alert_fill(p, links, a.seconds, a.broker)
            webhook(p, links, a.seconds, a.broker)
        finally:
            processes.stop(feed)


if __name__ == "__main__":
    main()
