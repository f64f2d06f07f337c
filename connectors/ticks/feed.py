"""The tick-feed process: streams the watchlist and every instrument the subscriptions topic
marks active into the ticks topic, batched per partition (schemas.records.Ticks)."""
from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path

from connectors import kafka
from connectors.follower import TopicFollower
from connectors.ticks import replay
from connectors.ticks.synthetic import RandomWalk
from schemas import ids, instruments, topics as registry
from schemas.records import TICKS_PER_RECORD, Event, Ticks

log = logging.getLogger(__name__)


FEED_DOWN_AFTER_S = 30.0


class FeedWatch:
    """When the market-data socket has been down FEED_DOWN_AFTER_S (or never came up), and
    when it is back after that: (kind, words) for the events topic, else None."""

    def __init__(self, down_after_s: float = FEED_DOWN_AFTER_S):
        self.down_after_s, self.down_since, self.reported = down_after_s, None, False

    def update(self, connected: bool, now_s: float) -> tuple[str, str] | None:
        if connected:
            back = self.reported and ("FEED_UP", f"market data feed back after "
                                                 f"{now_s - self.down_since:.0f} s")
            self.down_since, self.reported = None, False
            return back or None
        if self.down_since is None:
            self.down_since = now_s
        if not self.reported and now_s - self.down_since >= self.down_after_s:
            self.reported = True
            return "FEED_DOWN", (f"market data feed disconnected for "
                                 f"{now_s - self.down_since:.0f} s: no live ticks, exits wait")
        return None


async def _announce(prod, namespace: str, kind: str, words: str) -> None:
    log.warning("%s", words)
    at = int(time.time() * 1000)
    event = Event(event_id=ids.event_id(kind, at), kind=kind, at_ms=at, link_id="",
                  reason=words)
    await prod.send_and_wait(registry.topic_name(namespace, registry.EVENTS), kafka.encode(event),
                             key=kind.encode(), partition=0)


class TickSender:
    """Batches ticks per partition: a partition's batch is sent when it holds TICKS_PER_RECORD
    ticks or is `linger_s` old, and on close. Ticks of one instrument keep their order."""

    def __init__(self, producer, namespace: str, partitions: int, linger_s: float = 0.005):
        self.producer, self.partitions, self.linger_s = producer, partitions, linger_s
        self.topic = registry.topic_name(namespace, registry.TICKS)
        self.pending: dict[int, list] = {}
        self.volumes: dict[int, list] = {}      # the day's volume of each pending tick, if given
        self.sent = 0
        self._flusher: asyncio.Task | None = None

    async def __aenter__(self) -> "TickSender":
        self._flusher = asyncio.create_task(self._flush_every_linger())
        return self

    async def __aexit__(self, *exc) -> None:
        self._flusher.cancel()
        await asyncio.gather(self._flusher, return_exceptions=True)
        await self.flush()
        await self.producer.flush()

    async def send(self, token: str, ltp_paise: int, ts_ms: int,
                   day_volume: int | None = None) -> None:
        partition = registry.instrument_partition(token, self.partitions)
        batch = self.pending.setdefault(partition, [])
        if day_volume is not None:    # a volume makes the batch carry them all, index-aligned
            self.volumes.setdefault(partition, [None] * len(batch)).append(day_volume)
        elif partition in self.volumes:
            self.volumes[partition].append(None)
        batch.append([token, ltp_paise, ts_ms])
        if len(batch) >= TICKS_PER_RECORD:
            await self._send(partition)

    async def flush(self) -> None:
        for partition in list(self.pending):
            await self._send(partition)

    async def _send(self, partition: int) -> None:
        batch, volumes = self.pending.pop(partition, None), self.volumes.pop(partition, None)
        if batch:
            await self.producer.send(self.topic,
                                     kafka.encode(Ticks(ticks=batch, volumes=volumes)),
                                     key=batch[0][0].encode(), partition=partition)
            self.sent += len(batch)

    async def _flush_every_linger(self) -> None:
        while True:
            await asyncio.sleep(self.linger_s)
            await self.flush()


class Subscriptions:
    """Which tokens to stream: the watchlist, the instruments of live positions (active
    subscriptions) and those the attached strategies read."""

    def __init__(self, bootstrap: str, namespace: str, watchlist: set[str]):
        self.topic = registry.topic_name(namespace, registry.SUBSCRIPTIONS)
        self.strategies = registry.topic_name(namespace, registry.STRATEGIES)
        self.watchlist = watchlist
        self.follower = TopicFollower(bootstrap, [self.topic, self.strategies])

    def tokens(self) -> set[str]:
        active = {t for t, v in self.follower.values[self.topic].items() if v and v["active"]}
        read = {t for v in self.follower.values[self.strategies].values()
                if v and v["enabled"] for t in v["tokens"]}
        return self.watchlist | active | read


def watchlist_tokens(symbols: str) -> set[str]:
    tokens = set()
    for symbol in filter(None, (s.strip() for s in symbols.split(","))):
        inst = instruments.lookup(symbol)
        if inst is None:
            raise ValueError(f"watchlist symbol {symbol!r} is not in the instrument catalog")
        tokens.add(inst.token)
    return tokens


async def run_synthetic(bootstrap: str, namespace: str, partitions: int, *, watchlist: set[str],
                        rate: float, volatility_bps: float, seed: int,
                        duration_s: float | None = None) -> int:
    subs = Subscriptions(bootstrap, namespace, watchlist)
    subs.follower.start()
    walks: dict[str, RandomWalk] = {}
    started = time.monotonic()
    try:
        async with kafka.producing(bootstrap, linger_ms=5) as prod, \
                TickSender(prod, namespace, partitions) as ticks:
            while duration_s is None or time.monotonic() - started < duration_s:
                for token in sorted(subs.tokens()):
                    inst = instruments.by_token(token)
                    if inst is None:
                        continue
                    walk = walks.setdefault(token, RandomWalk(inst, seed, volatility_bps))
                    await ticks.send(token, walk.step(), int(time.time() * 1000))
                await asyncio.sleep(1 / rate)
    finally:
        await subs.follower.stop()
    return ticks.sent


async def run_replay(bootstrap: str, namespace: str, partitions: int, path: Path, *,
                     speed: float, watchlist: set[str] | None = None,
                     only_subscribed: bool = False) -> int:
    """Send the file's ticks (every instrument in it; with only_subscribed, only those the
    watchlist or an open position subscribes)."""
    ticks = list(replay.read(path))
    subs = Subscriptions(bootstrap, namespace, watchlist or set())
    if only_subscribed:
        subs.follower.start()
    try:
        if only_subscribed:
            await asyncio.wait_for(subs.follower.caught_up.wait(), 30)
        async with kafka.producing(bootstrap, linger_ms=5) as prod, \
                TickSender(prod, namespace, partitions) as sender:
            start = asyncio.get_running_loop().time()
            for at, t in replay.schedule(ticks, speed):
                wait = start + at - asyncio.get_running_loop().time()
                if wait > 0:
                    await sender.flush()
                    await asyncio.sleep(wait)
                if only_subscribed and t.token not in subs.tokens():
                    continue
                await sender.send(t.token, t.ltp_paise, t.ts_ms, t.volume)
    finally:
        await subs.follower.stop()
    return sender.sent


async def run_live(bootstrap: str, namespace: str, partitions: int, *, stream_of,
                   max_tokens: int, watchlist: set[str], duration_s: float | None = None) -> int:
    """Stream live ticks of the watchlist and of every subscribed instrument from a broker's
    market-data socket: stream_of(on_tick) gives a stream (SmartAPI's or Kite's) with
    want({token: exchange}), run() and a `connected` event."""
    subs = Subscriptions(bootstrap, namespace, watchlist)
    subs.follower.start()
    started = time.monotonic()
    try:
        async with kafka.producing(bootstrap, linger_ms=5) as prod, \
                TickSender(prod, namespace, partitions) as ticks:
            stream = stream_of(ticks.send)
            streaming = asyncio.create_task(stream.run())
            watch = FeedWatch()
            try:
                while duration_s is None or time.monotonic() - started < duration_s:
                    await stream.want(_at_most(_exchanges(subs), max_tokens))
                    change = watch.update(stream.connected.is_set(), time.monotonic())
                    if change:
                        await _announce(prod, namespace, *change)
                    await asyncio.sleep(0.25)
            finally:
                streaming.cancel()
                await asyncio.gather(streaming, return_exceptions=True)
    finally:
        await subs.follower.stop()
    return ticks.sent


def _at_most(tokens: dict[str, str], limit: int) -> dict[str, str]:
    if len(tokens) <= limit:
        return tokens
    log.error("%d instruments wanted; one market-data connection streams %d: the rest get no "
              "ticks", len(tokens), limit)
    return dict(sorted(tokens.items())[:limit])


def _exchanges(subs: Subscriptions) -> dict[str, str]:
    """token -> exchange of every instrument to stream."""
    exchanges = {t: v["exchange"] for t, v in subs.follower.values[subs.topic].items()
                 if v and v["active"]}
    out = {}
    for token in subs.tokens():
        inst = instruments.by_token(token)
        out[token] = exchanges.get(token) or (inst.exchange if inst else "NSE")
    return out
