"""What an alert means for a link's position on its instrument: open, close, or ignore (why).

Pure: the caller passes the link's settings, the bot state, the live position on the alert's
(link, instrument) slot and what the dedupe table remembers.
"""
from __future__ import annotations

from dataclasses import dataclass

from agents.exits import LONG, SHORT
from agents.positions import EXITING, PENDING, Position

OPEN, CLOSE, IGNORE = "OPEN", "CLOSE", "IGNORE"


@dataclass(frozen=True)
class AlertDecision:
    outcome: str                 # OPEN | CLOSE | IGNORE
    reason: str
    side: str | None = None      # for OPEN: LONG | SHORT


def duplicate_of(seen: dict | None, alert_id: str, now_ms: int, window_s: int) -> str | None:
    """The earlier alert this one repeats, if the same payload arrived within the window.

    `seen` is the dedupe table's entry for the alert's dedupe key: {"alert_id", "at_ms"}.
    The same alert id is a replay of this very alert, not a duplicate.
    """
    if not seen or seen["alert_id"] == alert_id:
        return None
    return seen["alert_id"] if now_ms - seen["at_ms"] <= window_s * 1000 else None


def decide(*, action: str, strategy: str | None, link_strategy: str | None,
           link_enabled: bool, bot_running: bool, duplicate: str | None,
           live: Position | None) -> AlertDecision:
    if link_strategy is None:
        return AlertDecision(IGNORE, "unknown link")
    if not link_enabled:
        return AlertDecision(IGNORE, "link is disabled")
    if strategy is not None and strategy.casefold() != link_strategy.casefold():
        return AlertDecision(IGNORE, f"strategy {strategy!r} does not match the link's "
                                     f"strategy {link_strategy!r}")
    if duplicate is not None:
        return AlertDecision(IGNORE, f"duplicate of alert {duplicate}")
    if not bot_running:
        return AlertDecision(IGNORE, "bot is stopped")
    return _position_rule(action, live)


def _position_rule(action: str, live: Position | None) -> AlertDecision:
    if live is None:
        if action == "EXIT":
            return AlertDecision(IGNORE, "no open position to exit")
        side = LONG if action == "BUY" else SHORT
        return AlertDecision(OPEN, f"{action} opens a {side}", side)
    if live.state == EXITING:
        return AlertDecision(IGNORE, f"{live.side} position {live.id} is already exiting")
    if live.state == PENDING:
        return AlertDecision(IGNORE, f"{live.side} position {live.id} is waiting for its entry fill")
    same_side = (action == "BUY" and live.side == LONG) or (action == "SELL" and live.side == SHORT)
    if same_side:
        return AlertDecision(IGNORE, f"already {live.side} ({live.id})")
    return AlertDecision(CLOSE, f"{action} closes {live.side} position {live.id}")
