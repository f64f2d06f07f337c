"""Offsets and lag count records, whatever the broker counts: five records produced in one
batch are five, on the embedded broker (whose end offset counts the batch as one) as on Kafka."""
from __future__ import annotations

import asyncio
import secrets

from connectors import kafka


async def _five_in_one_batch(bootstrap: str, topic: str) -> list[int]:
    await kafka.create_topic(bootstrap, topic, 2)
    async with kafka.producing(bootstrap, linger_ms=200) as prod:
        futures = [await prod.send(topic, b"x%d" % i, partition=1) for i in range(5)]
        await prod.flush()
        return [(await f).offset for f in futures]


def test_end_offsets_and_lag_count_every_record_of_a_batch(kafka_url):
    topic = f"offsets-{secrets.token_hex(4)}"
    assert asyncio.run(_five_in_one_batch(kafka_url, topic)) == [0, 1, 2, 3, 4]
    assert asyncio.run(kafka.topic_offsets(kafka_url, [topic])) == {topic: {0: 0, 1: 5}}
    lag = asyncio.run(kafka.group_lag(kafka_url, f"nobody-{topic}", [topic]))
    assert lag[topic] == {"end": 5, "committed": 0, "lag": 5}
