"""Option baskets, decided purely: the shipped templates, the order legs go in and out, a
basket's combined mark-to-market, and its exit rules — like agents/exits.py for one position.

- A leg: a call or a put (CE/PE), bought or sold, so many lots, its strike so many strikes
  from the money or by premium, its expiry (schemas/option_chain.py).
- Entry: buy legs before sell legs (the margin of a hedged sell is smaller once its hedge is
  on); exit: sell legs bought back before buy legs are sold (never a naked short).
- MTM, in paise: for each leg, (last − entry) × quantity, negated for a sold leg. The premium
  of a basket is what its entry collected net (sold minus bought; negative when it paid).
- Rules, in the order they are looked at: a leg's own stop (a sold leg's premium up by the
  percentage, a bought leg's down) closes that leg; then, on the basket: the time exit; the
  combined stop (MTM at or below −stop); the combined target (MTM at or above the target);
  the trailing stop (once MTM has reached the activation, MTM at or below the best MTM less
  the trail). Amounts are rupees or a percentage of the absolute premium.
- Re-entry: after a basket stop or trailing exit (never after a target or time exit), up to N
  times a day, not before the delay has passed.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import time
from fractions import Fraction

from schemas.option_chain import EXPIRIES

BUY, SELL = "BUY", "SELL"
BASKET_SL, BASKET_TARGET, BASKET_TRAIL, LEG_SL, TIME = (
    "BASKET_SL", "BASKET_TARGET", "BASKET_TRAIL", "LEG_SL", "TIME")
REENTER_AFTER = frozenset({BASKET_SL, BASKET_TRAIL})


@dataclass(frozen=True)
class Leg:
    right: str                       # CE | PE
    side: str                        # BUY | SELL
    lots: int = 1
    offset: int = 0                  # strikes from the money: + out of it, - in it
    premium_paise: int | None = None  # instead of offset: the strike nearest this premium
    expiry: str = "current_week"

    def __post_init__(self):
        if self.right not in ("CE", "PE") or self.side not in (BUY, SELL) or self.lots < 1 \
                or self.expiry not in EXPIRIES:
            raise ValueError(f"not a leg: {self}")


TEMPLATES: dict[str, tuple[Leg, ...]] = {
    "long_call": (Leg("CE", BUY),),
    "long_put": (Leg("PE", BUY),),
    "short_straddle": (Leg("CE", SELL), Leg("PE", SELL)),
    "short_strangle": (Leg("CE", SELL, offset=2), Leg("PE", SELL, offset=2)),
    "iron_condor": (Leg("CE", SELL, offset=2), Leg("PE", SELL, offset=2),
                    Leg("CE", BUY, offset=4), Leg("PE", BUY, offset=4)),
    "iron_fly": (Leg("CE", SELL), Leg("PE", SELL), Leg("CE", BUY, offset=3),
                 Leg("PE", BUY, offset=3)),
    "bull_call_spread": (Leg("CE", BUY), Leg("CE", SELL, offset=2)),
    "bear_put_spread": (Leg("PE", BUY), Leg("PE", SELL, offset=2)),
}


def entry_order(sides: list[str]) -> list[int]:
    """The legs' indexes in the order their entries go: buys first, each kept in place."""
    return [k for k, s in enumerate(sides) if s == BUY] + \
        [k for k, s in enumerate(sides) if s == SELL]


def exit_order(sides: list[str]) -> list[int]:
    """The legs' indexes in the order their exits go: sold legs bought back first."""
    return [k for k, s in enumerate(sides) if s == SELL] + \
        [k for k, s in enumerate(sides) if s == BUY]


@dataclass(frozen=True)
class Held:
    """A leg as filled: its side, quantity and average entry premium (paise)."""
    side: str
    quantity: int
    entry_paise: int


def mtm(legs: list[Held], last: list[int]) -> int:
    return sum((p - h.entry_paise) * h.quantity * (1 if h.side == BUY else -1)
               for h, p in zip(legs, last))


def premium(legs: list[Held]) -> int:
    """Net premium collected at entry (negative: paid)."""
    return sum(h.entry_paise * h.quantity * (1 if h.side == SELL else -1) for h in legs)


@dataclass(frozen=True)
class Amount:
    """Rupees (paise) or a percentage of the basket's absolute premium."""
    paise: int | None = None
    pct: str | None = None

    def of(self, premium_paise: int) -> Fraction | None:
        if self.paise is not None:
            return Fraction(self.paise)
        if self.pct is not None:
            return abs(premium_paise) * Fraction(self.pct) / 100
        return None


@dataclass(frozen=True)
class Rules:
    stop: Amount = Amount()
    target: Amount = Amount()
    trail: Amount = Amount()          # below the best MTM
    trail_from: Amount = Amount()     # the MTM at which trailing starts (none: at once)
    leg_stop_pct: str | None = None
    exit_at: time | None = None       # IST
    reentries: int = 0
    reentry_delay_s: int = 0


@dataclass(frozen=True)
class Decision:
    reason: str
    legs: tuple[int, ...]             # the legs to close, in exit order


def leg_stopped(h: Held, last: int, pct: str) -> bool:
    move = Fraction(h.entry_paise) * Fraction(pct) / 100
    return last >= h.entry_paise + move if h.side == SELL else last <= h.entry_paise - move


def evaluate(legs: list[Held], open_legs: list[int], last: list[int], best_mtm: int,
             rules: Rules, now: time) -> tuple[int, Decision | None]:
    """(the best MTM so far, updated, and what to close now, if anything). `open_legs`: the
    indexes of the legs still held; MTM counts the closed legs at their exit prices, which
    `last` holds for them."""
    value = mtm(legs, last)
    best = max(best_mtm, value)
    basket_premium = premium(legs)
    order = [k for k in exit_order([h.side for h in legs]) if k in open_legs]
    if rules.leg_stop_pct:
        stopped = tuple(k for k in order if leg_stopped(legs[k], last[k], rules.leg_stop_pct))
        if stopped:
            return best, Decision(LEG_SL, stopped)
    if rules.exit_at is not None and now >= rules.exit_at:
        return best, Decision(TIME, tuple(order))
    stop, target = rules.stop.of(basket_premium), rules.target.of(basket_premium)
    if stop is not None and value <= -stop:
        return best, Decision(BASKET_SL, tuple(order))
    if target is not None and value >= target:
        return best, Decision(BASKET_TARGET, tuple(order))
    trail, start = rules.trail.of(basket_premium), rules.trail_from.of(basket_premium)
    if trail is not None and (start is None or best >= start) and value <= best - trail:
        return best, Decision(BASKET_TRAIL, tuple(order))
    return best, None


def may_reenter(reason: str, reentered: int, exited_at_ms: int, now_ms: int,
                rules: Rules) -> bool:
    return reason in REENTER_AFTER and reentered < rules.reentries and \
        now_ms - exited_at_ms >= rules.reentry_delay_s * 1000
