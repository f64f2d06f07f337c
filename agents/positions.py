"""A position's life as pure transitions: PENDING -> OPEN -> EXITING -> CLOSED (or REJECTED).

Every transition takes the time as an argument and returns a new Position; none touches Kafka,
SQL or a clock. Fills are applied once each (fill ids are kept), so replays change nothing.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from fractions import Fraction

from agents import exits
from schemas import ids
from schemas.money import fraction_str

PENDING, OPEN, EXITING, CLOSED, REJECTED = "PENDING", "OPEN", "EXITING", "CLOSED", "REJECTED"
LIVE_STATES = (PENDING, OPEN, EXITING)
SIGNAL = "SIGNAL"  # exit reason when an alert closed the position


@dataclass(frozen=True)
class Position:
    id: str
    link_id: str
    token: str
    symbol: str
    exchange: str
    side: str                       # LONG | SHORT
    state: str
    quantity: int                   # ordered at entry
    paper: bool
    sl_pct: str | None
    target_pct: str | None
    trail_pct: str | None
    trail_activation_pct: str | None
    slippage_bps: int
    opened_by_alert: str | None
    created_at_ms: int
    partition: int = 0
    reference_price_paise: int | None = None
    account_id: str | None = None
    entry_qty: int = 0
    entry_value_paise: int = 0      # sum of fill price x quantity
    exit_qty: int = 0
    exit_value_paise: int = 0
    best_paise: int | None = None
    stop: str | None = None         # effective stop, exact ("n/d" or integer paise)
    target: str | None = None
    trail_active: bool = False
    exit_reason: str | None = None
    exit_trigger_paise: int | None = None
    exit_gap: str | None = None
    entry_attempt: int = 0
    exit_attempt: int = 0
    intent_at_ms: int | None = None  # when the outstanding order intent was last emitted
    # Offset of the last tick applied (ticks of an instrument share one partition). A replayed
    # tick at or below it is stale: the state already reflects it, or predates the position.
    tick_offset: int | None = None
    fill_ids: tuple = field(default_factory=tuple)
    realized_pnl_paise: int | None = None
    closed_at_ms: int | None = None
    note: str | None = None
    version: int = 0

    # -- derived -------------------------------------------------------------------------
    @property
    def entry_price(self) -> Fraction | None:
        return Fraction(self.entry_value_paise, self.entry_qty) if self.entry_qty else None

    @property
    def slot(self) -> str:
        return slot_key(self.link_id, self.token)

    @property
    def rules(self) -> exits.ExitRules:
        return exits.ExitRules.from_pcts(self.sl_pct, self.target_pct, self.trail_pct,
                                         self.trail_activation_pct)

    @property
    def entry_order_id(self) -> str:
        return ids.client_order_id(self.id, "ENTRY", self.entry_attempt)

    @property
    def exit_order_id(self) -> str:
        return ids.client_order_id(self.id, "EXIT", self.exit_attempt)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["fill_ids"] = list(self.fill_ids)
        return d

    @staticmethod
    def from_dict(d: dict) -> "Position":
        return Position(**{**d, "fill_ids": tuple(d.get("fill_ids") or ())})


def slot_key(link_id: str, token: str) -> str:
    """A link holds at most one live position per instrument."""
    return f"{link_id}|{token}"


def _bump(pos: Position, **changes) -> Position:
    return replace(pos, version=pos.version + 1, **changes)


def open_position(*, alert_id: str, link_id: str, token: str, symbol: str, exchange: str,
                  side: str, quantity: int, paper: bool, sl_pct, target_pct, trail_pct,
                  trail_activation_pct, slippage_bps: int, reference_price_paise: int | None,
                  partition: int, now_ms: int, account_id: str | None = None) -> Position:
    return Position(
        id=ids.position_id(alert_id), link_id=link_id, token=token, symbol=symbol,
        exchange=exchange, side=side, state=PENDING, quantity=quantity, paper=paper,
        sl_pct=sl_pct, target_pct=target_pct, trail_pct=trail_pct,
        trail_activation_pct=trail_activation_pct, slippage_bps=slippage_bps,
        opened_by_alert=alert_id, created_at_ms=now_ms, partition=partition,
        reference_price_paise=reference_price_paise, account_id=account_id,
        intent_at_ms=now_ms, version=1)


def entry_side(pos: Position) -> str:
    return "BUY" if pos.side == exits.LONG else "SELL"


def exit_side(pos: Position) -> str:
    return "SELL" if pos.side == exits.LONG else "BUY"


def _with_levels(pos: Position, best: int, lv: exits.Levels | None = None) -> Position:
    lv = lv or exits.levels(pos.side, pos.entry_price, best, pos.rules)
    return replace(pos, best_paise=best, stop=fraction_str(lv.stop),
                   target=fraction_str(lv.target), trail_active=lv.trail_stop is not None)


def apply_fill(pos: Position, *, fill_id: str, client_order_id: str, status: str,
               quantity: int, price_paise: int, text: str | None, now_ms: int,
               tick_offset: int | None = None) -> Position | None:
    """The position after a fill or rejection, or None when this fill was already applied.
    tick_offset: the instrument's latest tick offset now; ticks up to it predate the entry."""
    if fill_id in pos.fill_ids:
        return None
    if pos.tick_offset is None and tick_offset is not None:
        pos = replace(pos, tick_offset=tick_offset)
    purpose = client_order_id[len(pos.id)] if client_order_id.startswith(pos.id) else "?"
    pos = replace(pos, fill_ids=pos.fill_ids + (fill_id,))
    if purpose == "E":
        return _bump(_entry_fill(pos, status, quantity, price_paise, text, now_ms))
    if purpose == "X":
        return _bump(_exit_fill(pos, status, quantity, price_paise, text, now_ms))
    return _bump(pos, note=f"fill {fill_id} for unknown order {client_order_id} ignored")


def _entry_fill(pos: Position, status, quantity, price_paise, text, now_ms) -> Position:
    if status == "REJECTED":
        if pos.entry_qty == 0:
            return replace(pos, state=REJECTED, note=text or "rejected", closed_at_ms=now_ms,
                           intent_at_ms=None)
        return replace(pos, note=f"rest of entry rejected: {text}", intent_at_ms=None)
    pos = replace(pos, entry_qty=pos.entry_qty + quantity,
                  entry_value_paise=pos.entry_value_paise + quantity * price_paise)
    state = OPEN if pos.state == PENDING else pos.state
    pos = replace(pos, state=state,
                  intent_at_ms=None if pos.entry_qty >= pos.quantity else pos.intent_at_ms)
    return _with_levels(pos, exits.best_price(pos.side, pos.best_paise, price_paise))


def _exit_fill(pos: Position, status, quantity, price_paise, text, now_ms) -> Position:
    if status == "REJECTED":
        # Back to OPEN: the next tick decides again, with a fresh client order id.
        return replace(pos, state=OPEN, exit_attempt=pos.exit_attempt + 1, exit_reason=None,
                       exit_trigger_paise=None, exit_gap=None, intent_at_ms=None,
                       note=f"exit rejected: {text or 'no reason given'}")
    pos = replace(pos, exit_qty=pos.exit_qty + quantity,
                  exit_value_paise=pos.exit_value_paise + quantity * price_paise)
    if pos.exit_qty < pos.entry_qty:
        return pos
    sign = 1 if pos.side == exits.LONG else -1
    return replace(pos, state=CLOSED, closed_at_ms=now_ms, intent_at_ms=None,
                   realized_pnl_paise=sign * (pos.exit_value_paise - pos.entry_value_paise))


def on_tick(pos: Position, price_paise: int, now_ms: int,
            offset: int | None = None) -> tuple[Position | None, exits.ExitDecision | None]:
    """Apply a tick to an OPEN position: (the changed position or None, the exit it triggers).
    A tick at or below the position's tick offset is a replay and changes nothing."""
    if pos.state != OPEN or not pos.entry_qty:
        return None, None
    if offset is not None and pos.tick_offset is not None and offset <= pos.tick_offset:
        return None, None
    best, lv, decision = exits.evaluate(pos.side, pos.entry_price, pos.best_paise, pos.rules,
                                        price_paise)
    if decision is not None:
        return _bump(_with_levels(pos, best, lv), state=EXITING, exit_reason=decision.reason,
                     exit_trigger_paise=price_paise, exit_gap=fraction_str(decision.gap),
                     intent_at_ms=now_ms, tick_offset=offset), decision
    if best != pos.best_paise:
        return _bump(_with_levels(pos, best, lv), tick_offset=offset), None
    return None, None


def begin_exit(pos: Position, reason: str, now_ms: int) -> Position:
    """Close on a signal (an opposite or EXIT alert)."""
    return _bump(pos, state=EXITING, exit_reason=reason, intent_at_ms=now_ms)


def restored(pos: Position, now_ms: int) -> Position:
    """A position brought back from the ledger: an outstanding intent is sent again. The tick
    offset is forgotten: the broker that lost the topics numbers its ticks from 0 again."""
    return _bump(pos, intent_at_ms=now_ms if pos.state in (PENDING, EXITING) else None,
                 tick_offset=None)


def stale_intent(pos: Position, now_ms: int, after_ms: int) -> str | None:
    """ENTRY or EXIT when an order intent has gone unanswered for after_ms (it is sent again,
    with the same client order id, so the executor's idempotency makes the resend harmless)."""
    if pos.intent_at_ms is None or now_ms - pos.intent_at_ms < after_ms:
        return None
    return {PENDING: "ENTRY", EXITING: "EXIT"}.get(pos.state)


def resent(pos: Position, now_ms: int) -> Position:
    return _bump(pos, intent_at_ms=now_ms)
