"""Stop-loss, target and trailing-stop rules: pure, exact (Fractions of paise), side-mirrored.

For a LONG (a SHORT is the mirror image):
- the initial stop is entry x (1 - SL%), the target entry x (1 + target%);
- once the best price since entry is at least entry x (1 + activation%), the trailing stop is
  best x (1 - trail%); the effective stop is the higher of the two, so it never moves down and
  never sits below the initial stop;
- a tick at or through a level triggers; the reason is TRAIL when the raised stop was binding.
A trader may set levels by price on an open position (`stop_at`, `target_at`: they replace the
percentage levels) and start trailing from a price (`activation_at`: the trailing stop is active
once the best price is at or beyond it; "trail from now" is the last price).
"""
from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache

from schemas.money import pct

LONG, SHORT = "LONG", "SHORT"
SL, TARGET, TRAIL = "SL", "TARGET", "TRAIL"


@dataclass(frozen=True)
class ExitRules:
    """Each value is a fraction of one (1% -> 1/100) or None when the rule is off."""
    sl: Fraction | None = None
    target: Fraction | None = None
    trail: Fraction | None = None
    activation: Fraction | None = None
    stop_at: int | None = None          # paise: replaces sl
    target_at: int | None = None        # paise: replaces target
    activation_at: int | None = None    # paise: replaces activation

    @staticmethod
    @lru_cache(maxsize=4096)
    def from_pcts(sl: str | None, target: str | None, trail: str | None,
                  activation: str | None, stop_at: int | None = None,
                  target_at: int | None = None, activation_at: int | None = None
                  ) -> "ExitRules":
        trail_f = pct(trail)
        activation_f = pct(activation) if activation not in (None, "") else trail_f
        return ExitRules(pct(sl), pct(target), trail_f, activation_f if trail_f else None,
                         stop_at, target_at, activation_at if trail_f else None)


@dataclass(frozen=True)
class Levels:
    long: bool
    initial_stop: Fraction | None
    trail_stop: Fraction | None     # None until the trailing stop has activated
    target: Fraction | None

    @property
    def stop(self) -> Fraction | None:
        """The effective stop: the tighter of the initial and the trailing stop."""
        stops = [s for s in (self.initial_stop, self.trail_stop) if s is not None]
        if not stops:
            return None
        return max(stops) if self.long else min(stops)


@dataclass(frozen=True)
class ExitDecision:
    reason: str          # SL | TARGET | TRAIL
    level: Fraction      # the level that was hit
    price: int           # the tick that hit it (the exit is at market at this price)
    gap: Fraction        # how far through the level the tick printed (0 when exactly at it)


@lru_cache(maxsize=1 << 16)   # the tick path asks again for the levels it just computed
def levels(side: str, entry: Fraction, best: int, rules: ExitRules) -> Levels:
    sign = 1 if side == LONG else -1
    initial = Fraction(rules.stop_at) if rules.stop_at is not None else \
        entry * (1 - sign * rules.sl) if rules.sl is not None else None
    target = Fraction(rules.target_at) if rules.target_at is not None else \
        entry * (1 + sign * rules.target) if rules.target is not None else None
    trail_stop = None
    if rules.trail is not None:
        activation = rules.activation_at if rules.activation_at is not None else \
            entry * (1 + sign * (rules.activation or 0))
        if (best >= activation) if side == LONG else (best <= activation):
            trail_stop = best * (1 - sign * rules.trail)
    return Levels(side == LONG, initial, trail_stop, target)


def best_price(side: str, best: int | None, price: int) -> int:
    """The most favourable price seen since entry."""
    if best is None:
        return price
    return max(best, price) if side == LONG else min(best, price)


def evaluate(side: str, entry: Fraction, best: int | None, rules: ExitRules,
             price: int) -> tuple[int, Levels, ExitDecision | None]:
    """Apply one tick: the new best price, the levels after it, and the exit it triggers, if any."""
    new_best = best_price(side, best, price)
    lv = levels(side, entry, new_best, rules)
    stop, long_ = lv.stop, side == LONG
    if stop is not None and (price <= stop if long_ else price >= stop):
        trailed = stop == lv.trail_stop and lv.trail_stop != lv.initial_stop
        return new_best, lv, ExitDecision(TRAIL if trailed else SL, stop, price, abs(stop - price))
    if lv.target is not None and (price >= lv.target if long_ else price <= lv.target):
        return new_best, lv, ExitDecision(TARGET, lv.target, price, abs(price - lv.target))
    return new_best, lv, None
