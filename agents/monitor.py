"""The exit monitor: every tick of an instrument, applied to the live positions on it (only
those: this worker's index of its active partitions); then the paper book fills what rests on
that instrument. An exit decided on this tick first cancels what rests of its entry, so the
exit covers exactly what filled."""
from __future__ import annotations

from agents import app as A
from agents import emit, positions
from agents.pipeline import brokers, memory, send_fill
from schemas.records import Tick


@A.app.agent(A.ticks_topic, concurrency=1)
async def on_tick(stream):
    # events, not values: the tick's offset tells a replayed tick from a new one
    await A.consume(stream, watch, events=True)


async def watch(event) -> None:
    tick: Tick = event.value
    offset = event.message.offset
    memory.saw_tick(tick.token, tick.ltp_paise, tick.ts_ms, offset)
    for pid in list(memory.index.get(tick.token, ())):
        pos = memory.position(A.positions.get(pid))
        now = emit.now_ms()
        stale = positions.stale_intent(pos, now, A.S.resend_after_ms)
        if stale:
            pos = positions.resent(pos, now)
            emit.save(memory, pos)
            await emit.order(pos, stale)
            continue
        changed, decision, verdict = positions.on_tick(pos, tick.ltp_paise, now, offset)
        if changed is None:
            continue
        await emit.store(memory, changed, pos)
        if decision is not None:
            if changed.paper and changed.entry_open:
                for fill in brokers.paper.cancel(tick.token, changed.entry_order_id, now):
                    await send_fill(fill)
            await emit.order(changed, "EXIT")
        if verdict is not None:
            await emit.event(f"TICK_{verdict}", link_id=changed.link_id, token=changed.token,
                             pos=changed, reason=f"tick {tick.ltp_paise} at offset {offset}")
        if decision is not None or changed.best_paise != pos.best_paise:
            await emit.event("POSITION", link_id=changed.link_id, token=changed.token,
                             pos=changed, reason=decision.reason if decision else "best price")
    for fill in brokers.paper.on_tick(tick.token, tick.ltp_paise, emit.now_ms()):
        await send_fill(fill)
