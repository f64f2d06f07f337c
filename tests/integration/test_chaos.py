"""Chaos, bounded: 3 workers (and, on Apache Kafka, 3 brokers with replication 3) carry 2,000
paper positions over 200 instruments (1,000 over 100 under `make test`, which runs it on Apache
Kafka only; `make chaos` sets PINEWIRE_TEST_CHAOS_FULL and runs the full size on both), opened by alerts through the gateway, while ticks are
replayed in real time for 60 s. Every 20 s a random worker is killed with SIGKILL and started
again; on Apache Kafka one broker is killed once and started again 15 s later. The exits are
known in advance: the pure exit rules applied to the replay file. Afterwards every position has
exited exactly once at the price the rules give, every order intent has its fill, no order was
executed twice, and the SQL ledger says what the topics say. Prints the counts and the worst
delay from a tick to the exit it decided (the worst resume after a kill)."""
import asyncio
import contextlib
import json
import os
import random
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from fractions import Fraction

import pytest

from agents import exits
from connectors.ticks import feed
from pinewire import broker, kafka_cluster, processes
from schemas import sql
from schemas import topics as registry
from tests.integration.harness import (Pipeline, free_port, free_ports, instrument_master,
                                       static_members, wait_until)

INSTRUMENTS = 200 if os.environ.get("PINEWIRE_TEST_CHAOS_FULL") else 100
LINKS, WORKERS = 10, 3
TICKS_EACH, REPLAY_S, KILL_EVERY_S = 40, 60, 20
ENTRY = 100_000                                      # every position enters at 1,000.00
RULES = [dict(sl_pct=sl, target_pct=target, trail_pct=trail, trail_activation_pct=act)
         for sl, target, trail, act in [("1", "2", None, None), ("1.5", "3", None, None),
                                        ("2", None, "1", "0.5"), ("1", "4", "0.8", "1"),
                                        ("3", "1.5", None, None), ("2.5", "5", "1.5", "2"),
                                        ("0.8", "1", None, None), ("1.2", None, "0.6", "0.3"),
                                        ("2", "2.5", "1", "1.5"), ("4", "6", "2", "1")]]


def _post_until_taken(p, link: dict, symbol: str, tries: int = 5):
    """Post an alert as a client that posts again after a 503 (the gateway answers every
    request: 200, or 503 with Retry-After when Kafka is slower than its 2.5 s; never a
    connection closed without an answer, which raises here). (answer, tries it took)."""
    body = json.dumps({"strategy": "st", "symbol": symbol, "action": "BUY", "price": "1000"})
    for attempt in range(1, tries + 1):
        answer = p.post(link, body)
        if answer.status_code != 503 or attempt == tries:
            return answer, attempt
        assert answer.headers.get("retry-after"), "a 503 without Retry-After"


def _token(i: int) -> str:
    return str(910_000 + i)


def _paths(seed: int) -> dict[str, list[int]]:
    """Each instrument's replayed prices: a walk of ±0.4 % steps from the entry, then a fall
    of 30 % that takes out any stop still standing."""
    rng, paths = random.Random(seed), {}
    for i in range(INSTRUMENTS):
        price, path = ENTRY, []
        for _ in range(TICKS_EACH - 1):
            price = max(1, price + rng.randint(-400, 400))
            path.append(price)
        path.append(ENTRY * 70 // 100)
        paths[_token(i)] = path
    return paths


def _expected_exit(rules: dict, path: list[int]) -> tuple[str, int, int]:
    """(reason, price, index) of the first tick of the path that exits a LONG entered at
    ENTRY."""
    r = exits.ExitRules.from_pcts(rules["sl_pct"], rules["target_pct"], rules["trail_pct"],
                                  rules["trail_activation_pct"])
    best = ENTRY
    for k, price in enumerate(path):
        best, _, decision = exits.evaluate(exits.LONG, Fraction(ENTRY), best, r, price)
        if decision is not None:
            return decision.reason, price, k
    raise AssertionError("every path ends below every stop")


class Brokers:
    """The embedded broker, or three Apache Kafka nodes with replication 3."""

    def __init__(self, kind: str, tmp_path):
        self.kind, self.cluster, self.proc = kind, None, None
        if kind == "kafka":
            self.cluster = kafka_cluster.start(tmp_path / "kafka", 3, base_port=free_ports(6))
            self.bootstrap = self.cluster.bootstrap
        else:
            port = free_port()
            self.proc = broker.start(port, tmp_path / "broker")
            self.bootstrap = f"127.0.0.1:{port}"

    def stop(self) -> None:
        if self.cluster is not None:
            self.cluster.stop()
        else:
            processes.stop(self.proc)


@pytest.mark.chaos
@pytest.mark.timeout(900)      # about 2 min on the embedded broker, 4 on three Kafka nodes
@pytest.mark.parametrize("kind", ["tansu", "kafka"])
def test_chaos(kind, tmp_path, capsys):
    brokers = Brokers(kind, tmp_path)
    # the 200 equities (the built-in catalog has two dozen)
    instrument_master(tmp_path / "master.json", INSTRUMENTS, "CH", 910_000)
    p = Pipeline(tmp_path, brokers.bootstrap, PINEWIRE_INSTRUMENT_MASTER=tmp_path / "master.json",
                 PINEWIRE_REPLICATION_FACTOR=3 if kind == "kafka" else 1,
                 PINEWIRE_PAPER_PRICE_MAX_AGE_MS=600_000, PINEWIRE_LOG_LEVEL="WARNING",
                 # a handover that lost a position's last writes is healed from the ledger
                 # within the replay (the default 30 s would leave it to the next ticks)
                 PINEWIRE_LEDGER_CHECK_S="5")
    rng = random.Random(7)
    workers: dict[str, object] = {}
    try:
        p.prepare_topics()
        p.ledger = p.spawn("ledger", log="ledger.log")
        p.start_web()
        for n in range(1, WORKERS + 1):
            workers[f"chaos-{n}"] = _worker(p, f"chaos-{n}", kind)
        wait_until(lambda: len(p.workers_alive()) == WORKERS and
                   p.split_between(set(p.workers_alive())), 120, "three workers sharing")

        links = [p.add_link(name=f"chaos{k}", quantity=1, product="delivery", eod="hold",
                            **RULES[k]) for k in range(LINKS)]
        _replay(p, tmp_path / "entries.csv", {_token(i): [ENTRY] for i in range(INSTRUMENTS)},
                time.time(), speed=0)
        symbols = [f"CH{i:03d}" for i in range(INSTRUMENTS)]
        with ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(lambda ls: _post_until_taken(p, *ls),
                                    [(link, s) for link in links for s in symbols]))
        assert [a.status_code for a, _ in answers] == [200] * (LINKS * INSTRUMENTS)
        busy = sum(tries - 1 for _, tries in answers)
        link_ids = [link["id"] for link in links]
        wait_until(lambda: _count(p, link_ids, "OPEN") == LINKS * INSTRUMENTS, 240,
                   f"{LINKS * INSTRUMENTS} open positions", interval_s=1)

        # the replay, and the kills beside it
        paths = _paths(seed=11)
        started = time.time()
        replay = threading.Thread(target=_replay, args=(p, tmp_path / "replay.csv", paths,
                                                        started), kwargs={"speed": 1}, daemon=True)
        replay.start()
        killed = _chaos(p, brokers, workers, kind, rng, started)
        replay.join(timeout=REPLAY_S + 60)
        assert not replay.is_alive(), "the replay did not finish"
        try:
            wait_until(lambda: _count(p, link_ids, "CLOSED") == LINKS * INSTRUMENTS, 240,
                       "every position closed", interval_s=1)
        except AssertionError as timeout:
            raise AssertionError(_still_open(p, link_ids)) from timeout

        figures = _check(p, links, paths, started, killed, kind)
        with capsys.disabled():      # printed under `make test` too
            print(f"{figures}; {busy} alert(s) answered 503 first (Kafka slower than the "
                  "gateway's 2.5 s) and taken when posted again")
    finally:
        for proc in workers.values():
            processes.stop(proc)
        p.stop()
        brokers.stop()


def _worker(p, name: str, kind: str):
    return p.named_worker(name, static_members(kind))


def _replay(p, path, paths: dict[str, list[int]], start: float, *, speed: float) -> None:
    """The ticks through the feed's replay, stamped from `start` (epoch seconds): each
    instrument's k-th tick at start + k × REPLAY_S / TICKS_EACH (+ a millisecond per
    instrument), in real time with speed=1."""
    rows = sorted((int(start * 1000 + k * REPLAY_S * 1000 / TICKS_EACH) + i, token, price)
                  for i, (token, prices) in enumerate(paths.items())
                  for k, price in enumerate(prices))
    path.write_text("ts_ms,token,ltp_paise\n" + "".join(f"{t},{tok},{px}\n"
                                                        for t, tok, px in rows))
    asyncio.run(feed.run_replay(p.settings.bootstrap, p.settings.namespace, p.settings.partitions,
                                path, speed=speed))


def _chaos(p, brokers: Brokers, workers: dict, kind: str, rng, started: float) -> list[str]:
    """Kill a random worker every KILL_EVERY_S and start it again at once; on Apache Kafka, kill
    one broker once and start it 15 s later. Returns what was killed, in order."""
    done, killed = threading.Event(), []
    schedule = [(t, "worker") for t in range(KILL_EVERY_S, REPLAY_S, KILL_EVERY_S)]
    if kind == "kafka":
        schedule += [(30, "broker"), (45, "broker back")]
    node = 1
    for at, what in sorted(schedule):
        done.wait(max(0.0, started + at - time.time()))    # the schedule, not a condition
        if what == "worker":
            name = rng.choice(sorted(workers))
            os.kill(workers[name].pid, signal.SIGKILL)
            workers[name].wait()
            workers[name] = _worker(p, name, kind)
            killed.append(name)
        elif what == "broker":
            os.killpg(brokers.cluster.procs[node].pid, signal.SIGKILL)
            brokers.cluster.procs[node].wait()
            killed.append(f"broker {node}")
        else:
            brokers.cluster.start_node(node)
    return killed


def _count(p, link_ids: list[str], state: str) -> int:
    return len(p.rows(sql.positions, sql.positions.c.link_id.in_(link_ids),
                      sql.positions.c.state == state))


def _still_open(p, link_ids: list[str]) -> str:
    """What a timed-out wait for the exits leaves to look at: the positions still open, by
    instrument partition, whether the topics hold their exit intents and fills, and which
    worker owns each of those partitions now."""
    still = p.rows(sql.positions, sql.positions.c.link_id.in_(link_ids),
                   sql.positions.c.state != "CLOSED")
    ids = {row["id"] for row in still}
    exit_orders = {r[3]["client_order_id"]: r[3]["position_id"]
                   for r in p.topic_records(registry.ORDERS)
                   if r[3]["position_id"] in ids and r[3]["purpose"] == "EXIT"}
    filled = {r[3]["position_id"] for r in p.topic_records(registry.FILLS)
              if r[3]["client_order_id"] in exit_orders}
    by_partition: dict[int, int] = {}
    for row in still:
        part = registry.instrument_partition(row["token"], p.settings.partitions)
        by_partition[part] = by_partition.get(part, 0) + 1
    owners = {w: sorted(info["active_partitions"]) for w, info in p.workers_alive().items()}
    return (f"{len(still)} positions not closed ({sorted({r['state'] for r in still})}); "
            f"by partition {dict(sorted(by_partition.items()))}; exit intents in the topic for "
            f"{len(set(exit_orders.values()))}, exit fills for {len(filled)}; workers now {owners}")


def _whereabouts(p, positions: list[dict], wrong_ids: list[str]) -> str:
    """Where the positions exited wrongly were: their partitions, and how many the ledger
    check restored (what a failed run leaves to look at)."""
    tokens = {row["id"]: row["token"] for row in positions}
    parts = sorted({registry.instrument_partition(tokens[pid], p.settings.partitions)
                    for pid in wrong_ids})
    restored = {r["position_id"] for r in p.rows(sql.position_events,
                                                 sql.position_events.c.kind == "RESTORED")}
    return (f"on partitions {parts}; restored from the ledger: "
            f"{len(restored & set(wrong_ids))} of them")


def _check(p, links, paths, started: float, killed: list[str], kind: str) -> str:
    """Every outcome exact, or an assertion naming what is not; the figures to print."""
    by_link = {link["id"]: RULES[k] for k, link in enumerate(links)}
    positions = p.rows(sql.positions, sql.positions.c.link_id.in_(list(by_link)))
    ids = {row["id"] for row in positions}
    intents = [r[3] for r in p.topic_records(registry.ORDERS) if r[3]["position_id"] in ids]
    fills = [r[3] for r in p.topic_records(registry.FILLS) if r[3]["position_id"] in ids]

    # every position exited once, at the price the rules give for its path
    wrong = []
    for row in positions:
        reason, price, _ = _expected_exit(by_link[row["link_id"]], paths[row["token"]])
        got = (row["state"], row["exit_reason"], row["exit_trigger_paise"],
               row["exit_value_paise"])
        if got != ("CLOSED", reason, price, price):
            wrong.append((row["id"], got, (reason, price)))
    assert wrong[:20] == [], (f"{len(wrong)} of {len(positions)} exits not as the rules give; "
                              f"{_whereabouts(p, positions, [w[0] for w in wrong])}")
    exit_orders = {}
    for i in intents:
        if i["purpose"] == "EXIT":
            exit_orders.setdefault(i["position_id"], set()).add(i["client_order_id"])
    assert {pid: len(o) for pid, o in exit_orders.items() if len(o) != 1} == {}
    assert len(exit_orders) == len(positions) == LINKS * INSTRUMENTS

    # every intent has its fill; no order executed twice (one outcome per fill id, and the
    # filled quantity of each order is its quantity)
    outcomes: dict[str, set] = {}
    for f in fills:
        outcomes.setdefault(f["fill_id"], set()).add((f["status"], f["quantity"],
                                                      f["price_paise"]))
    assert {k: v for k, v in outcomes.items() if len(v) != 1} == {}
    filled: dict[str, int] = {}
    for f in {f["fill_id"]: f for f in fills}.values():
        if f["status"] == "FILLED":
            filled[f["client_order_id"]] = filled.get(f["client_order_id"], 0) + f["quantity"]
    wanted = {i["client_order_id"]: i["quantity"] for i in intents}
    assert filled == wanted

    # the ledger says what the topics say (once it has read them: it may trail the positions)
    def ledger() -> tuple[set, dict]:
        orders_sql = p.rows(sql.orders, sql.orders.c.position_id.in_(list(ids)))
        fills_sql = p.rows(sql.fills, sql.fills.c.position_id.in_(list(ids)))
        return ({o["client_order_id"] for o in orders_sql},
                {f["fill_id"]: f["price_paise"] for f in fills_sql})
    topics = (set(wanted), {k: next(iter(v))[2] for k, v in outcomes.items()})
    with contextlib.suppress(AssertionError):    # the assert below shows what differs
        wait_until(lambda: ledger() == topics, 60, "the ledger to catch up", interval_s=0.5)
    assert ledger() == topics

    last_exit_s = max(i["created_at_ms"] for i in intents if i["purpose"] == "EXIT") / 1000 \
        - started
    delays = _decision_delays(intents, paths, positions, by_link, started)
    return (f"\nchaos on {kind}: {len(positions)} positions on {INSTRUMENTS} instruments, "
            f"{len(intents)} order intents, {len(outcomes)} fills; killed {', '.join(killed)}; "
            f"every exit exactly once at its rule's price; worst tick → exit decision "
            f"{max(delays):.1f} s (p50 {sorted(delays)[len(delays) // 2]:.2f} s); last exit "
            f"{last_exit_s:.0f} s after the replay began")


def _decision_delays(intents, paths, positions, by_link, started: float) -> list[float]:
    """For each exit: its first intent's creation minus when its trigger tick was sent."""
    row_of = {row["id"]: row for row in positions}
    decided: dict[str, int] = {}
    for i in intents:
        if i["purpose"] == "EXIT":
            decided[i["position_id"]] = min(decided.get(i["position_id"], i["created_at_ms"]),
                                            i["created_at_ms"])
    delays = []
    for pid, at_ms in decided.items():
        row = row_of[pid]
        _, _, k = _expected_exit(by_link[row["link_id"]], paths[row["token"]])
        delays.append(max(0.0, at_ms / 1000 - (started + k * REPLAY_S / TICKS_EACH)))
    return delays
