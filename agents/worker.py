"""The worker process: every agent, the settings follower, the index rebuild and heartbeats."""
from __future__ import annotations

import asyncio
import logging
import os
import socket
import sys

from datetime import datetime

import uvloop

from agents import app as A
from agents import (candle_agent, control, eod, metrics, monitor, notify, pipeline,
                    strategy_agent)
from agents import emit, ledger, ledger_check, stalled, state_dir
from agents.emit import now_ms, partition_of
from agents.risk import IST, ist_day
from connectors import live
from schemas import ids
from schemas.records import Command, WorkerHeartbeat

log = logging.getLogger(__name__)
AGENTS = (pipeline, monitor, control, candle_agent, strategy_agent)  # imported for their agents
WORKER_ID = A.S.worker_name or f"{socket.gethostname()}:{os.getpid()}"
memory = pipeline.memory


@A.app.task
async def _follow_settings() -> None:
    log.info("worker %s on %s", WORKER_ID, type(asyncio.get_running_loop()).__module__)
    if A.S.metrics_port:
        metrics.serve(A.S.metrics_host, A.S.metrics_port)
    memory.config.start()
    await _own_accounts()


def _owned(assigned) -> list[int]:
    """The pipeline partitions among assigned topic partitions (the assignment also names
    Faust's own leader topic, whose partition 0 is not pipeline partition 0)."""
    return sorted(tp.partition for tp in assigned if tp.topic == A.ticks_topic.get_topic_name())


async def _own_accounts() -> None:
    """Sessions for the live accounts whose partition this worker owns, and no others."""
    await memory.config.caught_up.wait()
    actives = set(_owned(A.app.assignor.assigned_actives()))
    live = {link["account_id"] for link in memory.config.values[memory.links_topic].values()
            if link and not link["paper"] and link.get("account_id")}
    await pipeline.brokers.own({a for a in live if emit.account_partition(a) in actives})


_recovered_ms = 0     # when this worker's tables were last recovered


@A.positions.on_recover
async def _rebuild_index() -> None:
    global _recovered_ms
    _recovered_ms = now_ms()
    actives = set(_owned(A.app.assignor.assigned_actives()))
    emit.forget_decoded()
    count = memory.rebuild([emit.load(pid) for pid, value in list(A.positions.items())
                            if value is not None], actives)
    log.info("index rebuilt: %d live positions on partitions %s", count, sorted(actives))
    asyncio.get_running_loop().create_task(_own_accounts(), name="own-accounts")


@A.app.timer(interval=A.S.heartbeat_s)
async def heartbeat() -> None:
    actives = _owned(A.app.assignor.assigned_actives())
    standbys = _owned(A.app.assignor.assigned_standbys())
    watched = {t for t, ids in memory.index.items() if ids}
    live = sum(len(v) for v in memory.index.values())
    metrics.OPEN_POSITIONS.set(live)
    await A.workers_topic.send(key=WORKER_ID, value=WorkerHeartbeat(
        worker_id=WORKER_ID, host=socket.gethostname(), pid=os.getpid(), active=actives,
        standby=standbys, at_ms=now_ms(), last_tick_ms=memory.last_tick_ms,
        last_prices={t: list(memory.last_price[t]) for t in watched if t in memory.last_price},
        open_positions=live))
    await _watch_workers()


_watched: set[str] = set()            # other workers seen alive


async def _watch_workers() -> None:
    """A worker that stopped beating is announced (to the events topic's partition 0: the
    notifier sends one message however many workers report it)."""
    global _watched
    beats = memory.config.values[memory.workers_topic]
    _watched, lost = notify.lost_workers(beats, _watched, WORKER_ID, now_ms(), A.S.heartbeat_s)
    for worker_id, last_ms in lost:
        log.warning("worker %s lost: no heartbeat since %d", worker_id, last_ms)
        await emit.event("WORKER_LOST", link_id="", partition=0,
                         key=f"worker-lost:{worker_id}:{last_ms}",
                         reason=f"worker {worker_id} lost: no heartbeat for "
                                f"{(now_ms() - last_ms) / 1000:.0f} s; its partitions move to "
                                "the others")


@A.app.timer(interval=1.0)
async def best_prices() -> None:
    await monitor.report_moves()


@A.app.timer(interval=A.S.ledger_check_s or 3600.0)
async def check_against_the_ledger() -> None:
    """Restore what this worker's table lost in a handover (agents/ledger_check.py)."""
    every_ms = int(A.S.ledger_check_s * 1000)
    if not every_ms or A.app.rebalancing or now_ms() - _recovered_ms < every_ms:
        return
    actives = set(_owned(A.app.assignor.assigned_actives()))
    live = memory.live_ids()   # the database opens in the thread (alembic, migrations): ~1 s
    rows = await asyncio.to_thread(lambda: ledger.versions(pipeline.engine(), live))
    lost = ledger_check.behind(rows, emit.load, partition_of, actives)
    if not lost:
        return
    now = now_ms()
    for row in await asyncio.to_thread(lambda: ledger.snapshots(pipeline.engine(), lost)):
        mine = emit.load(row["id"])
        log.warning("position %s (%s) is behind the ledger here (table version %s, ledger %d): "
                    "restored", row["id"], row["symbol"], mine.version if mine else "none",
                    row["version"])
        await A.commands_topic.send(key=row["id"], partition=partition_of(row["token"]),
                                    value=Command(command_id=ids.event_id("restore", row["id"],
                                                                          row["version"]),
                                                  kind="RESTORE_LOST", position_id=row["id"],
                                                  at_ms=now, position=row["snapshot"]))


_stalled = stalled.StalledTicks(memory, pipeline.brokers.quotes)


@A.app.timer(interval=1.0)
async def stalled_ticks() -> None:
    """Instruments of live positions whose feed went silent: priced over REST."""
    await _stalled.check(now_ms())


_swept: set[tuple[str, str]] = set()      # (kind, day) this worker has sent
_expiring: set[str] = set()               # paper orders whose timeout this worker has sent


@A.app.timer(interval=10.0)
async def end_of_day() -> None:
    """At 15:15 and 15:29 IST on trading days, one sweep command per partition. Every worker
    sends them; each partition's owner sweeps once per day whatever it receives."""
    if not A.S.eod_on_time:
        return
    now = now_ms()
    kind = eod.sweep_at(datetime.fromtimestamp(now / 1000, IST), A.S.mis_squareoff, A.S.eod_time)
    day = ist_day(now).isoformat()
    if kind is None or (kind, day) in _swept or \
            not eod.is_trading_day(ist_day(now), control.EXTRA_HOLIDAYS):
        return
    _swept.add((kind, day))
    for command in eod.sweep_commands(kind, now, A.S.partitions):
        await A.commands_topic.send(key=command.command_id, value=command,
                                    partition=command.partition)


_candle_minute = 0                       # the last minute whose candles this worker closed


@A.app.timer(interval=1.0)
async def close_candles() -> None:
    """Just after each minute, a CANDLES command to each of this worker's partitions: the
    windows that ended close there even without a tick."""
    global _candle_minute
    now = now_ms()
    if now // 60_000 == _candle_minute or not memory.candle_timeframes or \
            not A.S.candles_on_time:
        return
    _candle_minute = now // 60_000
    for p in _owned(A.app.assignor.assigned_actives()):
        command = candle_agent.candles_command(p, now)
        await A.commands_topic.send(key=command.command_id, value=command, partition=p)


@A.app.timer(interval=0.25)
async def paper_timeouts() -> None:
    """Resting paper orders of this worker's partitions past the fill timeout."""
    actives = set(_owned(A.app.assignor.assigned_actives()))
    for token, client_order_id in pipeline.brokers.paper.expired(now_ms()):
        if client_order_id in _expiring or partition_of(token) not in actives:
            continue
        _expiring.add(client_order_id)
        await A.commands_topic.send(key=client_order_id, partition=partition_of(token),
                                    value=Command(command_id=f"expire:{client_order_id}",
                                                  kind="PAPER_TIMEOUT", at_ms=now_ms(),
                                                  client_order_id=client_order_id, token=token))


def main() -> None:
    level = A.S.log_level.lower().replace("warning", "warn")
    sys.argv = [sys.argv[0], "worker", "--without-web", "-l", level]
    # the Kafka client's and Faust's debug lines (one per record sent) cost the agents even
    # when no handler prints them
    for name in ("aiokafka", "faust", "mode"):
        logging.getLogger(name).setLevel(max(logging.INFO, logging.getLevelName(
            A.S.log_level.upper())))
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    directory = A.prepare_worker()
    live.count_calls_in(pipeline.engine)     # the brokers' limits, with every other process
    try:
        A.app.main()
    except SystemExit as stop:
        if stop.code in (0, None):      # stopped, its changelogs flushed: its tables are good
            state_dir.stopped_cleanly(directory)
        raise


if __name__ == "__main__":
    main()
