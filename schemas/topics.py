"""The topic registry: the only place a topic name, its key and its partitioning are spelled.

Records about a position are keyed by position id but produced to the partition of their
instrument, so that positions, their fills and their ticks are co-partitioned (DESIGN.md).
"""
from __future__ import annotations

from dataclasses import dataclass

from aiokafka.partitioner import murmur2


@dataclass(frozen=True)
class TopicSpec:
    name: str
    key: str
    partitioned_by_instrument: bool
    compacted: bool = False
    description: str = ""


ALERTS = TopicSpec("alerts", "link id", True, description="alerts accepted by the gateway")
ORDERS = TopicSpec("orders", "position id", True, description="order intents (entries and exits)")
FILLS = TopicSpec("fills", "position id", True, description="fills and rejections from the broker")
EVENTS = TopicSpec("events", "position id", True, description="alert outcomes and position changes")
COMMANDS = TopicSpec("commands", "position id", True, description="restores and manual commands")
TICKS = TopicSpec("ticks", "instrument token", True, description="market ticks")
CANDLES = TopicSpec("candles", "instrument token", True,
                    description="closed candles built from ticks, and loaded history")
STRATEGIES = TopicSpec("strategies", "attachment id", False, compacted=True,
                       description="strategies attached to links")
SUBSCRIPTIONS = TopicSpec("subscriptions", "instrument token", False, compacted=True,
                          description="instruments the tick feeds must stream")
LINKS = TopicSpec("links", "link id", False, compacted=True, description="webhook link settings")
ACCOUNTS = TopicSpec("accounts", "account id", False, compacted=True,
                     description="broker accounts' risk limits (never credentials)")
EXPOSURE = TopicSpec("exposure", "position id", False, compacted=True,
                     description="each position's state and P&L, for cluster-wide risk limits")
BOT = TopicSpec("bot", "'bot'", False, compacted=True, description="the bot's on/off state")
WORKERS = TopicSpec("workers", "worker id", False, compacted=True, description="worker heartbeats")
DEAD_LETTERS = TopicSpec("deadletters", "agent", False,
                         description="records an agent could not handle, with the error")

ALL = (ALERTS, ORDERS, FILLS, EVENTS, COMMANDS, TICKS, CANDLES, SUBSCRIPTIONS, LINKS, ACCOUNTS,
       STRATEGIES, BOT, EXPOSURE, WORKERS, DEAD_LETTERS)
# Topics the Faust workers consume in their consumer group (named by the namespace).
PIPELINE = (ALERTS, ORDERS, FILLS, COMMANDS, TICKS, CANDLES)
# Topics the ledger process writes into SQL, in its own consumer group (ledger_group).
LEDGER = (ALERTS, EVENTS, ORDERS, FILLS)
# Changelog-backed tables of the worker; their changelog topics are named by Faust.
TABLES = ("positions", "slots", "dedupe", "executions", "paper_book", "sweeps",
          "candle_builders", "candle_history")


def topic_name(namespace: str, spec: TopicSpec) -> str:
    return f"{namespace}.{spec.name}"


def ledger_group(namespace: str) -> str:
    return f"{namespace}-ledger"


def consumer_groups(namespace: str) -> dict[str, tuple[str, tuple[TopicSpec, ...]]]:
    """Who reads which topics: the workers' group and the ledger's (its id, its topics)."""
    return {"workers": (namespace, PIPELINE), "ledger": (ledger_group(namespace), LEDGER)}


def changelog_name(namespace: str, table: str) -> str:
    """Faust names a table's changelog '<app id>-<table>-changelog'; the app id is the namespace."""
    return f"{namespace}-{table}-changelog"


def spec_by_name(name: str) -> TopicSpec:
    for spec in ALL:
        if spec.name == name:
            return spec
    raise KeyError(f"unknown topic {name!r}; known: {', '.join(s.name for s in ALL)}")


def instrument_partition(token: str, partitions: int) -> int:
    """The partition aiokafka's default partitioner gives a record keyed by this token."""
    return (murmur2(token.encode()) & 0x7FFFFFFF) % partitions
