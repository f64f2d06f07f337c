"""Writing a position and the records that follow from it. Every record about a position goes
to its instrument's partition (co-partitioning, DESIGN.md), but a live order: to its broker
account's."""
from __future__ import annotations

import logging
import time
from functools import partial

from faust import current_event

from agents import app as A, metrics, positions
from agents.memory import WorkerMemory
from agents.positions import LIVE_STATES, Position
from connectors.paper import broker as paper
from schemas import ids
from schemas.records import Event, Exposure, Fill, OrderIntent, Subscription
from schemas.topics import instrument_partition

log = logging.getLogger("pinewire.emit")


def now_ms() -> int:
    return int(time.time() * 1000)


def partition_of(token: str) -> int:
    return instrument_partition(token, A.S.partitions)


def account_partition(account_id: str) -> int:
    """A broker account's partition: its live orders and its health events go there, so the
    one worker that owns it holds the account's session, rate limit and order-update socket,
    however many workers run."""
    return partition_of(account_id)


def order_partition(pos: Position) -> int:
    """A paper order is decided beside its position, on the instrument's partition; a live one
    on its account's. (Fills go back to the instrument's partition either way.)"""
    return partition_of(pos.token) if pos.paper or not pos.account_id \
        else account_partition(pos.account_id)


# what the risk limits count: whether a position is live, its quantities and its P&L (an exit
# decided but not filled changes none of them)
_EXPOSED = ("entry_qty", "exit_qty", "realized_pnl_paise", "fees_paise")


def _exposure_changed(before: Position | None, pos: Position) -> bool:
    return before is None or (before.state in LIVE_STATES) != (pos.state in LIVE_STATES) or \
        any(getattr(before, k) != getattr(pos, k) for k in _EXPOSED)


def exposure(pos: Position) -> Exposure:
    return Exposure(position_id=pos.id, link_id=pos.link_id, token=pos.token, side=pos.side,
                    state=pos.state, entry_qty=pos.entry_qty,
                    entry_value_paise=pos.entry_value_paise, exit_qty=pos.exit_qty,
                    exit_value_paise=pos.exit_value_paise, created_at_ms=pos.created_at_ms,
                    version=pos.version, account_id=pos.account_id,
                    realized_pnl_paise=pos.realized_pnl_paise, closed_at_ms=pos.closed_at_ms,
                    fees_paise=pos.fees_paise)


async def store(memory: WorkerMemory, pos: Position, before: Position | None) -> None:
    """Save the position; when it opened, closed, or its quantities or P&L changed from
    `before` (not on a tick, not on an exit decided), publish its exposure for every worker's
    risk limits — this worker's own view first."""
    save(memory, pos)
    if _exposure_changed(before, pos):
        record = exposure(pos)
        memory.expose(record.asdict())
        await A.exposure_topic.send(key=pos.id, value=record)


# RocksDB keeps positions encoded: the decoded ones are kept in front of it, emptied at each
# recovery (the memory store keeps them itself)
ROCKSDB = A.S.table_store == "rocksdb"
_decoded: dict[str, Position] = {}


def load(position_id: str | None) -> Position | None:
    """The position the table holds. The memory store keeps the Position this worker stored
    (its changelog gets its plain data); a value read from the changelog or RocksDB is plain
    data, decoded here once and kept decoded."""
    if not position_id:
        return None
    value = (ROCKSDB and _decoded.get(position_id)) or A.positions.get(position_id)
    if value is None or isinstance(value, Position):
        return value
    pos = (_decoded if ROCKSDB else A.positions.data)[position_id] = Position.from_dict(value)
    return pos


def forget_decoded() -> None:
    """After a recovery: the store may hold newer positions than those decoded before it."""
    _decoded.clear()


def save(memory: WorkerMemory, pos: Position) -> None:
    """Table first: whatever is emitted next is decided against this state."""
    write(pos)
    memory.track(pos)


_last_written: tuple[Position, object] | None = None   # the last position written, and its
                                                      # changelog record's future


def write(pos: Position) -> None:
    """The position and its slot into the tables (save() also updates the worker's memory)."""
    global _last_written
    # what the table's own assignment does, keeping its changelog record's future: an order
    # that follows waits on that record rather than writing the position a second time
    written = A.positions.send_changelog(current_event().message.partition, pos.id, pos)
    A.positions.data[pos.id] = pos
    _last_written = (pos, written)
    if ROCKSDB:
        _decoded[pos.id] = pos
    if pos.state in LIVE_STATES:
        if A.slots.get(pos.slot) != pos.id:   # a best-price update leaves the slot alone
            A.slots[pos.slot] = pos.id
    elif A.slots.get(pos.slot) == pos.id:
        del A.slots[pos.slot]


async def order(pos: Position, purpose: str, *, alert_id: str | None = None) -> None:
    """The position's order (positions.order_intent) to its partition."""
    intent = positions.order_intent(pos, purpose, alert_id, now_ms())
    # Write-ahead: the order goes to Kafka once the changelog holds the position that sent it
    # (the table's own record of this write may still be in flight). A worker killed between
    # the two restores a position that knows its order, and resends it if unanswered; never an
    # order whose fill finds a position that forgot it. The stream goes on meanwhile.
    fill = paper.fill_at_once(A.paper_book, intent, now_ms()) if intent.paper else None
    intent.filled_at_once = fill is not None
    last = _last_written
    written = last[1] if last is not None and last[0] is pos else \
        A.positions.send_changelog(current_event().message.partition, pos.id, pos)
    written.add_done_callback(partial(_send_order, intent, order_partition(pos), fill))


def _send_order(intent: OrderIntent, partition: int, fill: Fill | None, written) -> None:
    """The order, and a paper order's fill decided with it (the same write-ahead: both go
    once the changelog holds the position that sent them)."""
    if written.cancelled() or written.exception() is not None:
        log.warning("order %s not sent: the changelog did not take its position (%r); the "
                    "position resends it", intent.client_order_id,
                    None if written.cancelled() else written.exception())
        return
    sent = A.orders_topic.send_soon(key=intent.position_id, value=intent, partition=partition)
    if fill is not None:
        sent.add_done_callback(partial(_send_fill, intent, fill))


def _send_fill(intent: OrderIntent, fill: Fill, sent) -> None:
    """A fill decided with its order goes once Kafka holds the order: the two are on other
    partitions, and a fill delivered without its order (a broker or the worker lost in
    between) would close the position with no order on record. Not sent: the position, still
    exiting, sends both again (the same ids)."""
    if sent.cancelled() or sent.exception() is not None:
        log.warning("fill of %s not sent: its order did not reach Kafka (%r); the position "
                    "resends both", intent.client_order_id,
                    None if sent.cancelled() else sent.exception())
        return
    A.fills_topic.send_soon(key=fill.position_id, value=fill, partition=partition_of(fill.token))
    metrics.ORDER_TO_FILL.labels(intent.purpose).observe(
        max(0, fill.at_ms - intent.created_at_ms) / 1000)


async def event(kind: str, *, link_id: str, token: str | None = None,
                pos: Position | None = None, alert_id: str | None = None,
                reason: str | None = None, detail: dict | None = None,
                partition: int | None = None, key: str | None = None,
                user_id: str | None = None) -> None:
    position_id = pos.id if pos else None
    version = pos.version if pos else 0
    record = Event(event_id=ids.event_id(kind, alert_id, position_id, version, key), kind=kind,
                   at_ms=now_ms(), link_id=link_id, position_id=position_id, alert_id=alert_id,
                   reason=reason, position=pos.to_dict() if pos else None, detail=detail,
                   user_id=user_id or (pos.user_id if pos else None))
    await A.events_topic.send(key=key or position_id or link_id, value=record,
                              partition=partition_of(token) if partition is None else partition)


async def subscription(memory: WorkerMemory, pos: Position) -> None:
    """The feeds stream an instrument while any live position on it exists: announced when
    its first live position appears and when its last one ends, not on every one between."""
    count = memory.live_on(pos.token)
    if (count > 0) == (pos.token in memory.announced):
        return
    (memory.announced.add if count else memory.announced.discard)(pos.token)
    await A.subscriptions_topic.send(
        key=pos.token, value=Subscription(token=pos.token, symbol=pos.symbol,
                                          exchange=pos.exchange, active=count > 0,
                                          open_positions=count, at_ms=now_ms()))
