"""What an alert means for a link's position on its instrument: open, add an entry (pyramiding),
close, close and reverse, or ignore (why). The link's trade side, reverse and max entries apply.
Closing is never blocked: with the bot stopped or the link disabled an alert that closes still
closes (stopping means "open nothing new"); only what would open or add is ignored.

Pure: the caller passes the link's settings, the bot state, the live position on the alert's
(link, instrument) slot and what the dedupe table remembers.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from agents.exits import LONG, SHORT
from agents.positions import EXITING, PENDING, Position
from schemas import market_time

OPEN, ADD, CLOSE, REVERSE, IGNORE = "OPEN", "ADD", "CLOSE", "REVERSE", "IGNORE"


@dataclass(frozen=True)
class AlertDecision:
    outcome: str                 # OPEN | ADD | CLOSE | REVERSE | IGNORE
    reason: str
    side: str | None = None      # the side an OPEN, ADD or REVERSE enters: LONG | SHORT


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
           live: Position | None, side: str = "long", reverse: bool = False,
           max_entries: int = 1, no_option_shorts: bool = False) -> AlertDecision:
    """no_option_shorts: the instrument is an option and the link may not open it short."""
    if link_strategy is None:
        return AlertDecision(IGNORE, "unknown link")
    if strategy is not None and strategy.casefold() != link_strategy.casefold():
        return AlertDecision(IGNORE, f"strategy {strategy!r} does not match the link's "
                                     f"strategy {link_strategy!r}")
    if duplicate is not None:
        return AlertDecision(IGNORE, f"duplicate of alert {duplicate}")
    decision = _position_rule(action, live, side, reverse, max_entries, no_option_shorts)
    stopped = ("link is disabled" if not link_enabled else None) or \
        ("bot is stopped" if not bot_running else None)
    if stopped is None:
        return decision
    if decision.outcome in (CLOSE, REVERSE):
        return AlertDecision(CLOSE, f"{action} closes {live.side} position {live.id} ({stopped}: "
                                    "closing is never blocked, nothing new opens)")
    return AlertDecision(IGNORE, stopped)


def outside_entry_window(window: str | None, at_ms: int) -> str | None:
    """Why an alert at `at_ms` may not enter under the link's entry window, if it may not."""
    if window is None or market_time.in_window(window, at_ms):
        return None
    at = datetime.fromtimestamp(at_ms / 1000, market_time.IST)
    return f"outside the entry window {window} IST (the alert came at {at:%H:%M})"


def is_option(exchange: str, symbol: str) -> bool:
    """An option contract (NSE's and BSE's derivatives segments name them ...CE / ...PE)."""
    return exchange.upper() in ("NFO", "BFO") and symbol.upper().endswith(("CE", "PE"))


def refuses_option_short(link: dict, exchange: str, symbol: str) -> bool:
    """Whether the link may not open a short on this instrument: an option, and the link's
    option shorts are off (the default)."""
    return is_option(exchange, symbol) and not link.get("option_shorts")


def allows(side_setting: str, side: str) -> bool:
    """Whether a link trading `side_setting` (both | long | short) may hold a `side` position."""
    return side_setting == "both" or side_setting == side.lower()


def _position_rule(action: str, live: Position | None, side_setting: str, reverse: bool,
                   max_entries: int, no_option_shorts: bool) -> AlertDecision:
    wanted = {"BUY": LONG, "SELL": SHORT}.get(action)
    if live is None:
        if wanted is None:
            return AlertDecision(IGNORE, "no open position to exit")
        if no_option_shorts and wanted == SHORT:
            return AlertDecision(IGNORE, f"{action} would open a short option, which the link "
                                         "does not allow (option shorts are off)")
        if not allows(side_setting, wanted):
            return AlertDecision(IGNORE, f"the link trades {side_setting} only: {action} does "
                                         f"not open a {wanted}")
        return AlertDecision(OPEN, f"{action} opens a {wanted}", wanted)
    if live.state == EXITING:
        return AlertDecision(IGNORE, f"{live.side} position {live.id} is already exiting")
    if live.state == PENDING or live.entry_open:
        return AlertDecision(IGNORE, f"{live.side} position {live.id} is waiting for its "
                                     "entry fill")
    if wanted == live.side:
        if not allows(side_setting, wanted):
            return AlertDecision(IGNORE, f"the link trades {side_setting} only: {action} does "
                                         f"not add to a {wanted}")
        if live.entries < max_entries:
            return AlertDecision(ADD, f"{action} adds entry {live.entries + 1} of {max_entries} "
                                      f"to {live.side} position {live.id}", wanted)
        if max_entries == 1:
            return AlertDecision(IGNORE, f"already {live.side} ({live.id})")
        return AlertDecision(IGNORE, f"already {live.side} ({live.id}) with {live.entries} of "
                                     f"{max_entries} entries")
    if wanted is not None and reverse and allows(side_setting, wanted) and \
            not (no_option_shorts and wanted == SHORT):
        return AlertDecision(REVERSE, f"{action} closes {live.side} position {live.id}, then "
                                      f"opens a {wanted}", wanted)
    return AlertDecision(CLOSE, f"{action} closes {live.side} position {live.id}")
