"""Follow compacted topics: assign every partition, read from the beginning, keep following.

Every reader (each worker, the web app) sees every key, which a Faust GlobalTable did not
guarantee on the embedded broker (DESIGN.md).
"""
from __future__ import annotations

import asyncio
import json
import logging
from typing import Callable

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError

log = logging.getLogger(__name__)


class TopicFollower:
    def __init__(self, bootstrap: str, topics: list[str],
                 on_record: Callable[[str, str, dict | None], None] | None = None,
                 passed_on: frozenset[str] = frozenset()):
        """passed_on: topics whose records only go to on_record (values keeps none of them:
        the caller keeps what it needs, once)."""
        self.bootstrap, self.topics, self.on_record = bootstrap, topics, on_record
        self.passed_on = passed_on
        self.values: dict[str, dict[str, dict | None]] = {t: {} for t in topics}
        self._changed = asyncio.Condition()
        self._task: asyncio.Task | None = None
        self.caught_up = asyncio.Event()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"follow:{','.join(self.topics)}")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    def get(self, topic: str, key: str) -> dict | None:
        return self.values[topic].get(key)

    async def wait_for(self, predicate: Callable[[], bool], timeout_s: float) -> bool:
        """Until predicate() holds (re-checked on every record), or timeout: its last value."""
        try:
            async with self._changed:
                await asyncio.wait_for(self._changed.wait_for(predicate), timeout_s)
            return True
        except asyncio.TimeoutError:
            return predicate()

    async def _run(self) -> None:
        while True:
            try:
                await self._follow()
            except asyncio.CancelledError:
                raise
            except (KafkaError, OSError) as exc:
                log.warning("following %s failed (%s); retrying", self.topics, exc)
                await asyncio.sleep(1)

    async def _follow(self) -> None:
        consumer = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, enable_auto_commit=False,
                                    fetch_max_wait_ms=50)   # a change is seen within ~50 ms
        await consumer.start()
        try:
            tps = await self._partitions(consumer)
            consumer.assign(tps)
            await consumer.seek_to_beginning(*tps)
            ends = await consumer.end_offsets(tps)
            pending = {tp for tp, end in ends.items() if end > 0}
            if not pending:
                self.caught_up.set()
            while True:
                batch = await consumer.getmany(timeout_ms=500)
                async with self._changed:
                    for tp, records in batch.items():
                        for r in records:
                            self._apply(tp.topic, r.key, r.value)
                            if r.offset + 1 >= ends[tp]:
                                pending.discard(tp)
                    self._changed.notify_all()
                if not pending:
                    self.caught_up.set()
        finally:
            await consumer.stop()

    async def _partitions(self, consumer: AIOKafkaConsumer) -> list[TopicPartition]:
        for _ in range(100):
            await consumer._client.force_metadata_update()
            tps = [TopicPartition(t, p) for t in self.topics
                   for p in sorted(consumer.partitions_for_topic(t) or ())]
            if tps and all(consumer.partitions_for_topic(t) for t in self.topics):
                return tps
            await asyncio.sleep(0.2)
        raise KafkaError(f"topics {self.topics} not found")

    def _apply(self, topic: str, key: bytes | None, value: bytes | None) -> None:
        k = (key or b"").decode()
        try:
            v = json.loads(value) if value else None
        except ValueError:
            log.error("undecodable record on %s key %s skipped", topic, k)
            return
        if topic not in self.passed_on:
            self.values[topic][k] = v
        if self.on_record:
            self.on_record(topic, k, v)
