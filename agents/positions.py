"""A position's life as pure transitions: PENDING -> OPEN -> EXITING -> CLOSED (or REJECTED).

Every transition takes the time as an argument and returns a new Position; none touches Kafka,
SQL or a clock. Fills are applied once each (agents/fills.py), so replays change nothing.
A position may hold several entries (pyramiding): the average entry price is exact (total paise
over total quantity), the stop and target follow it, the best price counts from the first entry,
and an exit closes everything that filled.
"""
from __future__ import annotations

import math
import sys
from collections.abc import Mapping
from fractions import Fraction
from functools import lru_cache
from types import MappingProxyType
from typing import NamedTuple

from agents import badticks, exits
from schemas import ids
from schemas.records import OrderIntent
from schemas.money import fraction_str, pct

PENDING, OPEN, EXITING, CLOSED, REJECTED = "PENDING", "OPEN", "EXITING", "CLOSED", "REJECTED"
LIVE_STATES = (PENDING, OPEN, EXITING)
SIGNAL = "SIGNAL"  # exit reason when an alert closed the position
MANUAL = "MANUAL"  # exit reason when the trader closed it (agents/manual.py)
FNO_EXCHANGES = ("NFO", "BFO", "MCX", "CDS", "BCD")


_NO_FILLS = MappingProxyType({})   # a position's order_fills before any (read-only: shared)


class Position(NamedTuple):
    """A position, immutable. A named tuple rather than a dataclass: 75 fields in an instance
    dict took 1.6 KB a position, in a tuple 0.6 KB (a worker holds every open one)."""
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
    # a rejected exit: tried again (a new order) at retry_at_ms; failing once it was rejected
    # fills.ExitRetry.failing_after times (the trader is told, the retries go on at the slow pace)
    exit_failures: int = 0
    retry_at_ms: int | None = None
    exit_failing: bool = False
    # Sequence number of the last tick applied (schemas.records.Ticks; the ticks of an
    # instrument share one partition). A replayed tick at or below it is stale: the state
    # already reflects it, or predates the position.
    tick_offset: int | None = None
    fill_ids: tuple = ()
    # per client order id, [quantity, value in paise] filled so far, as the broker counts it:
    # a fill that reports its order's cumulative figures adds only what is new
    order_fills: Mapping = _NO_FILLS
    realized_pnl_paise: int | None = None
    closed_at_ms: int | None = None
    note: str | None = None
    version: int = 0
    # -- entries (pyramiding) and the order outstanding --------------------------------------
    lot_size: int = 1
    entries: int = 1                # entry orders sent
    entry_open: bool = True         # the last entry order may still fill
    entry_order_qty: int = 0        # quantity of the last entry order (0: the first, `quantity`)
    entry_order_filled: int = 0
    exit_order_qty: int = 0         # quantity of the exit order outstanding
    exit_base_qty: int = 0          # exit_qty when that order was sent
    product_type: str = "INTRADAY"  # INTRADAY (MIS) | DELIVERY (CNC) | CARRYFORWARD (NRML)
    paper_fill: str = "full"
    fee_paise: int = 0              # charged once per order that filled
    fees_paise: int = 0
    charged_orders: tuple = ()
    costs: str = "none"             # the charges table's plan (agents/costs.py) for each fill
    # -- reversal: the position this one reversed, and the entry to send once this one closed
    reverse_of: str | None = None
    then_open: dict | None = None   # {"side", "alert_id", "reference_price_paise"}
    # -- bad-tick guard ----------------------------------------------------------------------
    tick_band_pct: str | None = None
    last_accepted_paise: int | None = None
    held_paise: int | None = None
    user_id: str | None = None      # the link's owner
    last_alert: str | None = None   # the alert whose decision last changed it (opened, added,
                                    # closed): a replay of that alert finds its decision here
    # a broker-side stop/target rule (a live link's --broker-stop gtt) protects it too
    broker_stop: bool = False
    rule_id: str | None = None      # the rule at the broker, once it answered
    rule_stop_paise: int | None = None    # the levels and quantity last asked of the rule
    rule_target_paise: int | None = None
    rule_qty: int = 0
    rule_attempt: int = 0           # PROTECT orders sent (placement, then each move)
    rule_sent_ms: int | None = None
    rule_fired_at_ms: int | None = None   # pinewire's exit found the rule fired: its order exits
    rule_due_now: bool = False      # the trader moved the levels: the rule follows unpaced
    # -- levels the trader set on the open position (agents/manual.py), in paise: they replace
    # the link's percentages (exits.ExitRules)
    stop_at_paise: int | None = None
    target_at_paise: int | None = None
    trail_from_paise: int | None = None   # trailing is active once the best price passes it
    # the trader closed it while its entry was pending: the entry is cancelled, and whatever
    # fills before the cancellation is closed at once
    close_asked_ms: int | None = None

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
                                         self.trail_activation_pct, self.stop_at_paise,
                                         self.target_at_paise, self.trail_from_paise)

    @property
    def entry_order_id(self) -> str:
        return ids.client_order_id(self.id, "ENTRY", self.entry_attempt)

    @property
    def exit_order_id(self) -> str:
        return ids.client_order_id(self.id, "EXIT", self.exit_attempt)

    @property
    def protect_order_id(self) -> str:
        return ids.client_order_id(self.id, "PROTECT", self.rule_attempt)

    @property
    def rule_to_cancel(self) -> str | None:
        """What an exit cancels first: the rule's id, or the PROTECT order that places it
        while its answer has not come back (the executor knows it by then)."""
        return self.rule_id or (self.protect_order_id if self.rule_sent_ms else None)

    @property
    def open_entry_qty(self) -> int:
        """Quantity of the outstanding entry order (the first entry's is the whole quantity)."""
        return self.entry_order_qty or self.quantity

    def __json__(self) -> dict:
        """How Faust writes a table value holding a position to its changelog."""
        return self.to_dict()

    def to_dict(self) -> dict:
        """Plain data for the table and the topics (a shallow copy: every field is a scalar,
        but for the tuples, made lists, and then_open, copied)."""
        d = self._asdict()
        d["fill_ids"] = list(self.fill_ids)
        d["charged_orders"] = list(self.charged_orders)
        d["order_fills"] = {k: list(v) for k, v in self.order_fills.items()}
        if self.then_open is not None:
            d["then_open"] = dict(self.then_open)
        return d

    @staticmethod
    def from_dict(d: dict) -> "Position":
        if "entry_open" not in d:   # a snapshot from before pyramiding
            d = {**d, "entry_open": d["state"] == PENDING or d["entry_qty"] < d["quantity"]}
        d = {k: sys.intern(v) if k in _SHARED and v.__class__ is str else v
             for k, v in d.items()}
        return Position(**{**d, "fill_ids": tuple(d.get("fill_ids") or ()),
                           "charged_orders": tuple(d.get("charged_orders") or ()),
                           "order_fills": dict(d.get("order_fills") or {}) or _NO_FILLS})


# fields whose text many positions share (a link, an instrument, a state): one string each in a
# worker holding positions decoded from their changelog, not one per position
_SHARED = frozenset({"link_id", "token", "symbol", "exchange", "side", "state", "sl_pct",
                     "target_pct", "trail_pct", "trail_activation_pct", "account_id",
                     "exit_reason", "product_type", "paper_fill", "tick_band_pct", "user_id",
                     "costs"})


def slot_key(link_id: str, token: str) -> str:
    """A link holds at most one live position per instrument."""
    return f"{link_id}|{token}"


_INDEX = {name: i for i, name in enumerate(Position._fields)}


def replace(pos: Position, **changes) -> Position:
    """The position with these fields changed (faster than NamedTuple._replace: a new best
    price on the tick path is one of these)."""
    values = list(pos)
    try:
        for name, value in changes.items():
            values[_INDEX[name]] = value
    except KeyError:
        raise TypeError(f"not fields of Position: {sorted(changes.keys() - _INDEX.keys())}") \
            from None
    return tuple.__new__(Position, values)


def bump(pos: Position, **changes) -> Position:
    return replace(pos, version=pos.version + 1, **changes)


def product_type(product: str, exchange: str, side: str) -> str:
    """The broker product for a link's `product` setting. auto: equity LONG -> DELIVERY (CNC),
    equity SHORT -> INTRADAY (MIS; delivery cannot short), F&O -> CARRYFORWARD (NRML)."""
    fno = exchange.upper() in FNO_EXCHANGES
    if product == "intraday":
        return "INTRADAY"
    if product == "delivery" or fno:
        return "CARRYFORWARD" if fno else "DELIVERY"
    return "DELIVERY" if side == exits.LONG else "INTRADAY"


def open_position(*, alert_id: str | None, link_id: str, token: str, symbol: str,
                  exchange: str, side: str, quantity: int, paper: bool, sl_pct, target_pct,
                  trail_pct, trail_activation_pct, slippage_bps: int,
                  reference_price_paise: int | None, partition: int, now_ms: int,
                  account_id: str | None = None, lot_size: int = 1, product: str = "auto",
                  paper_fill: str = "full", fee_paise: int = 0, tick_band_pct: str | None = None,
                  reverse_of: str | None = None, user_id: str | None = None,
                  broker_stop: bool = False, costs: str = "none") -> Position:
    """A new position, PENDING its entry. A reverse gets its id from the position it reverses."""
    return Position(
        id=reverse_id(reverse_of) if reverse_of else ids.position_id(alert_id),
        link_id=link_id, token=token, symbol=symbol,
        exchange=exchange, side=side, state=PENDING, quantity=quantity, paper=paper,
        sl_pct=sl_pct, target_pct=target_pct, trail_pct=trail_pct,
        trail_activation_pct=trail_activation_pct, slippage_bps=slippage_bps,
        opened_by_alert=alert_id, last_alert=alert_id, created_at_ms=now_ms,
        partition=partition,
        reference_price_paise=reference_price_paise, account_id=account_id,
        intent_at_ms=now_ms, version=1, lot_size=lot_size,
        product_type=product_type(product, exchange, side), paper_fill=paper_fill,
        fee_paise=fee_paise, tick_band_pct=tick_band_pct, reverse_of=reverse_of, user_id=user_id,
        broker_stop=broker_stop and not paper, costs=costs)


_band = lru_cache(maxsize=256)(pct)   # a link's bad-tick band, parsed once, not every tick


def reverse_id(position_id: str) -> str:
    """The id of the position that reverses this one: deterministic, so it is opened once."""
    return ids.position_id(f"{position_id}:reverse")


def add_entry(pos: Position, quantity: int, reference_price_paise: int | None,
              now_ms: int, alert_id: str | None = None) -> Position:
    """Pyramiding: one more entry order of `quantity` on an OPEN position."""
    return bump(pos, entries=pos.entries + 1, entry_attempt=pos.entry_attempt + 1,
                last_alert=alert_id or pos.last_alert,
                quantity=pos.quantity + quantity, entry_open=True, entry_order_qty=quantity,
                entry_order_filled=0, reference_price_paise=reference_price_paise,
                intent_at_ms=now_ms)


def entry_side(pos: Position) -> str:
    return "BUY" if pos.side == exits.LONG else "SELL"


def exit_side(pos: Position) -> str:
    return "SELL" if pos.side == exits.LONG else "BUY"


def with_levels(pos: Position, best: int, lv: exits.Levels | None = None) -> Position:
    lv = lv or exits.levels(pos.side, pos.entry_price, best, pos.rules)
    return replace(pos, best_paise=best, stop=fraction_str(lv.stop),
                   target=fraction_str(lv.target), trail_active=lv.trail_stop is not None)


def close_asked(pos: Position, now_ms: int) -> Position:
    """A trader's close of a position whose entry has not filled: its entry is cancelled."""
    return bump(pos, close_asked_ms=now_ms)


def entry_outstanding(pos: Position) -> bool:
    """Its entry order may still fill and is sent again when unanswered — never once the
    trader asked to cancel it."""
    return pos.state in (PENDING, OPEN) and pos.entry_open and pos.close_asked_ms is None


def close_due(pos: Position) -> bool:
    """Something filled on an entry the trader asked to cancel: it is closed now."""
    return pos.close_asked_ms is not None and pos.state == OPEN


def relevel(pos: Position, **changes) -> Position:
    """The position with changed rules (a trader's adjustment), its levels computed again."""
    changed = replace(pos, **changes)
    return bump(with_levels(changed, changed.best_paise))


def with_exit_order(pos: Position, now_ms: int) -> Position:
    """An exit order for everything held now."""
    return replace(pos, exit_order_qty=pos.entry_qty - pos.exit_qty, exit_base_qty=pos.exit_qty,
                   intent_at_ms=now_ms)


def on_tick(pos: Position, price_paise: int, now_ms: int, offset: int | None = None
            ) -> tuple[Position | None, exits.ExitDecision | None, str | None]:
    """Apply a tick to an OPEN position: (the changed position or None, the exit it triggers,
    the bad-tick guard's verdict when it held, confirmed or discarded a tick).
    A tick numbered at or below the position's tick_offset is a replay and changes nothing."""
    if pos.state != OPEN or not pos.entry_qty:
        return None, None, None
    if offset is not None and pos.tick_offset is not None and offset <= pos.tick_offset:
        return None, None, None
    verdict = None
    if pos.tick_band_pct is not None:
        guarded = badticks.guard(_band(pos.tick_band_pct), pos.last_accepted_paise,
                                 pos.held_paise, price_paise)
        verdict = None if guarded.verdict == badticks.ACCEPTED else guarded.verdict
        pos = replace(pos, last_accepted_paise=guarded.last_accepted, held_paise=guarded.held)
        if not guarded.accepted:
            return bump(pos, tick_offset=offset), None, verdict
    best, lv, decision = exits.evaluate(pos.side, pos.entry_price, pos.best_paise, pos.rules,
                                        price_paise)
    if decision is not None:
        pos = with_exit_order(with_levels(pos, best, lv), now_ms)
        return bump(pos, state=EXITING, exit_reason=decision.reason,
                    exit_trigger_paise=price_paise, exit_gap=fraction_str(decision.gap),
                    tick_offset=offset), decision, verdict
    if best != pos.best_paise:
        return bump(with_levels(pos, best, lv), tick_offset=offset), None, verdict
    if pos.tick_band_pct is not None:   # the levels stand; only the accepted tick moved
        return bump(pos, tick_offset=offset), None, verdict
    return None, None, None


def quiet_range(pos: Position) -> tuple[int, int] | None:
    """The prices (inclusive, in paise) at which a tick leaves the position exactly as it is:
    no new best price, no level reached. on_tick returns (None, None, None) for every such
    price, so a tick inside every live position's range of its instrument can skip them all.
    None when each tick must be evaluated: not OPEN, an entry still open (its intent may need
    a resend), or a bad-tick band (each accepted tick is remembered)."""
    if pos.state != OPEN or not pos.entry_qty or pos.entry_open or pos.tick_band_pct is not None \
            or pos.best_paise is None:
        return None
    lv = exits.levels(pos.side, pos.entry_price, pos.best_paise, pos.rules)
    stop, target = lv.stop, lv.target
    if pos.side == exits.LONG:   # quiet while stop < price <= best and price < target
        low = math.floor(stop) + 1 if stop is not None else 0
        high = min(pos.best_paise, math.ceil(target) - 1) if target is not None else pos.best_paise
    else:                        # quiet while best <= price < stop and price > target
        low = max(pos.best_paise, math.floor(target) + 1) if target is not None else pos.best_paise
        high = math.ceil(stop) - 1 if stop is not None else sys.maxsize
    return low, high


def begin_exit(pos: Position, reason: str, now_ms: int, *, price_paise: int | None = None,
               then_open: dict | None = None, alert_id: str | None = None) -> Position:
    """Close on a signal (an opposite or EXIT alert, `price_paise` the alert's price if any;
    `then_open` reverses once the exit has filled completely) or at the end of the day
    (`price_paise` the last tick)."""
    return bump(with_exit_order(pos, now_ms), state=EXITING, exit_reason=reason,
                exit_trigger_paise=price_paise, then_open=then_open,
                last_alert=alert_id or pos.last_alert)


def reconciled(pos: Position, price_paise: int, now_ms: int, note: str) -> Position:
    """Closed because the broker shows the instrument flat: what pinewire still held is taken
    as sold (bought back) at the broker's closing order's price."""
    rest = pos.entry_qty - pos.exit_qty
    sign = 1 if pos.side == exits.LONG else -1
    exit_value = pos.exit_value_paise + rest * price_paise
    return bump(pos, state=CLOSED, exit_reason="RECONCILED", exit_trigger_paise=price_paise,
                exit_qty=pos.entry_qty, exit_value_paise=exit_value, closed_at_ms=now_ms,
                intent_at_ms=None, note=note,
                realized_pnl_paise=sign * (exit_value - pos.entry_value_paise))


def restored(pos: Position, now_ms: int, same_ticks: bool = False) -> Position:
    """A position brought back from the ledger: an outstanding intent is sent again. The tick
    offset is kept when the instrument's ticks go on being numbered as before (`same_ticks`: a
    handover lost the position), forgotten when the broker lost the topics (it numbers its
    ticks from 0 again)."""
    return bump(pos, intent_at_ms=now_ms if pos.state in (PENDING, EXITING) else None,
                tick_offset=pos.tick_offset if same_ticks else None)


def stale_intent(pos: Position, now_ms: int, after_ms: int) -> str | None:
    """ENTRY or EXIT when an order intent has gone unanswered for after_ms (it is sent again,
    with the same client order id, so the executor's idempotency makes the resend harmless),
    or when a rejected exit's retry is due (a new order)."""
    if pos.retry_at_ms is not None:
        return "EXIT" if pos.state == EXITING and now_ms >= pos.retry_at_ms else None
    if pos.intent_at_ms is None or now_ms - pos.intent_at_ms < after_ms:
        return None
    if pos.state == EXITING:
        return "EXIT"
    return "ENTRY" if entry_outstanding(pos) else None


def resent(pos: Position, now_ms: int) -> Position:
    """The outstanding intent sent again, or a retried exit (a new order) sent: for what is
    held now (a fired rule's order may have filled part meanwhile)."""
    if pos.retry_at_ms is None:
        return bump(pos, intent_at_ms=now_ms)
    return bump(with_exit_order(pos, now_ms), retry_at_ms=None)


def order_intent(pos: Position, purpose: str, alert_id: str | None, now_ms: int) -> OrderIntent:
    """The order a position sends: ENTRY, EXIT, PROTECT (the broker-side stop rule at the
    levels last asked of it), or CANCEL (the entry, cancelled at the trader's word)."""
    if purpose == "ENTRY":
        coid, side, quantity, rest = pos.entry_order_id, entry_side(pos), pos.open_entry_qty, {}
    elif purpose == "CANCEL":
        coid, side, quantity = ids.client_order_id(pos.id, "CANCEL", pos.entry_attempt), \
            entry_side(pos), 0
        rest = dict(reason=MANUAL, cancel_client_order_id=pos.entry_order_id)
    elif purpose == "PROTECT":
        coid, side, quantity = pos.protect_order_id, exit_side(pos), pos.rule_qty
        rest = dict(stop_paise=pos.rule_stop_paise, target_paise=pos.rule_target_paise,
                    rule_id=pos.rule_id)
    else:
        coid, side, quantity = pos.exit_order_id, exit_side(pos), pos.exit_order_qty
        fired = pos.rule_fired_at_ms is not None     # its rule's order is cancelled instead
        rest = dict(reason=pos.exit_reason,
                    cancel_rule_id=None if fired else pos.rule_to_cancel,
                    cancel_rule_order=pos.rule_id if fired else None,
                    rule_filled_counted=pos.order_fills.get(
                        ids.client_order_id(pos.id, "BROKER_STOP"), (0, 0))[0],
                    cancel_client_order_id=pos.entry_order_id if pos.entry_open else None)
    entry = purpose == "ENTRY"
    return OrderIntent(
        client_order_id=coid, position_id=pos.id, link_id=pos.link_id, purpose=purpose,
        side=side, quantity=quantity, token=pos.token, symbol=pos.symbol,
        exchange=pos.exchange, paper=pos.paper, created_at_ms=now_ms,
        reference_price_paise=pos.reference_price_paise if entry else pos.exit_trigger_paise,
        slippage_bps=pos.slippage_bps, alert_id=alert_id, account_id=pos.account_id,
        product_type=pos.product_type, paper_fill=pos.paper_fill, user_id=pos.user_id, **rest)
