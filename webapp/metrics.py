"""GET /metrics (Prometheus format): the gateway's alerts by outcome and ack latency, and, read
on each scrape, consumer lag and records per topic (counted from what the broker holds), dead
letters, and the workers' open positions from their heartbeats. Each worker serves its own
figures (agents/metrics.py). With PINEWIRE_WEB_WORKERS > 1, a scrape reaches one process."""
from __future__ import annotations

import asyncio

from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest
from starlette.requests import Request
from starlette.responses import Response

from webapp import status

ALERTS = Counter("pinewire_alerts_total", "Webhook alerts by outcome", ["outcome"])
ACK = Histogram("pinewire_webhook_ack_seconds", "From a webhook's arrival to its answer",
                buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5))
LAG = Gauge("pinewire_consumer_lag_records", "Records of a topic a consumer group has not "
            "consumed (group: workers or ledger)", ["topic", "group"])
RECORDS = Gauge("pinewire_topic_records", "Records a topic holds", ["topic"])
DEAD_LETTERS = Gauge("pinewire_dead_letter_records", "Records on the dead-letter topic")
OPEN = Gauge("pinewire_workers_open_positions", "Live positions, from the workers' heartbeats")
KAFKA_UP = Gauge("pinewire_kafka_reachable", "1 when the broker answered this scrape")


async def metrics(request: Request) -> Response:
    state = request.app.state
    try:
        view = await asyncio.wait_for(status._kafka_view(state.settings), 5)
        KAFKA_UP.set(1)
        for topic in view["topics"]:
            if topic["exists"]:
                RECORDS.labels(topic["name"]).set(topic["records"])
                for group, field in status.LAG_FIELDS.items():
                    if field in topic:
                        LAG.labels(topic["name"], group).set(topic[field])
        DEAD_LETTERS.set(status._records(view, status.dead_letters_topic(state.settings)) or 0)
    except Exception:  # noqa: BLE001 - reported as kafka_reachable 0
        KAFKA_UP.set(0)
    beats = [b for b in state.heartbeats.values[state.workers_topic].values() if b]
    OPEN.set(sum(b["open_positions"] for b in beats))
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
