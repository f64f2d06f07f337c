"""Kafka plumbing shared by the CLI, the web app and the worker: topics, offsets, lag, producing."""
from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any, Iterable

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError

from schemas import topics as registry


class KafkaUnavailable(RuntimeError):
    pass


def encode(value: Any) -> bytes:
    if hasattr(value, "asdict"):
        value = value.asdict()
    return json.dumps(value, separators=(",", ":"), default=str).encode()


async def accepts(port: int) -> bool:
    """Whether something listens on this loopback port (a broker still starting does not)."""
    try:
        _, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        return False
    writer.close()
    return True


async def wait_for_broker(bootstrap: str, timeout_s: float = 30.0) -> None:
    """Until a metadata request succeeds, or KafkaUnavailable."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    last: Exception | None = None
    while loop.time() < deadline:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=3000)
        try:
            await admin.start()
            await admin.list_topics()
            return
        except (KafkaError, OSError) as exc:
            last = exc
        finally:
            await admin.close()
        await asyncio.sleep(0.2)
    raise KafkaUnavailable(f"Kafka at {bootstrap} did not answer within {timeout_s:.0f}s: {last}")


async def create_topics(bootstrap: str, namespace: str, partitions: int,
                        replication: int = 1) -> list[str]:
    """Create every registry topic up front, with explicit partition counts and `replication`
    replicas of each partition (PINEWIRE_REPLICATION_FACTOR). Returns those created."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10000)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        wanted = []
        for name, compacted in all_topics(namespace):
            if name in existing:
                continue
            configs = {"cleanup.policy": "compact"} if compacted else {}
            # Equal partition counts everywhere: Faust co-partitions by partition number.
            wanted.append(NewTopic(name, partitions, replication, topic_configs=configs))
        for topic in wanted:
            try:
                await admin.create_topics([topic])
            except TopicAlreadyExistsError:
                pass
        return [t.name for t in wanted]
    finally:
        await admin.close()


def all_topics(namespace: str) -> list[tuple[str, bool]]:
    """(name, compacted) of every topic the pipeline uses: the registry's, and the changelogs
    of the workers' tables (made here, not by the first worker that starts: workers started
    together on a new cluster raced to make them, and some served partitions without them)."""
    return [(registry.topic_name(namespace, spec), spec.compacted) for spec in registry.ALL] + \
        [(registry.changelog_name(namespace, table), True) for table in registry.TABLES]


async def until_topics_complete(bootstrap: str, namespace: str, partitions: int,
                                timeout_s: float = 60) -> None:
    """Until this client's metadata shows every pipeline topic with all its partitions, each
    with a leader (a worker joins its group only then). KafkaUnavailable after timeout_s."""
    names = [name for name, _ in all_topics(namespace)]
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, request_timeout_ms=10000)
    await consumer.start()
    try:
        deadline = asyncio.get_running_loop().time() + timeout_s
        while True:
            await consumer._client.force_metadata_update()
            cluster = consumer._client.cluster
            missing = [n for n in names if len(cluster.partitions_for_topic(n) or ()) != partitions
                       or any(cluster.leader_for_partition(TopicPartition(n, p)) in (None, -1)
                              for p in range(partitions))]
            if not missing:
                return
            if asyncio.get_running_loop().time() > deadline:
                raise KafkaUnavailable(f"{len(missing)} topic(s) without all {partitions} "
                                       f"partitions after {timeout_s:.0f} s: {missing[:3]}")
            await asyncio.sleep(0.5)
    finally:
        await consumer.stop()


async def create_topic(bootstrap: str, name: str, partitions: int, replication: int = 1) -> None:
    """One topic outside the registry (benchmarks, tests)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, partitions, replication)])
    finally:
        await admin.close()


async def topic_offsets(bootstrap: str, names: Iterable[str]) -> dict[str, dict[int, int]]:
    """End offset of each partition of each named topic that exists: one past its last record.
    (The embedded broker answers an end offset one past its last batch's first record: a
    batch of five records counts as one. The last batch is read to count them all.)"""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, request_timeout_ms=5000)
    await consumer.start()
    try:
        tps = []
        for name in names:
            for p in sorted(consumer.partitions_for_topic(name) or
                            await _partitions(consumer, name)):
                tps.append(TopicPartition(name, p))
        ends = await _past_last_record(consumer, await consumer.end_offsets(tps)) if tps else {}
        out: dict[str, dict[int, int]] = {}
        for tp, end in ends.items():
            out.setdefault(tp.topic, {})[tp.partition] = end
        return out
    finally:
        await consumer.stop()


async def past_last_record(bootstrap: str, ends: dict) -> dict:
    """End offsets ({(topic, partition): offset}) as the broker answered them, made exact: one
    past the last record (the embedded broker's count a batch as one record)."""
    if not any(ends.values()):
        return dict(ends)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, request_timeout_ms=5000)
    await consumer.start()
    try:
        exact = await _past_last_record(consumer, {TopicPartition(*tp): end
                                                    for tp, end in ends.items()})
        return {tp: exact[TopicPartition(*tp)] for tp in ends}
    finally:
        await consumer.stop()


async def _past_last_record(consumer: AIOKafkaConsumer, ends: dict, timeout_s: float = 1.0
                            ) -> dict:
    reading = {tp: end for tp, end in ends.items() if end > 0}
    if not reading:
        return ends
    consumer.assign(list(reading))
    for tp, end in reading.items():
        consumer.seek(tp, end - 1)
    out, deadline = dict(ends), asyncio.get_running_loop().time() + timeout_s
    while reading and asyncio.get_running_loop().time() < deadline:
        for tp, records in (await consumer.getmany(*reading, timeout_ms=200)).items():
            if records:
                out[tp] = max(out[tp], records[-1].offset + 1)
                reading.pop(tp, None)
    return out


async def _partitions(consumer: AIOKafkaConsumer, name: str) -> set[int]:
    await consumer._client.force_metadata_update()
    return consumer.partitions_for_topic(name) or set()


async def committed_offsets(bootstrap: str, group: str,
                            offsets: dict[str, dict[int, int]]) -> dict[str, dict[int, int]]:
    """The group's committed offsets. A consumer that never subscribes never joins the group."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group,
                                enable_auto_commit=False, request_timeout_ms=5000)
    await consumer.start()
    try:
        out: dict[str, dict[int, int]] = {}
        for topic, parts in offsets.items():
            for p in parts:
                out.setdefault(topic, {})[p] = await consumer.committed(TopicPartition(topic, p)) or 0
        return out
    finally:
        await consumer.stop()


async def group_lag(bootstrap: str, group: str, names: Iterable[str]) -> dict[str, dict[str, int]]:
    ends = await topic_offsets(bootstrap, names)
    done = await committed_offsets(bootstrap, group, ends)
    return {t: {"end": sum(parts.values()),
                "committed": sum(done[t].values()),
                "lag": sum(max(0, end - done[t][p]) for p, end in parts.items())}
            for t, parts in ends.items()}


def producer(bootstrap: str, **kwargs) -> AIOKafkaProducer:
    """acks=all: a record counts as written only when the broker has it."""
    options = {"acks": "all", "linger_ms": 0, **kwargs}
    return AIOKafkaProducer(bootstrap_servers=bootstrap, **options)


@contextlib.asynccontextmanager
async def producing(bootstrap: str, **kwargs):
    """A started producer, stopped afterwards whatever happens (also when it failed to start)."""
    prod = producer(bootstrap, **kwargs)
    try:
        await prod.start()
        yield prod
    finally:
        await prod.stop()


async def read_topic(bootstrap: str, name: str, *, follow: bool = False, idle_s: float = 1.0,
                     decode: bool = True):
    """Every record of a topic from the beginning, as (partition, offset, key, value dict, or
    the value's bytes if not decode); with follow, keeps yielding new records until
    cancelled."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False,
                                auto_offset_reset="earliest")
    await consumer.start()
    try:
        parts = await _partitions(consumer, name)
        if not parts:
            raise KafkaUnavailable(f"topic {name} does not exist")
        tps = [TopicPartition(name, p) for p in sorted(parts)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        ends = await consumer.end_offsets(tps)
        # read to the end offsets, not for idle_s past them (an empty topic answers at once)
        while follow or not all([await consumer.position(tp) >= ends[tp] for tp in tps]):
            batch = await consumer.getmany(timeout_ms=int(idle_s * 1000))
            for tp, records in batch.items():
                for r in records:
                    yield tp.partition, r.offset, (r.key or b"").decode(errors="replace"), \
                        (json.loads(r.value) if r.value else None) if decode else r.value
    finally:
        await consumer.stop()
