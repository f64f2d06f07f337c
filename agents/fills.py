"""What a fill, a rejection or a broker's answer does to a position: pure transitions, like
positions.py, applied once each (fill ids are kept, so a replay changes nothing)."""
from __future__ import annotations

import sys
from dataclasses import dataclass

from agents import costs, exits
from agents.positions import (CLOSED, EXITING, OPEN, PENDING, REJECTED, Position, bump,
                              replace, with_exit_order, with_levels)
from connectors.broker import RULE_FIRED, RULE_STILL_ACTIVE


@dataclass(frozen=True)
class ExitRetry:
    """When a rejected exit is sent again: first_ms after the first rejection, doubling up to
    max_ms; flagged failing after `failing_after` rejections (0: never). And when pinewire's
    own exit takes over from a fired broker rule whose order has not filled. The settings give
    the figures (exit_retry_*, broker_stop_fill_wait_s); without them, at once."""
    first_ms: int = 0
    max_ms: int = 0
    failing_after: int = 0
    rule_fill_wait_ms: int = 0     # how long a fired broker rule's order may take to fill

    def delay_ms(self, failures: int) -> int:
        return min(self.max_ms, self.first_ms * 2 ** min(failures - 1, 30))

    def failing(self, failures: int) -> bool:
        return bool(self.failing_after) and failures >= self.failing_after


def apply_fill(pos: Position, *, fill_id: str, client_order_id: str, status: str,
               quantity: int, price_paise: int, text: str | None, now_ms: int,
               tick_offset: int | None = None, broker_order_id: str | None = None,
               order_filled: int | None = None, order_value_paise: int | None = None,
               exit_retry: ExitRetry = ExitRetry()) -> Position | None:
    """The position after a fill or rejection, or None when this fill was already applied.
    tick_offset: the sequence number of the instrument's latest tick now; ticks up to it predate
    the entry. order_filled / order_value_paise: the order's cumulative filled quantity and value
    as the broker reports them, when the fill carries them; only what exceeds what the position
    already counted for that order is applied (a restart that forgot the increments it had sent
    then reports the whole order again), and never more than the order or the position holds."""
    if fill_id in pos.fill_ids:
        return None
    if pos.tick_offset is None and tick_offset is not None:
        pos = replace(pos, tick_offset=tick_offset)
    purpose = client_order_id[len(pos.id)] if client_order_id.startswith(pos.id) else "?"
    if status == "FILLED" and purpose in "EXB":
        quantity, value, counted = _new_part(pos, client_order_id, quantity, price_paise,
                                             order_filled, order_value_paise)
        if not quantity:
            return None
        room = _room(pos, purpose, client_order_id)
        if quantity > room:
            note = (f"the broker reports {quantity} more filled on order {client_order_id} "
                    f"where {room} could fill: {room} counted; check the account at the broker")
            value, quantity = value * room // quantity, room
            pos = replace(pos, note=note)
            if not quantity:
                return bump(replace(pos, fill_ids=pos.fill_ids + (fill_id,)))
        price_paise = (2 * value + quantity) // (2 * quantity)    # the average, to the paisa
        before = pos.order_fills.get(client_order_id, (0, 0))[1]
        pos = replace(pos, order_fills={**pos.order_fills, client_order_id: counted},
                      fees_paise=pos.fees_paise + _charged(pos, purpose, before, counted[1]))
    pos = replace(pos, fill_ids=pos.fill_ids + (fill_id,))
    if status == "FILLED" and quantity and client_order_id not in pos.charged_orders:
        pos = replace(pos, charged_orders=pos.charged_orders + (client_order_id,),
                      fees_paise=pos.fees_paise + pos.fee_paise)
    if purpose == "E":
        return bump(_entry_fill(pos, status, quantity, price_paise, text, now_ms))
    if purpose == "X":
        return bump(_exit_fill(pos, status, quantity, price_paise, text, now_ms, exit_retry))
    if purpose == "P":
        return bump(_rule_answer(pos, status, broker_order_id, text))
    if purpose == "B":
        return bump(_broker_stop_fill(pos, status, quantity, price_paise, text, now_ms))
    return bump(pos, note=f"fill {fill_id} for unknown order {client_order_id} ignored")


def _charged(pos: Position, purpose: str, value_before: int, value_after: int) -> int:
    """What the charges table (the link's plan) adds for a fill of an order whose filled
    value went from value_before to value_after."""
    if pos.costs == "none":
        return 0
    buying = (purpose == "E") == (pos.side == exits.LONG)
    return costs.added(pos.costs, costs.segment(pos.product_type, pos.exchange, pos.symbol),
                       "BUY" if buying else "SELL", value_before, value_after)


def _new_part(pos: Position, client_order_id: str, quantity: int, price_paise: int,
              order_filled: int | None, order_value_paise: int | None
              ) -> tuple[int, int, list[int]]:
    """(quantity, value) that this fill adds to its order, and the order's counts after it."""
    seen_qty, seen_value = pos.order_fills.get(client_order_id, (0, 0))
    if order_filled is None:             # an increment only: counted as it comes
        return quantity, quantity * price_paise, [seen_qty + quantity,
                                                   seen_value + quantity * price_paise]
    if order_filled <= seen_qty:
        return 0, 0, [seen_qty, seen_value]
    if order_value_paise is None:
        order_value_paise = seen_value + (order_filled - seen_qty) * price_paise
    return order_filled - seen_qty, order_value_paise - seen_value, [order_filled,
                                                                     order_value_paise]


def _room(pos: Position, purpose: str, client_order_id: str) -> int:
    """How much more the order can fill: an entry order its own quantity (an earlier entry
    order, done before the next was sent, nothing), an exit what the position holds."""
    if purpose == "E":
        if client_order_id != pos.entry_order_id:
            return 0
        return max(0, pos.open_entry_qty - pos.entry_order_filled)
    if purpose == "B" and pos.state == CLOSED:
        return sys.maxsize     # counted nowhere: _broker_stop_fill tells the trader
    return max(0, pos.entry_qty - pos.exit_qty)


def _entry_fill(pos: Position, status, quantity, price_paise, text, now_ms) -> Position:
    if status == "REJECTED":
        unfilled = pos.open_entry_qty - pos.entry_order_filled if pos.entry_open else 0
        if pos.entry_qty == 0:
            return replace(pos, state=REJECTED, note=text or "rejected", closed_at_ms=now_ms,
                           intent_at_ms=None, entry_open=False)
        intent_at = pos.intent_at_ms if pos.state == EXITING else None
        return replace(pos, note=f"rest of entry not filled: {text}", intent_at_ms=intent_at,
                       entry_open=False, quantity=pos.quantity - unfilled)
    filled = pos.entry_order_filled + quantity
    still_open = filled < pos.open_entry_qty
    pos = replace(pos, entry_qty=pos.entry_qty + quantity, entry_order_filled=filled,
                  entry_value_paise=pos.entry_value_paise + quantity * price_paise,
                  entry_open=still_open and pos.entry_open)
    if pos.state == EXITING:   # a late entry fill: the exit already sent covers what it saw
        return pos
    state = OPEN if pos.state == PENDING else pos.state
    pos = replace(pos, state=state, intent_at_ms=pos.intent_at_ms if pos.entry_open else None,
                  last_accepted_paise=pos.last_accepted_paise or price_paise)
    return with_levels(pos, exits.best_price(pos.side, pos.best_paise, price_paise))


def _exit_fill(pos: Position, status, quantity, price_paise, text, now_ms,
               retry: ExitRetry) -> Position:
    if status == RULE_FIRED:
        # Nothing placed: the rule's order exits. pinewire's own goes (a new order, which
        # cancels the rule's first) if that has not filled by then, or at once if it ends
        # unfilled (_broker_stop_fill).
        wait = retry.rule_fill_wait_ms
        return replace(pos, exit_attempt=pos.exit_attempt + 1, intent_at_ms=None,
                       rule_fired_at_ms=now_ms, retry_at_ms=now_ms + wait,
                       note=f"the broker's stop rule fired first: its order exits; pinewire's "
                            f"own exit goes in {wait / 1000:g} s if it has not filled")
    if status == "REJECTED":
        # The exit stands: sent again (a new client order id, for what is still held) after a
        # growing delay, never on every tick. A reverse waiting for this exit is dropped:
        # never a naked reverse. A broker-side rule was cancelled before the exit went (unless
        # that is what failed): placed again while the retry waits (broker_stops), and
        # cancelled again by the retry.
        kept = RULE_STILL_ACTIVE in (text or "")
        failures = pos.exit_failures + 1
        delay = retry.delay_ms(failures)
        failing = pos.exit_failing or retry.failing(failures)
        return replace(with_exit_order(pos, now_ms), exit_attempt=pos.exit_attempt + 1,
                       exit_failures=failures, retry_at_ms=now_ms + delay,
                       exit_failing=failing, intent_at_ms=None, then_open=None,
                       note=f"exit {'failing' if failing else 'rejected'} ({failures} "
                            f"{'try' if failures == 1 else 'tries'}): "
                            f"{text or 'no reason given'}; sent again in {delay / 1000:g} s",
                       **({} if kept else _NO_RULE))
    pos = replace(pos, exit_qty=pos.exit_qty + quantity,
                  exit_value_paise=pos.exit_value_paise + quantity * price_paise)
    if pos.exit_qty < pos.entry_qty:
        if pos.exit_qty - pos.exit_base_qty >= pos.exit_order_qty:
            # the exit order is done but an entry fill came after it was sent: exit the rest
            return with_exit_order(replace(pos, exit_attempt=pos.exit_attempt + 1), now_ms)
        return pos
    sign = 1 if pos.side == exits.LONG else -1
    return replace(pos, state=CLOSED, closed_at_ms=now_ms, intent_at_ms=None,
                   realized_pnl_paise=sign * (pos.exit_value_paise - pos.entry_value_paise))


# -- the broker-side stop rule (when to place or move it: broker_stops.py) ----------------
_NO_RULE = dict(rule_id=None, rule_stop_paise=None, rule_target_paise=None, rule_qty=0,
                rule_sent_ms=None)


def _rule_answer(pos: Position, status, rule_id, text) -> Position:
    if status == "PROTECTED":
        return replace(pos, rule_id=rule_id or pos.rule_id)
    if pos.rule_id is None:       # never placed: pinewire's own exits only
        return replace(pos, broker_stop=False, **_NO_RULE,
                       note=f"broker stop refused: {text}; pinewire's own exits only")
    # not moved: asked again when the levels next move
    return replace(pos, rule_stop_paise=None, note=f"broker stop not moved: {text}")


def _broker_stop_fill(pos: Position, status, quantity, price_paise, text, now_ms) -> Position:
    """The order the broker's rule placed when it triggered."""
    if pos.state == CLOSED:
        if status == "REJECTED":  # the rule's order ended unfilled after pinewire's exit
            return pos
        return replace(pos, note=f"a broker stop order filled {quantity} @ {price_paise} after "
                                 "the position closed: check the account at the broker")
    if status == "REJECTED":
        # the fired rule is over: the next exit is pinewire's own, which cancels whatever
        # rule is at the broker by then (one placed again meanwhile), not the fired one's order
        handed_back = pos.state == EXITING and pos.rule_fired_at_ms is not None
        return replace(pos, **_NO_RULE, rule_fired_at_ms=None,
                       note=f"broker stop order ended unfilled: {text}" + (
                           "; pinewire's own exit goes now" if handed_back else ""),
                       **({"retry_at_ms": now_ms} if handed_back else {}))
    pos = replace(pos, exit_qty=pos.exit_qty + quantity, exit_reason="BROKER_STOP",
                  exit_value_paise=pos.exit_value_paise + quantity * price_paise,
                  exit_trigger_paise=price_paise, state=EXITING)
    if pos.exit_qty < pos.entry_qty:
        return pos
    sign = 1 if pos.side == exits.LONG else -1
    return replace(pos, state=CLOSED, closed_at_ms=now_ms, intent_at_ms=None, **_NO_RULE,
                   realized_pnl_paise=sign * (pos.exit_value_paise - pos.entry_value_paise))


def exit_resent(before: Position, after: Position) -> bool:
    """The fill left the position EXITING with a new exit order to send now (the rest; a
    rejected exit's retry waits for its time)."""
    return after.state == EXITING and after.exit_attempt > before.exit_attempt and \
        after.retry_at_ms is None


def closed_now(before: Position, after: Position) -> bool:
    return before.state != CLOSED and after.state == CLOSED
