"""A position's broker-side stop rule (a live link's --broker-stop gtt), decided purely: its
triggers, and when a PROTECT order should place or move it. What the rule's answers and its
own order do to the position is in fills.apply_fill."""
from __future__ import annotations

import math
from fractions import Fraction

from agents import exits
from agents.positions import EXITING, OPEN, Position, bump
from connectors.placement import TICK_PAISE      # NSE's tick: a rule's triggers sit on it


def _on_tick(value: Fraction, down: bool) -> int:
    ticks = value / TICK_PAISE
    return (math.floor(ticks) if down else math.ceil(ticks)) * TICK_PAISE


def rule_levels(pos: Position) -> tuple[int | None, int | None]:
    """The rule's stop and target triggers: pinewire's levels now, each rounded to the tick
    away from the price, so the broker acts only where pinewire has not."""
    lv = exits.levels(pos.side, pos.entry_price, pos.best_paise, pos.rules)
    long = pos.side == exits.LONG
    return (None if lv.stop is None else _on_tick(lv.stop, down=long),
            None if lv.target is None else _on_tick(lv.target, down=not long))


def protection_due(pos: Position, now_ms: int, every_ms: int) -> bool:
    """A PROTECT order is due: the position is protected, OPEN (or waiting to retry a rejected
    exit, which cancels the rule first again — not when the retry is due now, nor while a
    fired rule's order is working) with all its entry filled, and its rule is missing or no
    longer at its levels and quantity — moved at most every `every_ms` (at once when the
    trader moved the levels, also after a first placement answered meanwhile), never while the
    first placement's answer is awaited."""
    waiting = pos.state == EXITING and pos.retry_at_ms is not None and \
        pos.retry_at_ms > now_ms and pos.rule_fired_at_ms is None
    if not pos.broker_stop or not (pos.state == OPEN or waiting) or pos.entry_open or \
            pos.entry_qty <= pos.exit_qty or pos.best_paise is None:
        return False
    if pos.rule_id is None and pos.rule_sent_ms is not None:
        return False
    stop, target = rule_levels(pos)
    wanted = (stop, target, pos.entry_qty - pos.exit_qty)
    if (stop is None and target is None) or \
            (pos.rule_stop_paise, pos.rule_target_paise, pos.rule_qty) == wanted:
        return False
    return pos.rule_due_now or pos.rule_sent_ms is None or now_ms - pos.rule_sent_ms >= every_ms


def protection_sent(pos: Position, now_ms: int) -> Position:
    stop, target = rule_levels(pos)
    return bump(pos, rule_stop_paise=stop, rule_target_paise=target,
                rule_qty=pos.entry_qty - pos.exit_qty, rule_attempt=pos.rule_attempt + 1,
                rule_sent_ms=now_ms, rule_due_now=False)
