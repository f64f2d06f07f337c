"""What a worker keeps in memory: link, account and bot settings (followed from their compacted
topics), every position's exposure cluster-wide (for risk limits), the instrument -> live
positions index of its active partitions, and the last price per token (its own partitions'
ticks, and the other workers' from their heartbeats)."""
from __future__ import annotations

import sys
import time
from collections import deque, namedtuple

from agents import risk
from agents.positions import LIVE_STATES, Position, quiet_range
from agents.strategies.candles import built_from
from connectors.follower import TopicFollower
from schemas import topics as registry
from schemas.records import Exposure


NEVER_QUIET = (1, 0)   # no price is in it
# ticks of each instrument kept, newest last: a position restored after a handover lost it
# has the ticks that passed it by applied again (a few minutes of a busy instrument)
RECENT_TICKS = 256

_DEFAULTS = Exposure._options.defaults


class Exposed(namedtuple("Exposed", tuple(Exposure._options.fields))):
    """A position's exposure as every worker keeps it (each live position of the cluster and
    those closed today): a tuple, a third of the record's dict, read like it (risk.py reads
    e["state"])."""
    __slots__ = ()

    def __getitem__(self, key):
        return getattr(self, key) if key.__class__ is str else tuple.__getitem__(self, key)

    def get(self, key: str, default=None):
        return getattr(self, key, default)

    @classmethod
    def of(cls, record: dict) -> "Exposed":
        """From the record's dict; the text many positions share (link, instrument, state)
        kept once."""
        values = (record.get(name, _DEFAULTS.get(name)) for name in cls._fields)
        return cls(*(sys.intern(v) if v.__class__ is str else v for v in values))


class WorkerMemory:
    def __init__(self, bootstrap: str, namespace: str):
        self.links_topic = registry.topic_name(namespace, registry.LINKS)
        self.accounts_topic = registry.topic_name(namespace, registry.ACCOUNTS)
        self.bot_topic = registry.topic_name(namespace, registry.BOT)
        self.exposure_topic = registry.topic_name(namespace, registry.EXPOSURE)
        self.workers_topic = registry.topic_name(namespace, registry.WORKERS)
        self.strategies_topic = registry.topic_name(namespace, registry.STRATEGIES)
        self.config = TopicFollower(bootstrap, [self.links_topic, self.accounts_topic,
                                                self.bot_topic, self.exposure_topic,
                                                self.workers_topic, self.strategies_topic],
                                    on_record=self._on_record,
                                    passed_on=frozenset({self.exposure_topic}))
        # (token, timeframe label) -> the enabled strategy attachments reading its candles
        self.strategies_on: dict[tuple[str, str], list[dict]] = {}
        self.candle_timeframes: dict[str, tuple[int, ...]] = {}   # token -> minutes to build
        self.index: dict[str, set[str]] = {}
        self.announced: set[str] = set()   # instruments last announced as to be streamed
        # instrument -> the prices at which a tick changes none of its live positions
        # (positions.quiet_range of each, intersected; NEVER_QUIET when a tick must visit
        # them); absent when it has none
        self.quiet: dict[str, tuple[int, int]] = {}
        self.quiet_of: dict[str, tuple[int, int] | None] = {}   # position id -> its range
        # positions whose trailing stop moved since their last POSITION event (sent once a second)
        self.moved: dict[str, str] = {}   # position id -> token
        self.last_price: dict[str, tuple[int, int]] = {}
        self.seen_at_ms: dict[str, int] = {}
        self.last_seq: dict[str, int] = {}
        self.recent: dict[str, deque] = {}   # token -> (sequence number, price) of its last ticks
        self.last_tick_ms: int | None = None
        self.exposures: dict[str, Exposed] = {}

    # -- settings -------------------------------------------------------------------------
    def link(self, link_id: str) -> dict | None:
        return self.config.get(self.links_topic, link_id)

    def account(self, account_id: str | None) -> dict | None:
        return self.config.get(self.accounts_topic, account_id) if account_id else None

    def bot(self, key: str = "bot") -> dict:
        """The global kill switch ('bot'), or a user's bot (their id); both default to on."""
        return self.config.get(self.bot_topic, key) or {"running": True, "version": 0}

    def bot_running(self, user_id: str | None) -> bool:
        return self.bot()["running"] and (user_id is None or self.bot(user_id)["running"])

    # -- exposure (risk limits) -------------------------------------------------------------
    def _on_record(self, topic: str, key: str, value: dict | None) -> None:
        if topic == self.exposure_topic and value:
            self.expose(value)
        elif topic == self.strategies_topic:
            self._index_strategies()

    def _index_strategies(self) -> None:
        """Which instruments need candles of which timeframes, and who reads them."""
        on: dict[tuple[str, str], list[dict]] = {}
        for attachment in self.config.values[self.strategies_topic].values():
            if attachment and attachment["enabled"]:
                for token in attachment["tokens"]:
                    on.setdefault((token, attachment["timeframe"]), []).append(attachment)
        frames: dict[str, set[int]] = {}
        for token, timeframe in on:
            frames.setdefault(token, set()).add(built_from(timeframe))
        self.strategies_on = on
        self.candle_timeframes = {t: tuple(sorted(m)) for t, m in frames.items()}

    def expose(self, exposure: dict) -> None:
        """Newest version wins, whether it came from this worker's own write or the topic.
        Positions closed before today are forgotten: they count towards no limit."""
        current = self.exposures.get(exposure["position_id"])
        if current and current["version"] >= exposure["version"]:
            return
        closed = exposure.get("closed_at_ms")
        if closed and risk.ist_day(closed) < risk.ist_day(int(time.time() * 1000)):
            self.exposures.pop(exposure["position_id"], None)
            return
        self.exposures[exposure["position_id"]] = Exposed.of(exposure)

    def positions_of(self, *, link_id: str | None = None, account_id: str | None = None):
        return [e for e in self.exposures.values()
                if (link_id is None or e["link_id"] == link_id)
                and (account_id is None or e.get("account_id") == account_id)]

    async def settings_at_least(self, link_id: str, link_version: int, user_id: str | None,
                                bot_version: int, global_bot_version: int,
                                timeout_s: float = 5.0) -> bool:
        """Read-your-writes: wait until the link and the bot switches are as fresh as the
        gateway saw them."""
        def fresh() -> bool:
            link = self.link(link_id)
            return (link is not None and link["version"] >= link_version
                    and self.bot()["version"] >= global_bot_version
                    and (user_id is None or self.bot(user_id)["version"] >= bot_version))
        return await self.config.wait_for(fresh, timeout_s)

    # -- positions index ------------------------------------------------------------------
    def track(self, pos: Position) -> None:
        ids = self.index.setdefault(pos.token, set())
        if pos.state in LIVE_STATES:
            ids.add(pos.id)
            self.quiet_of[pos.id] = quiet_range(pos)
        else:
            ids.discard(pos.id)
            self.quiet_of.pop(pos.id, None)
        self._requiet(pos.token)

    def _requiet(self, token: str) -> None:
        ids = self.index.get(token)
        if not ids:
            self.quiet.pop(token, None)
            return
        low, high = 0, sys.maxsize
        for pid in ids:
            quiet = self.quiet_of[pid]
            if quiet is None:
                low, high = NEVER_QUIET
                break
            low, high = max(low, quiet[0]), min(high, quiet[1])
        self.quiet[token] = (low, high)

    def is_quiet(self, token: str, price_paise: int) -> bool:
        """Whether a tick at this price leaves every live position on the instrument as it is
        (true of every price when it has none)."""
        quiet = self.quiet.get(token)
        return quiet is None or quiet[0] <= price_paise <= quiet[1]

    def rebuild(self, table_positions, active_partitions: set[int]) -> int:
        """From the positions table, keeping only partitions this worker owns (the table can
        also hold standby copies)."""
        self.index, self.quiet, self.quiet_of = {}, {}, {}
        for pos in table_positions:
            if pos.partition in active_partitions:
                self.track(pos)
        # the compacted subscriptions topic holds what was announced before the restart
        self.announced = {token for token, ids in self.index.items() if ids}
        return sum(len(v) for v in self.index.values())

    def live_ids(self) -> list[str]:
        """Every live position of this worker's active partitions, in id order."""
        return sorted({pid for pids in self.index.values() for pid in pids})

    def live_on(self, token: str) -> int:
        return len(self.index.get(token, ()))

    # -- prices ----------------------------------------------------------------------------
    def saw_ticks(self, ticks, first_seq: int, now_ms: int, resting, from_feed: bool = True):
        """Record each tick of a batch as the last of its instrument, one at a time, and yield
        (token, price, sequence number) of each that is not quiet or whose instrument has
        paper orders `resting`, for the caller to act on before the next tick is recorded:
        what the other agents read meanwhile is exact. A price fetched over REST (not
        from_feed) leaves the instrument's feed as stale as it was."""
        last_price, last_seq, seen_at, quiet, recent = (self.last_price, self.last_seq,
                                                        self.seen_at_ms, self.quiet, self.recent)
        self.last_tick_ms = now_ms
        for index, (token, price, ts_ms) in enumerate(ticks):
            seq = first_seq + index
            last_price[token] = (price, ts_ms)
            if seq > last_seq.get(token, -1):
                last_seq[token] = seq
                kept = recent.get(token)
                if kept is None:
                    kept = recent[token] = deque(maxlen=RECENT_TICKS)
                kept.append((seq, price))
            if from_feed:
                seen_at[token] = now_ms
            band = quiet.get(token)
            if (band is not None and not band[0] <= price <= band[1]) or token in resting:
                yield token, price, seq

    def ticks_since(self, token: str, seq: int) -> list[tuple[int, int]]:
        """(sequence number, price) of the instrument's kept ticks numbered after `seq`."""
        return [tick for tick in self.recent.get(token, ()) if tick[0] > seq]

    def price(self, token: str) -> int | None:
        """The last price of any instrument: this worker's ticks, else another worker's
        heartbeat (a couple of seconds old at most)."""
        seen = self.last_price.get(token)
        if seen:
            return seen[0]
        for beat in self.config.values[self.workers_topic].values():
            quoted = beat and (beat.get("last_prices") or {}).get(token)
            if quoted:
                return quoted[0]
        return None

    def fresh_price(self, token: str, max_age_ms: int, now_ms: int) -> int | None:
        """The last tick of this worker's instrument, if it arrived at most max_age_ms ago."""
        seen = self.last_price.get(token)
        if seen and now_ms - self.seen_at_ms.get(token, 0) <= max_age_ms:
            return seen[0]
        return None
