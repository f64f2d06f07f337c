"""An alert's whole decision for a link, and a stop-and-reverse's, as pure functions: what
signals.decide says, gated by the entry window, the risk limits and sizing, and the position it
makes (opened, added to, or exiting). The worker (agents/pipeline.py) and the in-process
backtest call the same functions; the caller passes the state (the live position, the book's
exposures, the last price) and the time, and does the sending.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable, Mapping

from agents import positions, risk, signals
from agents.exits import LONG, SHORT, SL
from agents.positions import Position
from agents.strategies.base import Signal
from schemas import ids
from schemas.money import paise_to_rupees
from schemas.records import Alert

PositionsOf = Callable[..., Iterable[Mapping]]   # (link_id=… | account_id=…) -> exposures
PriceOf = Callable[[str], "int | None"]          # token -> last price in paise


@dataclass(frozen=True)
class Book:
    """What the risk limits read: the exposures of the cluster's positions, the last prices,
    and the link's broker account (its own limits), if any."""
    positions_of: PositionsOf
    price: PriceOf
    account: Mapping | None = None


@dataclass(frozen=True)
class Tripped:
    scope: risk.Scope
    reason: str


@dataclass(frozen=True)
class Decided:
    decision: signals.AlertDecision
    pos: Position | None = None        # the position after the alert (None: ignored)
    purpose: str | None = None         # the order it sends: ENTRY | EXIT
    tripped: Tripped | None = None     # a daily loss breaker found tripped (to announce)


def of_signal(link: Mapping, attachment: Mapping, signal: Signal, timeframe: str,
              dedupe_window_s: int, bot_version: int, global_bot_version: int) -> Alert:
    """A strategy's signal as its link's alert: its id derives from the link, the candle and
    the action, so a signal sent again after a crash is the same alert."""
    exchange, symbol = attachment["symbols"][attachment["tokens"].index(signal.token)] \
        .split(":", 1)
    payload = {"strategy": attachment["name"], "symbol": symbol, "action": signal.action,
               "price": paise_to_rupees(signal.price), "time": signal.at_ms,
               "timeframe": timeframe, "reason": signal.reason}
    dedupe = ids.dedupe_key(link["link_id"], payload)
    return Alert(id=ids.alert_id(dedupe, signal.at_ms * 1_000_000), dedupe_key=dedupe,
                 dedupe_window_s=dedupe_window_s, link_id=link["link_id"],
                 link_version=link["version"], user_id=link.get("user_id"),
                 bot_version=bot_version, global_bot_version=global_bot_version,
                 action=signal.action, symbol=symbol, exchange=exchange, token=signal.token,
                 received_at_ms=signal.at_ms, price_paise=signal.price, payload=payload,
                 signal_action=signal.action, source=f"strategy:{attachment['name']}")


def scopes(link: Mapping, book: Book, now_ms: int) -> list[risk.Scope]:
    """The link's risk scopes, and its account's when that has limits of its own."""
    day = risk.ist_day(now_ms)
    mine = list(book.positions_of(link_id=link["link_id"]))
    found = [risk.Scope(f"link {link['name']}", link.get("max_open"),
                        link.get("daily_loss_paise"), risk.open_count(mine),
                        risk.day_pnl(mine, day, book.price, link.get("breaker_reset_at_ms")))]
    account = book.account
    if account and (account.get("max_open") or account.get("daily_loss_paise")):
        theirs = list(book.positions_of(account_id=account["account_id"]))
        found.append(risk.Scope(
            f"account {account['name']}", account.get("max_open"),
            account.get("daily_loss_paise"), risk.open_count(theirs),
            risk.day_pnl(theirs, day, book.price, account.get("breaker_reset_at_ms"))))
    return found


def size(link: Mapping, lot_size: int, reference_paise: int | None) -> tuple[int, str | None]:
    return risk.size(quantity=link["quantity"], lot_size=lot_size, risk_pct=link.get("risk_pct"),
                     capital_paise=link.get("capital_paise"), sl_pct=link["sl_pct"],
                     reference_paise=reference_paise)


def new_position(link: Mapping, *, alert_id, token, symbol, exchange, side, quantity, lot_size,
                 reference_paise, partition: int, now_ms: int, reverse_of=None) -> Position:
    return positions.open_position(
        alert_id=alert_id, link_id=link["link_id"], token=token, symbol=symbol,
        exchange=exchange, side=side, quantity=quantity, paper=link["paper"],
        sl_pct=link["sl_pct"], target_pct=link["target_pct"], trail_pct=link["trail_pct"],
        trail_activation_pct=link["trail_activation_pct"], slippage_bps=link["slippage_bps"],
        reference_price_paise=reference_paise, partition=partition, now_ms=now_ms,
        account_id=link.get("account_id"), lot_size=lot_size,
        product=link.get("product", "auto"), paper_fill=link.get("paper_fill", "full"),
        fee_paise=link.get("fee_paise", 0), tick_band_pct=link.get("tick_band_pct"),
        reverse_of=reverse_of, user_id=link.get("user_id"),
        broker_stop=link.get("broker_stop") == "gtt", costs=link.get("costs") or "none")


def decide(alert: Alert, link: Mapping | None, live: Position | None, book: Book, *,
           bot_running: bool, duplicate: str | None, now_ms: int, partition: int) -> Decided:
    """What the alert does to the link's live position on its instrument (`live`, or None)."""
    decision = signals.decide(
        action=alert.action, strategy=alert.strategy,
        link_strategy=link["strategy"] if link else None,
        link_enabled=bool(link and link["enabled"]), bot_running=bot_running,
        duplicate=duplicate, live=live, side=link["side"] if link else "long",
        reverse=bool(link and link.get("reverse")),
        max_entries=link.get("max_entries", 1) if link else 1,
        no_option_shorts=bool(link) and signals.refuses_option_short(link, alert.exchange,
                                                                     alert.symbol))
    decision, quantity, tripped = _gate_entry(decision, link, alert, book, now_ms)
    if decision.outcome == signals.IGNORE:
        return Decided(decision, tripped=tripped)
    if decision.outcome == signals.OPEN:
        pos = new_position(link, alert_id=alert.id, token=alert.token, symbol=alert.symbol,
                           exchange=alert.exchange, side=decision.side, quantity=quantity,
                           lot_size=alert.lot_size, reference_paise=alert.price_paise,
                           partition=partition, now_ms=now_ms)
        return Decided(decision, pos, "ENTRY", tripped)
    if decision.outcome == signals.ADD:
        return Decided(decision, positions.add_entry(live, quantity, alert.price_paise, now_ms,
                                                     alert_id=alert.id), "ENTRY", tripped)
    then_open = {"side": decision.side, "alert_id": alert.id,
                 "reference_price_paise": alert.price_paise} \
        if decision.outcome == signals.REVERSE else None
    return Decided(decision, positions.begin_exit(live, positions.SIGNAL, now_ms,
                                                  price_paise=alert.price_paise,
                                                  then_open=then_open, alert_id=alert.id),
                   "EXIT", tripped)


def _gate_entry(decision: signals.AlertDecision, link: Mapping | None, alert: Alert, book: Book,
                now_ms: int) -> tuple[signals.AlertDecision, int, Tripped | None]:
    """The entry window, the risk limits and sizing of an entry the alert asks for:
    (decision, quantity, the breaker found tripped)."""
    if decision.outcome not in (signals.OPEN, signals.ADD, signals.REVERSE):
        return decision, 0, None
    blocked, tripped = signals.outside_entry_window(link.get("entry_window"),
                                                    alert.received_at_ms), None
    if not blocked:
        blocked, tripped = _blocked(link, book, now_ms, decision.outcome != signals.ADD)
    if blocked and decision.outcome == signals.REVERSE:
        return signals.AlertDecision(signals.CLOSE, f"{alert.action} closes the open position; "
                                                    f"no reverse: {blocked}"), 0, tripped
    if blocked:
        return signals.AlertDecision(signals.IGNORE, blocked), 0, tripped
    if decision.outcome == signals.REVERSE:
        return decision, 0, None    # sized when the exit has filled
    # sized by the alert's price when it carries one, else the last tick
    quantity, why = size(link, alert.lot_size, alert.price_paise or book.price(alert.token))
    if not quantity:
        return signals.AlertDecision(signals.IGNORE, why), 0, None
    return decision, quantity, None


def _blocked(link: Mapping, book: Book, now_ms: int, new_position: bool
             ) -> tuple[str | None, Tripped | None]:
    why, scope = risk.entry_block(scopes(link, book, now_ms), new_position=new_position)
    return why, Tripped(scope, why) if scope is not None else None


@dataclass(frozen=True)
class Reverse:
    pos: Position | None = None        # the reverse's entry to send
    why_not: str | None = None         # or why there is none (None and no pos: no reverse asked)
    tripped: Tripped | None = None


def reverse(closed: Position, link: Mapping | None, book: Book, *, bot_running: bool,
            exit_price: int, partition: int, now_ms: int) -> Reverse:
    """Stop-and-reverse: the opposite entry, once the exit filled completely, only while the
    bot runs, the link allows that side and no risk limit stops it. Its id derives from the
    closed position's (the caller sends it only if no position has that id yet)."""
    plan = closed.then_open
    if plan is None and closed.exit_reason == SL and link and link.get("reverse_on_sl"):
        plan = {"side": SHORT if closed.side == LONG else LONG, "alert_id": None,
                "reference_price_paise": None}
    if plan is None or link is None:
        return Reverse()
    why = (None if bot_running else "bot is stopped") or \
        (None if link["enabled"] else "link is disabled") or \
        (None if signals.allows(link["side"], plan["side"])
         else f"the link trades {link['side']} only") or \
        (None if plan["side"] == LONG or not signals.refuses_option_short(
            link, closed.exchange, closed.symbol) else "option shorts are off")
    tripped = None
    if not why:
        why, tripped = _blocked(link, book, now_ms, True)
    reference = plan.get("reference_price_paise") or exit_price
    quantity, size_why = (0, None) if why else size(link, closed.lot_size, reference)
    why = why or size_why
    if why:
        return Reverse(why_not=f"no reverse of the {closed.side} {closed.symbol} position: {why}",
                       tripped=tripped)
    return Reverse(new_position(link, alert_id=plan.get("alert_id"), token=closed.token,
                                symbol=closed.symbol, exchange=closed.exchange,
                                side=plan["side"], quantity=quantity, lot_size=closed.lot_size,
                                reference_paise=reference, partition=partition, now_ms=now_ms,
                                reverse_of=closed.id))
