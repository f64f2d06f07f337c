"""POST /hook/{token}: validate, record, hand off to Kafka. No business rules here.

A TradingView-shaped body is one alert; a chartink link's body names several stocks, each its
own alert (a stock refused alone is recorded, the others go on).

The 200 answer is sent only after Kafka acknowledged the alert (acks=all); every rejection is
logged and recorded with its reason, never with the token.
"""
from __future__ import annotations

import asyncio
import logging
import time

from aiokafka.errors import KafkaError
from starlette.requests import Request
from starlette.responses import JSONResponse

from connectors import kafka
from connectors.smartapi.master import InstrumentError
from schemas import chartink, ids, sql, topics as registry
from schemas.records import Alert
from schemas.tradingview import MAX_BODY_BYTES, OPTION_ACTIONS, PayloadError, parse
from webapp import bots, links, metrics
from webapp.catalog import today_ist

log = logging.getLogger("pinewire.gateway")
SEND_TIMEOUT_S = 2.5  # TradingView gives up after 3 s


class AlertProducer:
    """One acks=all producer, started lazily so the gateway outlives a broker outage."""

    def __init__(self, bootstrap: str):
        self.bootstrap, self._producer, self._lock = bootstrap, None, asyncio.Lock()

    async def send(self, topic: str, value: bytes, key: bytes, partition: int) -> None:
        async with self._lock:
            if self._producer is None:
                producer = kafka.producer(self.bootstrap, request_timeout_ms=2000)
                try:
                    await asyncio.wait_for(producer.start(), SEND_TIMEOUT_S)
                except BaseException:
                    await producer.stop()
                    raise
                self._producer = producer
        await asyncio.wait_for(self._producer.send_and_wait(topic, value, key=key,
                                                            partition=partition), SEND_TIMEOUT_S)

    async def stop(self) -> None:
        if self._producer is not None:
            await self._producer.stop()


def _record_rejection(eng, row: dict) -> None:
    with eng.begin() as conn:
        conn.execute(sql.webhook_rejections.insert().values(**row))


async def _record(request: Request, status: int, reason: str, link: dict | None) -> None:
    client = request.client.host if request.client else None
    link_id = link["id"] if link else None
    log.warning("webhook rejected %d link=%s client=%s: %s", status, link_id or "-", client, reason)
    await asyncio.to_thread(_record_rejection, request.app.state.engine, dict(
        at_ms=int(time.time() * 1000), link_id=link_id, status_code=status, reason=reason,
        client=client, user_id=link["user_id"] if link else None))


RETRY_AFTER_S = "5"     # a 503 (Kafka unreachable): when a client that retries should


async def _reject(request: Request, status: int, reason: str, link: dict | None) -> JSONResponse:
    await _record(request, status, reason, link)
    return JSONResponse({"error": reason}, status_code=status,
                        headers={"Retry-After": RETRY_AFTER_S} if status == 503 else None)


async def _lookup(state, token: str) -> tuple[dict | None, int, int]:
    """The link of a webhook token, and the versions of its owner's bot and of the global
    switch (the worker waits until it knows at least these): from memory, else from SQL."""
    return state.directory.lookup(links.token_hash(token)) or \
        await asyncio.to_thread(_lookup_sql, state.engine, token)


def _lookup_sql(eng, token: str) -> tuple[dict | None, int, int]:
    link = links.link_by_token(eng, token)
    if link is None:
        return None, 0, 0
    own = bots.user_bot(eng, link["user_id"])["version"] if link["user_id"] else 0
    return link, own, bots.global_switch(eng)["version"]


async def _body(request: Request) -> bytes | None:
    """The raw body, or None when it exceeds the limit (read no further than that)."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        return None
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def _instrument(catalog, signal):
    """(instrument, action on it, its price if known, lot size). An option signal names the
    underlying: it becomes a BUY or SELL of the at-the-money contract of the nearest expiry."""
    if signal.action not in OPTION_ACTIONS:
        inst = catalog.lookup(signal.symbol, signal.exchange)
        if inst is None:
            raise InstrumentError(f"unknown symbol {signal.exchange}:{signal.symbol}")
        return inst, signal.action, signal.price_paise, 1
    if signal.price_paise is None:
        raise InstrumentError(f"{signal.action} needs the underlying's price to find the "
                              'at-the-money strike: add "price": "{{close}}" to the alert')
    right = "CE" if signal.action.endswith("CALL") else "PE"
    contract = catalog.resolve_option(signal.symbol, right, signal.price_paise, today_ist())
    return contract, signal.action.split("_")[0], None, contract.lot_size


async def hook(request: Request) -> JSONResponse:
    started = time.perf_counter()
    response = await _hook(request)
    metrics.ACK.observe(time.perf_counter() - started)
    metrics.ALERTS.labels(OUTCOMES.get(response.status_code, str(response.status_code))).inc()
    return response


OUTCOMES = {200: "accepted", 404: "unknown_token", 413: "too_large", 422: "invalid",
            503: "kafka_unavailable"}


async def _hook(request: Request) -> JSONResponse:
    state = request.app.state
    link, bot_version, global_bot_version = await _lookup(state, request.path_params["token"])
    if link is None:
        return await _reject(request, 404, "not found", None)
    body = await _body(request)
    if body is None:
        return await _reject(request, 413, f"body larger than {MAX_BODY_BYTES} bytes", link)
    try:
        if link.get("kind") == "chartink":
            signals, refused = chartink.parse(body, link["scan_action"])
        else:
            signals, refused = [parse(body)], []
    except PayloadError as exc:
        return await _reject(request, 422, str(exc), link)
    alerts = []
    for signal in signals:
        try:
            alerts.append(_alert(state, link, signal, bot_version, global_bot_version))
        except InstrumentError as exc:
            refused.append(chartink.Refused(signal.symbol, str(exc)))
    if not alerts:
        return await _reject(request, 422, "; ".join(
            f"{r.stock}: {r.reason}" if link.get("kind") == "chartink" else r.reason
            for r in refused), link)
    for r in refused:               # a ChartInk stock refused alone: recorded, the others go on
        await _record(request, 422, f"{r.stock}: {r.reason}", link)
    sent = await asyncio.gather(*(_send(state, alert) for alert in alerts),
                                return_exceptions=True)
    failed = [exc for exc in sent if exc is not None]
    if failed:
        return await _reject(request, 503, f"Kafka unavailable, {len(failed)} of {len(alerts)} "
                                           f"alert(s) not accepted ({type(failed[0]).__name__}); "
                                           "retry: those accepted are recognized as duplicates",
                             link)
    if link.get("kind") != "chartink":
        return JSONResponse({"alert_id": alerts[0].id, "status": "queued"})
    return JSONResponse({
        "status": "queued", "alerts": [{"stock": a.payload["stock"], "alert_id": a.id}
                                       for a in alerts],
        "refused": [{"stock": r.stock, "error": r.reason} for r in refused]})


def _alert(state, link: dict, signal, bot_version: int, global_bot_version: int) -> Alert:
    """The alert a signal becomes on this link, or InstrumentError."""
    inst, action, price_paise, lots = _instrument(state.catalog, signal)
    received_ns = time.time_ns()
    key = ids.dedupe_key(link["id"], signal.payload)
    settings = state.settings
    return Alert(
        id=ids.alert_id(key, received_ns), dedupe_key=key,
        dedupe_window_s=settings.own_id_dedupe_window_s if signal.own_id else settings.dedupe_window_s,
        link_id=link["id"], link_version=link["version"], user_id=link["user_id"],
        bot_version=bot_version, global_bot_version=global_bot_version, action=action,
        symbol=inst.symbol, exchange=inst.exchange, token=inst.token,
        received_at_ms=received_ns // 1_000_000, strategy=signal.strategy,
        quantity=signal.quantity, price_paise=price_paise, payload=signal.payload,
        lot_size=lots, signal_action=signal.action, source=link.get("kind", "tradingview"))


async def _send(state, alert: Alert) -> BaseException | None:
    """Hand the alert to Kafka (acks=all); the error instead of raising it."""
    settings = state.settings
    try:
        await state.producer.send(registry.topic_name(settings.namespace, registry.ALERTS),
                                  kafka.encode(alert), key=alert.link_id.encode(),
                                  partition=registry.instrument_partition(alert.token,
                                                                          settings.partitions))
    except (KafkaError, OSError, asyncio.TimeoutError) as exc:
        return exc
    log.debug("alert %s accepted for link %s: %s %s", alert.id, alert.link_id, alert.action,
              alert.symbol)   # the ledger keeps every alert; at 1,000 a second a line costs
    return None
