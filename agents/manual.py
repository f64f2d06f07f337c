"""What a trader's command does to one position: close it now, cancel its entry while nothing
has filled, or set its stop, target and trailing by hand.

Pure: the worker that owns the position passes it, the instrument's last price and the time,
and sends what the answer says (the exit, the cancellation, the broker rule that follows).
Closing is never blocked by the bot's switch or the link's; a command that finds the position
already exiting or closed answers so and changes nothing, so a repeated command is harmless.
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from fractions import Fraction

from agents import exits, positions
from agents.positions import CLOSED, EXITING, OPEN, PENDING, REJECTED, Position
from schemas.money import paise_to_rupees

MANUAL = positions.MANUAL
OFF = "off"                # a level given as "off" is removed

CLOSING, CANCELLING, ADJUSTED, UNCHANGED, REFUSED = \
    "CLOSING", "CANCELLING", "ADJUSTED", "UNCHANGED", "REFUSED"


@dataclass(frozen=True)
class Answer:
    outcome: str                      # one of the five above
    reason: str                       # in words, for the trader
    position: Position | None = None  # the position after, when the command changed it


@dataclass(frozen=True)
class Levels:
    """What an adjustment asks: a price in paise, OFF, or None (left as it is); trail: a
    percentage as written ("1.5"), OFF or None."""
    stop: int | str | None = None
    target: int | str | None = None
    trail: str | None = None
    trail_from_now: bool = False

    def asdict(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if v not in (None, False)}

    @staticmethod
    def from_dict(d: dict) -> "Levels":
        return Levels(d.get("stop"), d.get("target"), d.get("trail"),
                      bool(d.get("trail_from_now")))


def rupees(paise) -> str:
    return f"₹{paise_to_rupees(round(paise))}"


def parse_price(text, field: str) -> int | str | None:
    """A price in rupees as a person writes it ("2450", "2450.5"), or "off": paise or OFF.
    The one reading of a level given by hand (API, CLI, dashboard and Telegram)."""
    if text is None or str(text).strip() == "":
        return None
    if str(text).strip().lower() == OFF:
        return OFF
    try:
        value = Decimal(str(text).strip().replace(",", "").lstrip("₹"))
    except InvalidOperation:
        raise ValueError(f"{field} must be a price in rupees such as 2450.50, or off") from None
    if not value.is_finite() or value <= 0 or value != value.quantize(Decimal("0.01")):
        raise ValueError(f"{field} must be a price above ₹0 with at most two decimals, or off")
    return int(value * 100)


def parse_trail(text) -> str | None:
    """A trailing percentage (0 < t < 100) as written, or "off"."""
    if text is None or str(text).strip() == "":
        return None
    if str(text).strip().lower() == OFF:
        return OFF
    try:
        value = Decimal(str(text).strip().rstrip("%").strip())
    except InvalidOperation:
        raise ValueError("trail must be a percentage such as 1.5, or off") from None
    if not value.is_finite() or not 0 < value < 100:
        raise ValueError("trail must be a percentage above 0 and below 100, or off")
    return format(value.normalize(), "f")


def close(pos: Position | None, by: str) -> Answer:
    """CLOSING: everything held goes at market (pipeline.close_now); CANCELLING: nothing has
    filled, the entry is cancelled instead (and what fills before that is closed at once)."""
    refused = _not_live(pos)
    if refused:
        return refused
    if pos.state == PENDING and not pos.entry_qty:
        if pos.close_asked_ms is not None:
            return Answer(UNCHANGED, f"{_name(pos)}: its entry is being cancelled already")
        return Answer(CANCELLING, f"{_name(pos)}: its entry is cancelled ({by}); nothing had "
                                  "filled")
    return Answer(CLOSING, f"{_name(pos)}: closing {pos.entry_qty - pos.exit_qty} at market "
                           f"({by})")


def adjust(pos: Position | None, levels: Levels, last_paise: int | None, now_ms: int,
           by: str) -> Answer:
    refused = _not_live(pos)
    if refused:
        return refused
    if pos.state != OPEN:
        return Answer(REFUSED, f"{_name(pos)} has no filled entry yet: its levels follow "
                               "from the entry price once it fills")
    last = last_paise or pos.last_accepted_paise or pos.best_paise
    long_ = pos.side == exits.LONG
    problem = _check(levels, pos, last, long_)
    if problem:
        return Answer(REFUSED, f"{_name(pos)}: {problem}")
    changes = {}
    if levels.stop is not None:
        changes.update(stop_at_paise=None if levels.stop == OFF else levels.stop,
                       **({"sl_pct": None} if levels.stop == OFF else {}))
    if levels.target is not None:
        changes.update(target_at_paise=None if levels.target == OFF else levels.target,
                       **({"target_pct": None} if levels.target == OFF else {}))
    if levels.trail == OFF:
        changes.update(trail_pct=None, trail_activation_pct=None, trail_from_paise=None)
    elif levels.trail is not None:
        changes.update(trail_pct=levels.trail)
    if levels.trail_from_now:
        changes.update(trail_from_paise=last, best_paise=last)
    after = positions.relevel(pos, **changes)
    stop = Fraction(after.stop) if after.stop else None
    if stop is not None and (stop >= last if long_ else stop <= last):
        return Answer(REFUSED, f"{_name(pos)}: the stop would be {rupees(stop)} (trailing "
                               f"{after.trail_pct} % from the best price), at or "
                               f"{'above' if long_ else 'below'} the last price {rupees(last)}: "
                               "it would close at once (close the position instead)")
    if (after.stop, after.target, after.trail_pct) == (pos.stop, pos.target, pos.trail_pct) \
            and not levels.trail_from_now:
        return Answer(UNCHANGED, f"{_name(pos)}: {describe(after)} (unchanged)")
    return Answer(ADJUSTED, f"{_name(pos)}: {describe(after)} ({by})",
                  positions.replace(after, rule_due_now=after.broker_stop))


def _check(levels: Levels, pos: Position, last: int, long_: bool) -> str | None:
    """Why the levels cannot be set now, in words, or None."""
    if isinstance(levels.stop, int) and (levels.stop >= last if long_ else levels.stop <= last):
        return (f"a stop at {rupees(levels.stop)} is at or {'above' if long_ else 'below'} "
                f"the last price {rupees(last)}: it would {'sell' if long_ else 'buy'} at once "
                "(close the position instead)")
    if isinstance(levels.target, int) and \
            (levels.target <= last if long_ else levels.target >= last):
        return (f"a target at {rupees(levels.target)} is at or "
                f"{'below' if long_ else 'above'} the last price {rupees(last)}: it would "
                "close at once (close the position instead)")
    trailing = levels.trail if levels.trail is not None else pos.trail_pct
    if levels.trail_from_now and trailing in (None, OFF):
        return "trailing from now needs a trailing percentage (trail)"
    return None


def describe(pos: Position) -> str:
    """The levels in force, as the trader reads them."""
    parts = [f"stop {rupees(Fraction(pos.stop))}" if pos.stop else "no stop",
             f"target {rupees(Fraction(pos.target))}" if pos.target else "no target"]
    if pos.trail_pct:
        parts.append(f"trailing {pos.trail_pct} %" + (" (active)" if pos.trail_active else ""))
    return ", ".join(parts)


def _not_live(pos: Position | None) -> Answer | None:
    if pos is None:
        return Answer(REFUSED, "no such position on its worker")
    if pos.state in (CLOSED, REJECTED):
        return Answer(UNCHANGED, f"{_name(pos)} is already closed")
    if pos.state == EXITING:
        return Answer(UNCHANGED, f"{_name(pos)} is already exiting ({pos.exit_reason})")
    return None


def _name(pos: Position) -> str:
    return f"{pos.side} {pos.symbol}"
