"""What a worker keeps in memory: link and bot settings (followed from their compacted topics),
the instrument -> live positions index of its active partitions, and the last price per token."""
from __future__ import annotations

import time

from agents.positions import LIVE_STATES, Position
from pinewire.follower import TopicFollower
from schemas import topics as registry


class WorkerMemory:
    def __init__(self, bootstrap: str, namespace: str):
        self.links_topic = registry.topic_name(namespace, registry.LINKS)
        self.bot_topic = registry.topic_name(namespace, registry.BOT)
        self.config = TopicFollower(bootstrap, [self.links_topic, self.bot_topic])
        self.index: dict[str, set[str]] = {}
        self.last_price: dict[str, tuple[int, int]] = {}
        self.last_offset: dict[str, int] = {}
        self.last_tick_ms: int | None = None

    # -- settings -------------------------------------------------------------------------
    def link(self, link_id: str) -> dict | None:
        return self.config.get(self.links_topic, link_id)

    def bot(self) -> dict:
        return self.config.get(self.bot_topic, "bot") or {"running": True, "version": 0}

    async def settings_at_least(self, link_id: str, link_version: int, bot_version: int,
                                timeout_s: float = 5.0) -> bool:
        """Read-your-writes: wait until the link and the bot state are as fresh as the gateway saw."""
        def fresh() -> bool:
            link = self.link(link_id)
            return (link is not None and link["version"] >= link_version
                    and self.bot()["version"] >= bot_version)
        return await self.config.wait_for(fresh, timeout_s)

    # -- positions index ------------------------------------------------------------------
    def track(self, pos: Position) -> None:
        ids = self.index.setdefault(pos.token, set())
        if pos.state in LIVE_STATES:
            ids.add(pos.id)
        else:
            ids.discard(pos.id)

    def rebuild(self, table_items, active_partitions: set[int]) -> int:
        """From the positions table, keeping only partitions this worker owns (the table can
        also hold standby copies)."""
        self.index = {}
        for _, value in table_items:
            if value and value.get("partition") in active_partitions:
                self.track(Position.from_dict(value))
        return sum(len(v) for v in self.index.values())

    def live_on(self, token: str) -> int:
        return len(self.index.get(token, ()))

    # -- prices ----------------------------------------------------------------------------
    def saw_tick(self, token: str, ltp_paise: int, ts_ms: int, offset: int) -> None:
        self.last_price[token] = (ltp_paise, ts_ms)
        self.last_offset[token] = max(offset, self.last_offset.get(token, -1))
        self.last_tick_ms = int(time.time() * 1000)

    def price(self, token: str) -> int | None:
        seen = self.last_price.get(token)
        return seen[0] if seen else None
