"""Prices when ticks stop: an instrument of this worker's with a live open position (a broker
account's, not paper) and no tick from the feed for PINEWIRE_STALE_TICK_S within market hours
is priced over REST by its account's broker, and that price goes on the ticks topic like any
tick (marked as REST's): the same rules run on it, in the same order as the feed's ticks. It
is asked again every PINEWIRE_STALE_TICK_S while the feed stays silent. Each position is told
once per stall (a PRICED_OVER_REST event: the dashboard's Logs and Live page show it)."""
from __future__ import annotations

import asyncio
import logging

from agents import app as A, emit
from agents.memory import WorkerMemory
from agents.positions import LIVE_STATES, Position
from schemas import market_time
from schemas.money import paise_to_rupees
from schemas.records import Ticks

log = logging.getLogger(__name__)


def stalled(memory: WorkerMemory, now_ms: int, after_ms: int) -> dict[str, list[Position]]:
    """token -> its live broker positions, for the instruments whose feed has been silent for
    after_ms (or never spoke since they were held here)."""
    out: dict[str, list[Position]] = {}
    for token, pids in memory.index.items():
        seen = memory.seen_at_ms.get(token)
        if seen is not None and now_ms - seen < after_ms:
            continue                      # most instruments, most of the time: no load
        held = [p for pid in pids if (p := emit.load(pid)) is not None and not p.paper
                and p.account_id and p.state in LIVE_STATES]
        if held:
            out[token] = held
    return out


class StalledTicks:
    def __init__(self, memory: WorkerMemory, quotes):
        self.memory, self.quotes = memory, quotes
        self.asked: dict[str, int] = {}      # token -> when its price was last asked
        self.told: set[tuple[str, int | None]] = set()   # (position, feed's last tick) told

    async def check(self, now_ms: int) -> None:
        every = int(A.S.stale_tick_s * 1000)
        if not market_time.in_window(A.S.market_hours, now_ms):
            return
        for token, held in stalled(self.memory, now_ms, every).items():
            if now_ms - self.asked.get(token, 0) < every:
                continue
            self.asked[token] = now_ms
            first = held[0]
            try:
                broker = await self.quotes(first.account_id)
                price = await asyncio.wait_for(
                    broker.last_price(token, first.symbol, first.exchange), every / 1000)
            except Exception as exc:  # noqa: BLE001 - asked again next time
                log.warning("no tick of %s for %.0f s, and its price over REST failed: %s",
                            first.symbol, every / 1000, type(exc).__name__)
                continue
            if price is None:
                continue
            await A.ticks_topic.send(key=token, value=Ticks(ticks=[[token, price, now_ms]],
                                                            source="rest"),
                                     partition=emit.partition_of(token))
            await self._tell(token, held, price, now_ms)

    async def _tell(self, token: str, held: list[Position], price: int, now_ms: int) -> None:
        since = self.memory.seen_at_ms.get(token)
        for pos in held:
            if (pos.id, since) in self.told:
                continue
            self.told.add((pos.id, since))
            await emit.event("PRICED_OVER_REST", link_id=pos.link_id, token=token, pos=pos,
                             key=f"rest:{pos.id}:{since}",
                             reason=f"no tick of {pos.symbol} for {A.S.stale_tick_s:g} s: "
                                    f"priced over REST at ₹{paise_to_rupees(price)}, and "
                                    "pinewire's rules run on it until the feed is back")
