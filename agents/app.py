"""The Faust app: topics from the registry, changelog-backed tables, and the worker's memory.

All pipeline topics have the same partition count and records about a position go to its
instrument's partition, so a worker owns a position, its alerts, fills and ticks together.
"""
from __future__ import annotations

import asyncio
import inspect
import logging
from pathlib import Path

import faust
from aiokafka.errors import KafkaError
from faust.exceptions import PartitionsMismatch

from agents import faust_fixes, metrics, state_dir
from schemas import records, topics as registry
from schemas.settings import settings

S = settings()
log = logging.getLogger(__name__)

app = faust.App(
    S.namespace,
    broker=f"kafka://{S.bootstrap}",
    store=f"{S.table_store}://",
    topic_partitions=S.partitions,
    topic_replication_factor=S.replication_factor,     # the tables' changelogs
    table_standby_replicas=S.standby_replicas,
    broker_session_timeout=S.session_timeout_s,
    broker_rebalance_timeout=S.session_timeout_s,
    broker_heartbeat_interval=max(0.5, S.session_timeout_s / 6),
    broker_commit_interval=S.commit_interval_s,
    consumer_group_instance_id=S.worker_name if S.static_membership else None,
    consumer_auto_offset_reset="earliest",
    producer_acks=-1,
    # a position is ~1 KB in its changelog: a 16 KB batch (the default) holds 15 of them
    producer_max_batch_size=1 << 20,
    web_enabled=False,
)


def prepare_worker() -> Path:
    """What a worker process does before it starts, never an import: Faust's fixes applied,
    and its own state directory claimed (locked for the life of the process) as the app's."""
    faust_fixes.apply(S)
    directory = state_dir.claim(S.data_dir / "worker", S.worker_name)
    app.conf.datadir = directory
    return directory


def _topic(spec: registry.TopicSpec, value_type):
    return app.topic(registry.topic_name(S.namespace, spec), key_type=str, value_type=value_type,
                     partitions=S.partitions, internal=False)


alerts_topic = _topic(registry.ALERTS, records.Alert)
orders_topic = _topic(registry.ORDERS, records.OrderIntent)
fills_topic = _topic(registry.FILLS, records.Fill)
events_topic = _topic(registry.EVENTS, records.Event)
commands_topic = _topic(registry.COMMANDS, records.Command)
ticks_topic = _topic(registry.TICKS, records.Ticks)
subscriptions_topic = _topic(registry.SUBSCRIPTIONS, records.Subscription)
workers_topic = _topic(registry.WORKERS, records.WorkerHeartbeat)
dead_letters_topic = _topic(registry.DEAD_LETTERS, records.DeadLetter)
exposure_topic = _topic(registry.EXPOSURE, records.Exposure)
candles_topic = _topic(registry.CANDLES, records.Candle)

# position id -> Position.to_dict()
positions = app.Table("positions", default=None, partitions=S.partitions)
# "link|token" -> id of the live position on that slot
slots = app.Table("slots", default=None, partitions=S.partitions)
# dedupe key -> {"alert_id", "at_ms"}
dedupe = app.Table("dedupe", default=None, partitions=S.partitions)
# client order id -> the fills the broker gave it (the executor's idempotency)
executions = app.Table("executions", default=None, partitions=S.partitions)
# instrument token -> paper orders resting until its next tick
paper_book = app.Table("paper_book", default=None, partitions=S.partitions)
# "<sweep kind>:<partition>" -> the IST trading day last swept (EOD, MIS_SQUAREOFF)
sweeps = app.Table("sweeps", default=None, partitions=S.partitions)
# instrument token -> {"builder": CandleBuilder.state(), "seq": its last tick's sequence}
candle_builders = app.Table("candle_builders", default=None, partitions=S.partitions)
# "token|timeframe" -> its last closed candles (dicts), oldest first, as many as the strategies
# attached to it need to warm up
candle_history = app.Table("candle_history", default=None, partitions=S.partitions)



async def consume(stream, handler, on_error=None, *, events: bool = False) -> None:
    """Each record to handler (the whole event with events=True: its offset matters). One
    that fails is logged, handed to on_error and written to the dead-letter topic with its
    error; the stream goes on."""
    async for event in stream.events():
        await handle(event, handler, on_error, events=events)


# what passes: the broker or its metadata not ready yet (a new cluster, a rebalance)
TRANSIENT = (KafkaError, PartitionsMismatch, ConnectionError, asyncio.TimeoutError)
TRANSIENT_TRIES, TRANSIENT_FIRST_S = 6, 0.5     # 0.5 + 1 + 2 + 4 + 8 s between them


async def handle(event, handler, on_error=None, *, events: bool = False) -> None:
    """One record of consume(). A transient failure is tried again (the same record: every
    handler is idempotent under replay); what still fails is logged, handed to on_error and
    dead-lettered."""
    record = event if events else event.value
    name = getattr(handler, "__name__", str(handler))
    for attempt in range(TRANSIENT_TRIES):
        try:
            result = handler(record)
            if inspect.isawaitable(result):
                await result
            return
        except TRANSIENT as exc:
            if attempt + 1 == TRANSIENT_TRIES:
                failed = exc
                break
            log.warning("%s: %s (%s); trying again", name, type(exc).__name__, exc)
            await asyncio.sleep(TRANSIENT_FIRST_S * 2 ** attempt)
        except Exception as exc:  # noqa: BLE001
            failed = exc
            break
    log.error("%s failed on %r", name, event.value, exc_info=failed)
    if on_error is not None:
        await on_error(record, failed)
    await dead_letter(name, event, failed)


async def dead_letter(agent: str, event, exc: Exception) -> None:
    metrics.DEAD_LETTERS.labels(agent).inc()
    message, value = event.message, event.value
    await dead_letters_topic.send(key=agent, value=records.DeadLetter.of(
        agent, message.topic, message.partition, message.offset,
        str(event.key) if event.key is not None else None,
        value.asdict() if hasattr(value, "asdict") else None, exc))
