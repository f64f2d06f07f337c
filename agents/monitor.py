"""The exit monitor: every tick of an instrument, applied to the live positions on it (only
those: this worker's index of its active partitions); then the paper book fills what rests on
that instrument. An exit decided on this tick first cancels what rests of its entry, so the
exit covers exactly what filled.

Ticks arrive in batches (schemas.records.Ticks). Most ticks move no position (no new best
price, no level reached): the worker's memory keeps, per instrument, the price range in which
that holds for all its positions, and such a tick costs a comparison. A new best price is
written to the table once per record (a trending instrument's ticks of one record make one
write); a trailing stop it moves is reported on the events topic once a second at most."""
from __future__ import annotations

from agents import app as A
from agents import candle_agent, emit, metrics, positions
from agents.pipeline import brokers, memory, protect_if_due, send_fill
from schemas.records import TICKS_PER_RECORD


@A.app.agent(A.ticks_topic, concurrency=1)
async def on_ticks(stream):
    # events, not values: the record's offset numbers its ticks, telling a replay from news
    await A.consume(stream, watch_then_build, events=True)


async def watch_then_build(event) -> None:
    """The exits first, then the candles, in the one stream: a second agent on the ticks topic
    would have each record delivered, tracked and acknowledged twice."""
    await watch(event)
    await candle_agent.build(event)


async def watch(event) -> None:
    metrics.TICKS.inc(len(event.value.ticks))
    book, unwritten = brokers.paper.book, {}
    try:
        for token, price, seq in memory.saw_ticks(event.value.ticks,
                                                  event.message.offset * TICKS_PER_RECORD,
                                                  emit.now_ms(), book,
                                                  from_feed=event.value.source != "rest"):
            if not memory.is_quiet(token, price):
                for pid in list(memory.index.get(token, ())):
                    await _apply(pid, token, price, seq, unwritten)
            if token in book:
                _write(unwritten)
                for fill in brokers.paper.on_tick(token, price, emit.now_ms()):
                    await send_fill(fill)
    finally:   # also when a tick failed: what the others changed stands (memory has it)
        _write(unwritten)


def _write(unwritten: dict[str, positions.Position]) -> None:
    """Into the table, the positions a tick of this record changed without deciding anything
    (a new best, a moved stop): once each, however many ticks changed them. Called before
    anything that lets another agent run (they read the table) and at the record's end (its
    offset is committed after that, so a replay after a crash redoes the whole record)."""
    for pos in unwritten.values():
        emit.write(pos)              # memory tracked each change already
    unwritten.clear()


async def _apply(pid: str, token: str, price: int, seq: int,
                 unwritten: dict[str, positions.Position]) -> None:
    pos = unwritten.get(pid) or emit.load(pid)
    now = emit.now_ms()
    stale = positions.stale_intent(pos, now, A.S.resend_after_ms)
    if stale:
        unwritten.pop(pid, None)
        _write(unwritten)
        pos = positions.resent(pos, now)
        emit.save(memory, pos)
        await emit.order(pos, stale)
        return
    changed, decision, verdict = positions.on_tick(pos, price, now, seq)
    if changed is None:
        return
    if decision is None and verdict is None:
        if changed.broker_stop and changed.stop != pos.stop:   # its broker rule follows
            unwritten.pop(pid, None)
            _write(unwritten)
            await emit.store(memory, changed, pos)
            memory.moved[changed.id] = token
            await protect_if_due(changed)
            return
        unwritten[pid] = changed
        memory.track(changed)          # the instrument's quiet range follows at once
        if changed.stop != pos.stop:
            memory.moved[changed.id] = token   # the ledger and the live view hear it within 1 s
        return
    unwritten.pop(pid, None)
    _write(unwritten)
    await emit.store(memory, changed, pos)
    if decision is not None:
        metrics.TICK_TO_DECISION.observe(max(0, now - memory.last_price[token][1]) / 1000)
        if changed.paper and changed.entry_open:
            for fill in brokers.paper.cancel(token, changed.entry_order_id, now):
                await send_fill(fill)
        await emit.order(changed, "EXIT")
    if verdict is not None:
        await emit.event(f"TICK_{verdict}", link_id=changed.link_id, token=token, pos=changed,
                         reason=f"tick {price} (sequence {seq})")
    if decision is not None:
        memory.moved.pop(changed.id, None)
        await emit.event("POSITION", link_id=changed.link_id, token=token, pos=changed,
                         reason=decision.reason)
    elif changed.stop != pos.stop:
        memory.moved[changed.id] = token


async def catch_up(pos: positions.Position) -> None:
    """Apply to a position just restored the ticks of its instrument this worker has kept
    since the position's last one: those that passed it by while a handover had lost it. A
    tick numbered later than those cannot come between: nothing here waits until a tick
    decides something."""
    if pos.tick_offset is None:
        return         # which ticks came after it is not known
    unwritten: dict[str, positions.Position] = {}
    try:
        for seq, price in memory.ticks_since(pos.token, pos.tick_offset):
            await _apply(pos.id, pos.token, price, seq, unwritten)
    finally:
        _write(unwritten)


async def report_moves() -> None:
    """One POSITION event per position whose trailing stop moved since the last report, with
    its state now: a trending instrument would otherwise send one per tick. (A new best price
    that moves no level is in the table by the end of its tick record, and on the next event
    of the position.)"""
    moved, memory.moved = memory.moved, {}
    for pid, token in moved.items():
        pos = emit.load(pid)
        if pos and pos.state == positions.OPEN:
            await emit.event("POSITION", link_id=pos.link_id, token=token, pos=pos,
                             reason="trailing stop moved")
