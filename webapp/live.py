"""Live positions: the events topic followed from its end and fanned out to each signed-in
user's Server-Sent Events stream (their events only), and the last prices the workers report."""
from __future__ import annotations

import asyncio
import json
import time
import logging
from fractions import Fraction

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError
from starlette.requests import Request
from starlette.responses import StreamingResponse

from agents import risk
from schemas.money import paise_to_rupees, signed_rupees
from webapp import queries
from webapp.auth import current_user
from webapp.pnl import newest_prices

log = logging.getLogger("pinewire.web")
KEEPALIVE_S = 2.0


class EventHub:
    def __init__(self, bootstrap: str, topic: str):
        self.bootstrap, self.topic = bootstrap, topic
        self.subscribers: dict[asyncio.Queue, str] = {}
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="events-hub")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    def subscribe(self, user_id: str) -> asyncio.Queue:
        queue: asyncio.Queue = asyncio.Queue(maxsize=1000)
        self.subscribers[queue] = user_id
        return queue

    def unsubscribe(self, queue: asyncio.Queue) -> None:
        self.subscribers.pop(queue, None)

    def deliver(self, event: dict) -> None:
        for queue, user_id in list(self.subscribers.items()):
            if event.get("user_id") == user_id:
                if queue.full():
                    queue.get_nowait()   # a slow page misses an old event, never blocks others
                queue.put_nowait(event)

    async def _run(self) -> None:
        while True:
            consumer = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, enable_auto_commit=False)
            try:
                await consumer.start()
                await consumer._client.force_metadata_update()
                parts = consumer.partitions_for_topic(self.topic) or set()
                if not parts:
                    raise KafkaError(f"topic {self.topic} not found")
                tps = [TopicPartition(self.topic, p) for p in sorted(parts)]
                consumer.assign(tps)
                await consumer.seek_to_end(*tps)
                while True:
                    for records in (await consumer.getmany(timeout_ms=500)).values():
                        for r in records:
                            try:
                                self.deliver(json.loads(r.value))
                            except ValueError:
                                continue
            except asyncio.CancelledError:
                raise
            except (KafkaError, OSError) as exc:
                log.warning("following events for the live pages failed (%s); retrying",
                            type(exc).__name__)
                await asyncio.sleep(1)
            finally:
                await consumer.stop()


def last_prices(state) -> dict[str, int]:
    """token -> last price, from the heartbeats the web app follows."""
    return newest_prices(state.heartbeats.values[state.workers_topic].values())


def position_view(row: dict, prices: dict[str, int]) -> dict:
    """A position for the Live page and the API: rupees with two decimals, exact from paise."""
    last = prices.get(row["token"])
    snapshot = row.get("snapshot") or {}
    unrealized = risk.pnl(row, last)[1] if last is not None else None
    entry = Fraction(row["entry_value_paise"], row["entry_qty"]) if row.get("entry_qty") else None

    def level(value):
        return None if value is None else paise_to_rupees(Fraction(value))
    return {"id": row["id"], "link_id": row["link_id"], "symbol": row["symbol"],
            "token": row["token"],
            "side": row["side"], "state": row["state"], "quantity": row["entry_qty"] or 0,
            "entry": None if entry is None else paise_to_rupees(entry),
            "last": None if last is None else paise_to_rupees(last),
            "stop": level(row.get("stop")), "target": level(row.get("target")),
            "trailing": bool(snapshot.get("trail_active")),
            "trail_pct": snapshot.get("trail_pct"),
            "unrealized": None if unrealized is None else signed_rupees(unrealized),
            "realized": None if row.get("realized_pnl_paise") is None
            else signed_rupees(row["realized_pnl_paise"]),
            "exit_reason": row.get("exit_reason"),
            # its exit rejected time and again (fills.ExitRetry): still retried
            "exit_failing": bool(snapshot.get("exit_failing")),
            "exit_problem": snapshot.get("note") if snapshot.get("exit_failing") else None}


async def _prices(request: Request, user: dict) -> dict:
    """The last prices of the user's open instruments, each open position's unrealized P&L at
    them (exact, as position_view gives it), and which positions the ledger holds live at
    `at_ms`: a row the page drew before that and the ledger no longer holds live closed
    while no event could reach the page (between its drawing and the stream's start)."""
    at_ms = int(time.time() * 1000)
    rows = await asyncio.to_thread(queries.positions, request.app.state.engine, user["id"])
    prices = last_prices(request.app.state)
    views = [position_view(r, prices) for r in rows]
    return {"prices": {v["token"]: v["last"] for v in views if v["last"]},
            "pnl": {v["id"]: v["unrealized"] for v in views if v["unrealized"]},
            "live": [v["id"] for v in views], "at_ms": at_ms}


async def stream(request: Request) -> StreamingResponse:
    """GET /live/events and /api/v1/events: the user's events as they happen, and every few
    seconds the last prices of the instruments they hold."""
    user = await current_user(request)
    hub = request.app.state.events

    async def events():
        queue = hub.subscribe(user["id"])
        try:
            yield "retry: 2000\n\n"
            yield f"event: prices\ndata: {json.dumps(await _prices(request, user))}\n\n"
            while True:
                try:
                    event = await asyncio.wait_for(queue.get(), KEEPALIVE_S)
                    payload = {"kind": event["kind"], "position_id": event.get("position_id"),
                               "reason": event.get("reason"), "at_ms": event["at_ms"]}
                    if event.get("position"):
                        pos = event["position"]
                        payload["position"] = position_view(
                            {**pos, "snapshot": pos}, last_prices(request.app.state))
                    yield f"event: pinewire\ndata: {json.dumps(payload)}\n\n"
                except asyncio.TimeoutError:
                    yield f"event: prices\ndata: {json.dumps(await _prices(request, user))}\n\n"
                if await request.is_disconnected():
                    return
        finally:
            hub.unsubscribe(queue)
    return StreamingResponse(events(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})
