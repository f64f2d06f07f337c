"""The worker's figures in Prometheus format, served on PINEWIRE_METRICS_HOST (127.0.0.1) at
PINEWIRE_METRICS_PORT, or the next free port after it when another worker on the host has it:
each worker logs its own. Consumer lag per topic is on the web app's /metrics (it counts what
the broker holds)."""
from __future__ import annotations

import logging

from prometheus_client import Counter, Gauge, Histogram, start_http_server

log = logging.getLogger(__name__)
_LATENCY = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)

TICKS = Counter("pinewire_ticks_total", "Ticks the worker consumed")
TICK_TO_DECISION = Histogram("pinewire_tick_to_exit_decision_seconds",
                             "From a tick's timestamp to the exit it decided", buckets=_LATENCY)
ORDER_TO_FILL = Histogram("pinewire_order_to_fill_seconds",
                          "From an order intent to the fill the broker call returned",
                          ["purpose"], buckets=_LATENCY)
ALERT_TO_FILL = Histogram("pinewire_alert_to_fill_seconds",
                          "From a webhook alert's arrival at the gateway to its entry's first "
                          "fill", buckets=_LATENCY)
OPEN_POSITIONS = Gauge("pinewire_open_positions", "Live positions on this worker's partitions")
CANDLES = Counter("pinewire_candles_total", "Candles the worker closed, by timeframe",
                  ["timeframe"])
LATE_TICKS = Counter("pinewire_late_ticks_total", "Ticks older than their instrument's open "
                     "candle: counted and dropped")
DEAD_LETTERS = Counter("pinewire_dead_letters_total", "Records an agent could not handle",
                       ["agent"])

_ARRIVALS: dict[str, int] = {}   # position id -> its entry alert's arrival at the gateway (ms)
_ARRIVALS_KEPT = 50_000          # entries never filled (rejected, cancelled) go oldest first


def entry_sent(position_id: str, alert_received_at_ms: int) -> None:
    """An alert's entry order is on its way: its fill will be timed from the alert's arrival."""
    _ARRIVALS[position_id] = alert_received_at_ms
    if len(_ARRIVALS) > _ARRIVALS_KEPT:
        del _ARRIVALS[next(iter(_ARRIVALS))]


def filled(fill) -> None:
    """A fill applied: the first FILLED one after an alert's entry observes alert → fill."""
    arrived = _ARRIVALS.pop(fill.position_id, None) if fill.status == "FILLED" else None
    if arrived is not None:
        ALERT_TO_FILL.observe(max(0, fill.at_ms - arrived) / 1000)


def serve(host: str, port: int, tries: int = 32) -> int | None:
    for candidate in range(port, port + tries):
        try:
            start_http_server(candidate, addr=host)
            log.info("metrics on http://%s:%d/metrics", host, candidate)
            return candidate
        except OSError:
            continue
    log.error("no free port for metrics in %d-%d", port, port + tries - 1)
    return None
