"""The trading agents. Each reads like a paragraph: decode, look up, decide (a pure call),
write state, emit. concurrency=1 everywhere: scale by partitions and processes (DESIGN.md)."""
from __future__ import annotations

import logging

from agents import app as A
from agents import emit, positions, signals
from agents.brokers import Brokers
from agents.ledger_agents import engine
from agents.memory import WorkerMemory
from agents.positions import Position
from connectors.broker import rejection
from pinewire.accounts import AccountError
from schemas.records import Alert, Command, Fill, OrderIntent, Tick

log = logging.getLogger(__name__)
memory = WorkerMemory(A.S.bootstrap, A.S.namespace)


async def send_fill(fill: Fill) -> None:
    await A.fills_topic.send(key=fill.position_id, value=fill,
                             partition=emit.partition_of(fill.token))


brokers = Brokers(A.S, engine, send_fill)


async def _alert_failed(alert: Alert, exc: Exception) -> None:
    await emit.event("ALERT_IGNORED", link_id=alert.link_id, token=alert.token,
                     alert_id=alert.id, reason=f"internal error: {type(exc).__name__}: {exc}")


def _live(alert: Alert) -> Position | None:
    pid = A.slots.get(positions.slot_key(alert.link_id, alert.token))
    data = A.positions.get(pid) if pid else None
    return Position.from_dict(data) if data else None


@A.app.agent(A.alerts_topic, concurrency=1)
async def on_alert(stream):
    await A.consume(stream, handle_alert, on_error=_alert_failed)


async def handle_alert(alert: Alert) -> None:
    seen = A.dedupe.get(alert.dedupe_key)
    if seen and seen["alert_id"] == alert.id:
        return  # a replay of an alert already decided; unanswered intents are resent on ticks
    duplicate = signals.duplicate_of(seen, alert.id, alert.received_at_ms, alert.dedupe_window_s)
    if duplicate is None:
        A.dedupe[alert.dedupe_key] = {"alert_id": alert.id, "at_ms": alert.received_at_ms}
    await memory.settings_at_least(alert.link_id, alert.link_version, alert.bot_version)
    link, live = memory.link(alert.link_id), _live(alert)
    decision = signals.decide(
        action=alert.action, strategy=alert.strategy,
        link_strategy=link["strategy"] if link else None,
        link_enabled=bool(link and link["enabled"]), bot_running=memory.bot()["running"],
        duplicate=duplicate, live=live)
    common = dict(link_id=alert.link_id, token=alert.token, alert_id=alert.id,
                  reason=decision.reason)
    if decision.outcome == signals.IGNORE:
        await emit.event("ALERT_IGNORED", pos=live, **common)
        return
    if decision.outcome == signals.OPEN:
        pos = positions.open_position(
            alert_id=alert.id, link_id=alert.link_id, token=alert.token, symbol=alert.symbol,
            exchange=alert.exchange, side=decision.side,
            quantity=link["quantity"] * alert.lot_size,
            paper=link["paper"], sl_pct=link["sl_pct"], target_pct=link["target_pct"],
            trail_pct=link["trail_pct"], trail_activation_pct=link["trail_activation_pct"],
            slippage_bps=link["slippage_bps"], reference_price_paise=alert.price_paise,
            partition=emit.partition_of(alert.token), now_ms=emit.now_ms(),
            account_id=link.get("account_id"))
        purpose = "ENTRY"
    else:
        pos = positions.begin_exit(live, positions.SIGNAL, emit.now_ms())
        purpose = "EXIT"
    emit.save(memory, pos)
    await emit.order(pos, purpose, alert_id=alert.id)
    await emit.event("ALERT_ACCEPTED", pos=pos, **common)


@A.app.agent(A.orders_topic, concurrency=1)
async def on_order(stream):
    await A.consume(stream, execute)


async def execute(intent: OrderIntent) -> None:
    """Idempotent by client order id: a redelivered intent gets the same fills again."""
    done = A.executions.get(intent.client_order_id)
    if isinstance(done, list):
        fills = [Fill(**f) for f in done]
    else:
        # A marker before the call: a redelivery that finds it looks for the order at the
        # broker before placing (the crash may have come after the placement).
        A.executions[intent.client_order_id] = {"placing": emit.now_ms()}
        try:
            broker = brokers.for_intent(intent)
            fills = await broker.execute(intent, memory.price(intent.token), emit.now_ms(),
                                         maybe_placed=done is not None)
        except AccountError as exc:
            fills = [rejection(intent, str(exc), emit.now_ms())]
        # a live order's fills come from the broker's order stream; [] marks it as placed
        A.executions[intent.client_order_id] = [f.asdict() for f in fills]
    for fill in fills:
        await send_fill(fill)


@A.app.agent(A.fills_topic, concurrency=1)
async def on_fill(stream):
    await A.consume(stream, apply_fill)


async def apply_fill(fill: Fill) -> None:
    data = A.positions.get(fill.position_id)
    if data is None:
        log.error("fill %s for unknown position %s", fill.fill_id, fill.position_id)
        return
    before = Position.from_dict(data)
    pos = positions.apply_fill(before, fill_id=fill.fill_id, client_order_id=fill.client_order_id,
                               status=fill.status, quantity=fill.quantity,
                               price_paise=fill.price_paise, text=fill.text, now_ms=fill.at_ms,
                               tick_offset=memory.last_offset.get(fill.token))
    if pos is None:
        return  # already applied
    emit.save(memory, pos)
    await emit.event("POSITION", link_id=pos.link_id, token=pos.token, pos=pos,
                     reason=f"{fill.status} {fill.quantity} @ {fill.price_paise}")
    if (before.state in positions.LIVE_STATES) != (pos.state in positions.LIVE_STATES) or \
            (before.state == positions.PENDING and pos.state == positions.OPEN):
        await emit.subscription(memory, pos)


@A.app.agent(A.commands_topic, concurrency=1)
async def on_command(stream):
    await A.consume(stream, restore)


async def restore(command: Command) -> None:
    """RESTORE: a position from the ledger after the broker lost its topics."""
    if command.kind != "RESTORE" or not command.position:
        log.error("unknown command %s", command.kind)
        return
    current = A.positions.get(command.position_id)
    snapshot = Position.from_dict(command.position)
    if current and current["version"] >= snapshot.version:
        return
    pos = positions.restored(snapshot, emit.now_ms())
    emit.save(memory, pos)
    await emit.event("RESTORED", link_id=pos.link_id, token=pos.token, pos=pos,
                     reason="restored from the ledger")
    await emit.subscription(memory, pos)
    outstanding = {positions.PENDING: "ENTRY", positions.EXITING: "EXIT"}.get(pos.state)
    if outstanding:
        await emit.order(pos, outstanding)


@A.app.agent(A.ticks_topic, concurrency=1)
async def on_tick(stream):
    # events, not values: the tick's offset tells a replayed tick from a new one
    await A.consume(stream.events(), watch)


async def watch(event) -> None:
    """The exit monitor: evaluates only the positions of the ticked instrument."""
    tick: Tick = event.value
    offset = event.message.offset
    memory.saw_tick(tick.token, tick.ltp_paise, tick.ts_ms, offset)
    for pid in list(memory.index.get(tick.token, ())):
        pos = Position.from_dict(A.positions.get(pid))
        now = emit.now_ms()
        stale = positions.stale_intent(pos, now, A.S.resend_after_ms)
        if stale:
            pos = positions.resent(pos, now)
            emit.save(memory, pos)
            await emit.order(pos, stale)
            continue
        changed, decision = positions.on_tick(pos, tick.ltp_paise, now, offset)
        if changed is None:
            continue
        emit.save(memory, changed)
        if decision is not None:
            await emit.order(changed, "EXIT")
        await emit.event("POSITION", link_id=changed.link_id, token=changed.token, pos=changed,
                         reason=decision.reason if decision else "best price")
