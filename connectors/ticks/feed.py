"""The tick-feed process: streams the watchlist and every instrument the subscriptions topic
marks active, into the ticks topic keyed by token."""
from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path

from connectors.ticks import replay
from connectors.ticks.synthetic import RandomWalk
from pinewire import kafka
from pinewire.follower import TopicFollower
from schemas import instruments
from schemas import topics as registry
from schemas.records import Tick

log = logging.getLogger(__name__)


class Subscriptions:
    """Which tokens to stream: the watchlist plus active subscriptions."""

    def __init__(self, bootstrap: str, namespace: str, watchlist: set[str]):
        self.topic = registry.topic_name(namespace, registry.SUBSCRIPTIONS)
        self.watchlist = watchlist
        self.follower = TopicFollower(bootstrap, [self.topic])

    def tokens(self) -> set[str]:
        active = {t for t, v in self.follower.values[self.topic].items() if v and v["active"]}
        return self.watchlist | active


def watchlist_tokens(symbols: str) -> set[str]:
    tokens = set()
    for symbol in filter(None, (s.strip() for s in symbols.split(","))):
        inst = instruments.lookup(symbol)
        if inst is None:
            raise ValueError(f"watchlist symbol {symbol!r} is not in the instrument catalog")
        tokens.add(inst.token)
    return tokens


async def run_synthetic(bootstrap: str, namespace: str, *, watchlist: set[str], rate: float,
                        volatility_bps: float, seed: int, duration_s: float | None = None) -> int:
    subs = Subscriptions(bootstrap, namespace, watchlist)
    subs.follower.start()
    walks: dict[str, RandomWalk] = {}
    topic, sent, started = registry.topic_name(namespace, registry.TICKS), 0, time.monotonic()
    try:
        async with kafka.producing(bootstrap, linger_ms=5) as prod:
            while duration_s is None or time.monotonic() - started < duration_s:
                for token in sorted(subs.tokens()):
                    inst = instruments.by_token(token)
                    if inst is None:
                        continue
                    walk = walks.setdefault(token, RandomWalk(inst, seed, volatility_bps))
                    tick = Tick(token=token, ltp_paise=walk.step(), ts_ms=int(time.time() * 1000))
                    await prod.send(topic, kafka.encode(tick), key=token.encode())
                    sent += 1
                await asyncio.sleep(1 / rate)
    finally:
        await subs.follower.stop()
    return sent


async def run_replay(bootstrap: str, namespace: str, path: Path, *, speed: float,
                     watchlist: set[str] | None = None, only_subscribed: bool = False) -> int:
    """Send the file's ticks (every instrument in it; with only_subscribed, only those the
    watchlist or an open position subscribes)."""
    ticks = list(replay.read(path))
    subs = Subscriptions(bootstrap, namespace, watchlist or set())
    topic, sent = registry.topic_name(namespace, registry.TICKS), 0
    if only_subscribed:
        subs.follower.start()
    try:
        if only_subscribed:
            await asyncio.wait_for(subs.follower.caught_up.wait(), 30)
        async with kafka.producing(bootstrap, linger_ms=5) as prod:
            for wait, t in replay.delays(ticks, speed):
                if wait:
                    await asyncio.sleep(wait)
                if only_subscribed and t.token not in subs.tokens():
                    continue
                tick = Tick(token=t.token, ltp_paise=t.ltp_paise, ts_ms=t.ts_ms, volume=t.volume)
                await prod.send(topic, kafka.encode(tick), key=t.token.encode())
                sent += 1
            await prod.flush()
    finally:
        await subs.follower.stop()
    return sent


async def run_smartapi(bootstrap: str, namespace: str, *, session, url: str,
                       watchlist: set[str], duration_s: float | None = None) -> int:
    """Stream live ticks of the watchlist and of every subscribed instrument."""
    from connectors.smartapi import packets
    from connectors.smartapi.ticks import MAX_TOKENS, MarketStream
    subs = Subscriptions(bootstrap, namespace, watchlist)
    subs.follower.start()
    topic, sent, started = registry.topic_name(namespace, registry.TICKS), 0, time.monotonic()
    try:
        async with kafka.producing(bootstrap, linger_ms=5) as prod:
            async def on_packet(p: packets.MarketPacket) -> None:
                nonlocal sent
                tick = Tick(token=p.token, ltp_paise=p.ltp_paise, ts_ms=p.exchange_ts_ms)
                await prod.send(topic, kafka.encode(tick), key=p.token.encode())
                sent += 1

            stream = MarketStream(session, url, on_packet)
            streaming = asyncio.create_task(stream.run())
            try:
                while duration_s is None or time.monotonic() - started < duration_s:
                    await stream.set_tokens(_at_most(_exchange_types(subs), MAX_TOKENS))
                    await asyncio.sleep(0.25)
            finally:
                streaming.cancel()
                await asyncio.gather(streaming, return_exceptions=True)
    finally:
        await subs.follower.stop()
    return sent


def _at_most(tokens: dict[str, int], limit: int) -> dict[str, int]:
    if len(tokens) <= limit:
        return tokens
    log.error("%d instruments wanted; one market-data connection streams %d: the rest get no "
              "ticks", len(tokens), limit)
    return dict(sorted(tokens.items())[:limit])


def _exchange_types(subs: Subscriptions) -> dict[str, int]:
    from connectors.smartapi.packets import EXCHANGE_TYPES
    exchanges = {t: v["exchange"] for t, v in subs.follower.values[subs.topic].items()
                 if v and v["active"]}
    out = {}
    for token in subs.tokens():
        inst = instruments.by_token(token)
        exchange = exchanges.get(token) or (inst.exchange if inst else "NSE")
        out[token] = EXCHANGE_TYPES.get(exchange, 1)
    return out
