"""The trading agents. Each reads like a paragraph: decode, look up, decide (a pure call),
write state, emit. concurrency=1 everywhere: scale by partitions and processes (DESIGN.md)."""
from __future__ import annotations

import asyncio
import logging
import threading

from faust import current_event

from agents import (alert_rules, app as A, broker_stops, emit, faults, fills, metrics,
                    positions, risk, rule_watch, signals)
from agents.brokers import Brokers
from agents.lanes import OrderLanes
from agents.memory import WorkerMemory
from agents.notify import BROKER_STOP_RULE
from agents.positions import Position
from connectors import ratelimit
from connectors.broker import rejection
from connectors.credentials import AccountError
from connectors.placement import Rejected, Retry, backoff_s
from schemas import ids, sql
from schemas.records import Alert, Command, Fill, OrderIntent

log = logging.getLogger(__name__)
memory = WorkerMemory(A.S.bootstrap, A.S.namespace)
EXIT_RETRY = fills.ExitRetry(int(A.S.exit_retry_first_s * 1000),
                             int(A.S.exit_retry_max_s * 1000), A.S.exit_failing_after,
                             int(A.S.broker_stop_fill_wait_s * 1000))


_engine: list = []
_opening = threading.Lock()


def engine():
    """The ledger's database (account credentials, read in a thread), opened once, at first
    use, by whichever thread asks first (the others wait for it)."""
    with _opening:
        if not _engine:
            _engine.append(sql.engine(A.S.sql_url))
        return _engine[0]


async def send_fill(fill: Fill) -> None:
    await A.fills_topic.send(key=fill.position_id, value=fill,
                             partition=emit.partition_of(fill.token))


async def account_health(account_id: str, problem: str | None) -> None:
    """Every login outcome of a live account, for the ledger (accounts.health) and the logs."""
    account = memory.account(account_id) or {}
    await emit.event("ACCOUNT_HEALTH", link_id="", partition=emit.account_partition(account_id),
                     key=f"health:{account_id}:{emit.now_ms()}", reason=problem or "logged in",
                     detail={"account_id": account_id, "name": account.get("name"),
                             "problem": problem}, user_id=account.get("user_id"))


async def send_command(command: Command) -> None:
    await A.commands_topic.send(key=command.position_id, value=command,
                                partition=emit.partition_of(command.token))


brokers = Brokers(A.S, engine, send_fill, A.paper_book, memory.account, account_health,
                  send_command)


async def _alert_failed(alert: Alert, exc: Exception) -> None:
    await emit.event("ALERT_IGNORED", link_id=alert.link_id, token=alert.token,
                     alert_id=alert.id, reason=f"internal error: {type(exc).__name__}: {exc}",
                     user_id=alert.user_id)


def _live(link_id: str, token: str) -> Position | None:
    return emit.load(A.slots.get(positions.slot_key(link_id, token)))


# -- risk ----------------------------------------------------------------------------------
_tripped: set[tuple] = set()   # breakers already announced by this worker


def _book(link: dict) -> alert_rules.Book:
    return alert_rules.Book(memory.positions_of, memory.price,
                            memory.account(link.get("account_id")))


async def _announce_trip(link: dict, token: str, tripped: alert_rules.Tripped | None,
                         now_ms: int) -> None:
    """A daily loss breaker found tripped: announced once per day and reset."""
    if tripped is None:
        return
    key = (tripped.scope.name, risk.ist_day(now_ms), link.get("breaker_reset_at_ms"))
    if key not in _tripped:
        _tripped.add(key)
        log.warning("breaker tripped: %s", tripped.reason)
        await emit.event("BREAKER_TRIPPED", link_id=link["link_id"], token=token,
                         reason=tripped.reason, detail=tripped.scope.figures(), key=repr(key),
                         user_id=link.get("user_id"))


# -- alerts --------------------------------------------------------------------------------
@A.app.agent(A.alerts_topic, concurrency=1)
async def on_alert(stream):
    await A.consume(stream, handle_alert, on_error=_alert_failed)


async def handle_alert(alert: Alert) -> None:
    """Decide, then record the decision with its effects in one step: the dedupe entry and the
    position are written together, before anything is sent. A crash before that step leaves
    no trace (the replay decides again); after it, the replay finds the decision in the
    position (last_alert) and sends again what it sent (the same ids: harmless)."""
    seen = A.dedupe.get(alert.dedupe_key)
    if seen and seen["alert_id"] == alert.id:
        return  # a replay of an alert already decided; unanswered intents are resent on ticks
    duplicate = signals.duplicate_of(seen, alert.id, alert.received_at_ms, alert.dedupe_window_s)
    await memory.settings_at_least(alert.link_id, alert.link_version, alert.user_id,
                                   alert.bot_version, alert.global_bot_version)
    link, live = memory.link(alert.link_id), _live(alert.link_id, alert.token)
    common = dict(link_id=alert.link_id, token=alert.token, alert_id=alert.id,
                  user_id=alert.user_id)
    if live is not None and live.last_alert == alert.id:
        _decided(alert, duplicate)
        await _send_again(live, alert, common)
        return
    now = emit.now_ms()
    decided = alert_rules.decide(alert, link, live, _book(link) if link else None,
                                 bot_running=memory.bot_running(alert.user_id),
                                 duplicate=duplicate, now_ms=now,
                                 partition=emit.partition_of(alert.token))
    decision, pos, purpose = decided.decision, decided.pos, decided.purpose
    await _announce_trip(link, alert.token, decided.tripped, now)
    common["reason"] = decision.reason
    if decision.outcome == signals.IGNORE:
        _decided(alert, duplicate)
        await emit.event("ALERT_IGNORED", pos=live, **common)
        return
    _decided(alert, duplicate)
    await emit.store(memory, pos, live)     # its table write comes first, in the same step
    faults.crash_point("alert_decided")
    if decision.outcome == signals.OPEN:
        await emit.subscription(memory, pos)   # a paper entry may wait for the first tick
    await emit.order(pos, purpose, alert_id=alert.id)
    if purpose == "ENTRY":
        metrics.entry_sent(pos.id, alert.received_at_ms)
    await emit.event("ALERT_ACCEPTED", pos=pos, **common)


def _decided(alert: Alert, duplicate: str | None) -> None:
    """The alert's dedupe entry: written with its decision, never before (a duplicate keeps
    the entry of the alert it repeats)."""
    if duplicate is None:
        A.dedupe[alert.dedupe_key] = {"alert_id": alert.id, "at_ms": alert.received_at_ms}


async def _send_again(pos: Position, alert: Alert, common: dict) -> None:
    """What an alert decided before a crash sent, or was about to: its order (the executor
    knows it by its id) and its event (the same id: the ledger keeps one)."""
    purpose = "EXIT" if pos.state == positions.EXITING else \
        "ENTRY" if positions.entry_outstanding(pos) else None
    await emit.subscription(memory, pos)
    if purpose is not None:
        await emit.order(pos, purpose, alert_id=alert.id)
    await emit.event("ALERT_ACCEPTED", pos=pos, **common,
                     reason="decided before a restart; its order sent again")


# -- orders --------------------------------------------------------------------------------
# Live orders run in one lane per broker account, several at once (lanes.py); a paper order is
# decided at once, in stream order. The stream moves on while a live order is at the broker,
# but its offset is committed only once its outcome is recorded (Faust commits up to the first
# offset not acked).
order_lanes = OrderLanes(limit=1000, in_flight=A.S.orders_in_flight)


@A.app.agent(A.orders_topic, concurrency=1)
async def on_order(stream):
    async for event in stream.events():
        intent = event.value
        if intent.filled_at_once:
            continue          # its fill went out with it (emit.order)
        if intent.paper:
            await A.handle(event, execute)
            continue
        event.message.incref()          # the stream's own ack no longer completes it

        async def execute_then_ack(event=event, intent=intent) -> None:
            ratelimit.URGENT.set(intent.closing)      # this task's calls only
            await A.handle(event, execute)
            event.ack()
        await order_lanes.submit(intent.account_id, intent, execute_then_ack)


async def _placing(client_order_id: str) -> None:
    """Mark the intent as going to the broker, and wait until the changelog holds the mark."""
    marker = {"placing": emit.now_ms()}
    A.executions[client_order_id] = marker
    await A.executions.send_changelog(current_event().message.partition, client_order_id,
                                      marker)


async def _after_the_rule(intent: OrderIntent) -> OrderIntent:
    """An exit taking over from a fired broker rule's order: that order cancelled first, and
    the exit for what it did not fill (0: it filled, and its fill closes the position)."""
    if not intent.cancel_rule_order or intent.paper:
        return intent
    for attempt in range(8):
        try:
            quantity = await rule_watch.take_over(await brokers.account(intent.account_id),
                                                  await brokers.updates_of(intent.account_id),
                                                  intent)
            return OrderIntent(**{**intent.asdict(), "quantity": quantity,
                                  "cancel_rule_order": None})
        except Retry:
            await asyncio.sleep(backoff_s(attempt))
    raise Rejected(f"the fired broker stop rule {intent.cancel_rule_order}'s order could not "
                   "be cancelled; pinewire places no exit of its own (two could sell)")


def _rule_resolved(intent: OrderIntent) -> OrderIntent:
    """An exit names the rule to cancel by its PROTECT order while its position has not heard
    the rule's id: that order was executed here first (one account's orders go one at a time,
    in order), and its answer holds the id."""
    ref = intent.cancel_rule_id
    if not ref or not ids.is_client_order_id(ref):
        return intent
    done = A.executions.get(ref)
    rule = next((f["broker_order_id"] for f in done if f["status"] == "PROTECTED"), None) \
        if isinstance(done, list) else None
    return OrderIntent(**{**intent.asdict(), "cancel_rule_id": rule})


async def execute(intent: OrderIntent) -> None:
    """Idempotent by client order id: a redelivered intent gets the same fills again."""
    done = A.executions.get(intent.client_order_id)
    if isinstance(done, list):
        answers = [Fill(**f) for f in done]
    else:
        # A marker, in the changelog before the live broker is called: a redelivery that finds
        # it (a takeover, a restart) looks for the order at the broker by its tag, whatever its
        # age, and places it only if the broker has none; without it, the broker never saw
        # the order. The paper broker decides at once: nothing can come between.
        if not intent.paper:
            await _placing(intent.client_order_id)
        now = emit.now_ms()
        intent = _rule_resolved(intent)
        try:
            broker = await brokers.for_intent(intent)
            price = memory.fresh_price(intent.token, A.S.paper_price_max_age_ms, now)
            intent = await _after_the_rule(intent)
            answers = [] if intent.quantity == 0 and intent.purpose != "CANCEL" else \
                await broker.execute(intent, price, now, maybe_placed=done is not None)
        except AccountError as exc:
            answers = [rejection(intent, str(exc), now)]
        except Rejected as exc:
            answers = [rejection(intent, str(exc), now)]
        faults.crash_point("order_placed")
        # fills that come later (the live order stream, the paper book) are not kept here;
        # [] marks the order as placed
        A.executions[intent.client_order_id] = [f.asdict() for f in answers]
    for fill in answers:
        metrics.ORDER_TO_FILL.labels(intent.purpose).observe(
            max(0, fill.at_ms - intent.created_at_ms) / 1000)
        await send_fill(fill)


# -- fills ---------------------------------------------------------------------------------
@A.app.agent(A.fills_topic, concurrency=1)
async def on_fill(stream):
    await A.consume(stream, apply_fill)


async def apply_fill(fill: Fill) -> None:
    before = emit.load(fill.position_id)
    if before is None:
        log.error("fill %s for unknown position %s", fill.fill_id, fill.position_id)
        return
    pos = fills.apply_fill(before, fill_id=fill.fill_id, client_order_id=fill.client_order_id,
                           status=fill.status, quantity=fill.quantity,
                           price_paise=fill.price_paise, text=fill.text, now_ms=fill.at_ms,
                           tick_offset=memory.last_seq.get(fill.token),
                           broker_order_id=fill.broker_order_id,
                           order_filled=fill.order_filled,
                           order_value_paise=fill.order_value_paise,
                           exit_retry=EXIT_RETRY)
    if pos is None:   # already applied; a crash may have come before the reverse was sent
        if before.state == positions.CLOSED:
            # ... or before its event was: announced again (the same event id, so the ledger
            # keeps one), since nothing else ever will
            await emit.event("POSITION", link_id=before.link_id, token=before.token, pos=before,
                             reason=_fill_reason(fill))
            await reverse_after_close(before, fill.price_paise)
        return
    await emit.store(memory, pos, before)
    metrics.filled(fill)
    await emit.event("POSITION", link_id=pos.link_id, token=pos.token, pos=pos,
                     reason=_fill_reason(fill))
    if fill.status == "REJECTED":
        log.warning("order %s rejected: %s", fill.client_order_id, fill.text)
    if pos.exit_failing and not before.exit_failing:
        await emit.event("EXIT_FAILING", link_id=pos.link_id, token=pos.token, pos=pos,
                         reason=pos.note)
    if (before.state in positions.LIVE_STATES) != (pos.state in positions.LIVE_STATES):
        await emit.subscription(memory, pos)
    if positions.close_due(pos):
        await close_now(pos, "closed at once: its entry filled before the trader's "
                             "cancellation reached it")
        return
    if fills.exit_resent(before, pos):
        await emit.order(pos, "EXIT")
    if fills.closed_now(before, pos):
        await reverse_after_close(pos, fill.price_paise)
    await protect_if_due(pos)


async def close_now(pos: Position, reason: str) -> Position:
    """A trader's close of an OPEN position: everything held, at market (paper: at the last
    price); what rests of a paper entry is cancelled first, as on a triggered exit."""
    now = emit.now_ms()
    closing = positions.begin_exit(pos, positions.MANUAL, now, price_paise=memory.price(pos.token))
    await emit.store(memory, closing, pos)
    if closing.paper and closing.entry_open:
        for fill in brokers.paper.cancel(pos.token, closing.entry_order_id, now):
            await send_fill(fill)
    await emit.order(closing, "EXIT")
    await emit.event("MANUAL", link_id=pos.link_id, token=pos.token, pos=closing, reason=reason)
    return closing


async def protect_if_due(pos: Position) -> None:
    """Place or move the position's broker-side stop rule when it is due (a trader's own
    change moves it at once: broker_stops.protection_due)."""
    now = emit.now_ms()
    if broker_stops.protection_due(pos, now, int(A.S.broker_stop_every_s * 1000)):
        sent = broker_stops.protection_sent(pos, now)
        await emit.store(memory, sent, pos)
        await emit.order(sent, "PROTECT")


def _fill_reason(fill: Fill) -> str:
    if fill.client_order_id[16:17] == "P":         # the answer about a broker stop rule
        return f"{BROKER_STOP_RULE} {fill.status}" + (f": {fill.text}" if fill.text else "")
    return f"{fill.status} {fill.quantity} @ {fill.price_paise}" + (
        f": {fill.text}" if fill.text else "")


async def reverse_after_close(closed: Position, exit_price: int) -> None:
    """Stop-and-reverse: the opposite entry, only once the exit filled completely, only while
    the bot runs, the link allows that side and no risk limit stops it. Idempotent: the
    reverse's id derives from the closed position's."""
    if A.positions.get(positions.reverse_id(closed.id)) is not None:
        return
    link, now = memory.link(closed.link_id), emit.now_ms()
    planned = alert_rules.reverse(closed, link, _book(link) if link else None,
                                  bot_running=memory.bot_running(closed.user_id),
                                  exit_price=exit_price, partition=emit.partition_of(closed.token),
                                  now_ms=now)
    await _announce_trip(link, closed.token, planned.tripped, now)
    if planned.why_not:
        await emit.event("REVERSE_SKIPPED", link_id=closed.link_id, token=closed.token,
                         pos=closed, reason=planned.why_not)
        return
    pos = planned.pos
    if pos is None:
        return
    await emit.store(memory, pos, None)
    await emit.subscription(memory, pos)
    await emit.order(pos, "ENTRY", alert_id=pos.opened_by_alert)
    await emit.event("POSITION", link_id=pos.link_id, token=pos.token, pos=pos,
                     reason=f"reverses the {closed.side} {closed.symbol} position "
                            f"({closed.exit_reason})")
