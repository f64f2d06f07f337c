"""What a trader hears on the phone: the events worth a message, in a few words, times in IST,
money in rupees. Pure: an event as the events topic carries it in, messages out.

Sent: an entry filled, an exit (reason, P&L), an order rejected (the broker's words; a rejected
exit once, then once more if it keeps failing), an alert
ignored for a reason other than a duplicate (opt-in), a breaker tripped, the end-of-day report, a
broker login refused; to the operators (the admins): a feed down and a worker lost.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from fractions import Fraction
from typing import Callable

from schemas.market_time import IST
from schemas.records import heartbeat_alive
from schemas.money import paise_to_rupees, signed_rupees

IGNORED = "ignored"        # the one kind a user opts into
BROKER_STOP_RULE = "broker stop rule"   # how a position's event names its rule's answers
EXIT_WORDS = {"SL": "stop-loss", "TARGET": "target", "TRAIL": "trailing stop",
              "SIGNAL": "signal", "EOD": "end of day", "MIS_SQUAREOFF": "intraday square-off",
              "BROKER_STOP": "the broker's stop rule", "RECONCILED": "flat at the broker"}


@dataclass(frozen=True)
class Message:
    user_id: str | None     # None: the operators
    kind: str               # entry | exit | rejected | ignored | breaker | eod | login |
                            # feed | worker
    text: str


SPOKEN = ("ALERT_IGNORED", "EXIT_FAILING", "BREAKER_TRIPPED", "EOD_REPORT", "ACCOUNT_HEALTH",
          "FEED_DOWN", "FEED_UP", "WORKER_LOST")


def worth_reading(kind: str, reason: str | None) -> bool:
    """A cheap first look: whether an event can give a message at all (most cannot: a
    position's snapshot after anything but a fill, a tick held by the guard ...)."""
    return kind in SPOKEN or (kind == "POSITION" and (reason or "").startswith(
        ("FILLED", "REJECTED", f"{BROKER_STOP_RULE} REJECTED")))


def messages(event: dict, link_name: Callable[[str], str | None]) -> list[Message]:
    kind, user = event["kind"], event.get("user_id")
    when = datetime.fromtimestamp(event["at_ms"] / 1000, IST).strftime("%H:%M")
    link = link_name(event.get("link_id") or "") or "?"
    if kind == "POSITION" and event.get("position"):
        return _position(event, user, when, link)
    if kind == "ALERT_IGNORED" and not (event.get("reason") or "").startswith("duplicate of"):
        return [Message(user, IGNORED, f"{when} alert ignored ({link}): {event['reason']}")]
    if kind == "EXIT_FAILING" and event.get("position"):
        p = event["position"]
        return [Message(user, "rejected", f"{when} {p['symbol']} {p['side']} EXIT FAILING "
                                          f"({link}): {event['reason']}. The position is "
                                          "still open at the broker; pinewire keeps trying")]
    if kind == "BREAKER_TRIPPED":
        return [Message(user, "breaker", f"{when} breaker tripped ({link}): {event['reason']}")]
    if kind == "EOD_REPORT" and event.get("detail"):
        return _eod(event["detail"], when)
    if kind == "ACCOUNT_HEALTH" and (event.get("detail") or {}).get("problem"):
        detail = event["detail"]
        return [Message(user, "login", f"{when} broker login refused for account "
                                       f"{detail.get('name') or detail['account_id']}: "
                                       f"{detail['problem']}")]
    if kind in ("FEED_DOWN", "FEED_UP", "WORKER_LOST"):
        return [Message(None, "worker" if kind == "WORKER_LOST" else "feed",
                        f"{when} {event['reason']}")]
    return []


def _average(value_paise: int, quantity: int) -> str:
    return paise_to_rupees(Fraction(value_paise, quantity)) if quantity else "-"


def _position(event: dict, user, when: str, link: str) -> list[Message]:
    p, reason = event["position"], event.get("reason") or ""
    what = f"{p['symbol']} {p['side']}"
    if reason.startswith(f"{BROKER_STOP_RULE} REJECTED"):
        return [Message(user, "rejected", f"{when} {what}: the broker refused its stop rule "
                                          f"({link}): {reason.split(': ', 1)[-1]}; pinewire's "
                                          "own exits go on")]
    if reason.startswith("REJECTED"):
        words = reason.split(": ", 1)[1] if ": " in reason else "no reason given"
        if p["state"] == "REJECTED":
            return [Message(user, "rejected", f"{when} {what} entry order rejected ({link}): "
                                              f"{words}")]
        if (p.get("exit_failures") or 0) > 1:
            return []    # told at the first rejection, and once it is failing
        return [Message(user, "rejected", f"{when} {what} exit order rejected ({link}): "
                                          f"{words}; sent again shortly")]
    if not reason.startswith("FILLED"):
        return []
    if p["state"] == "CLOSED":
        pnl = (p.get("realized_pnl_paise") or 0) - (p.get("fees_paise") or 0)
        why = EXIT_WORDS.get(p.get("exit_reason") or "", p.get("exit_reason") or "exit")
        price = _average(p["exit_value_paise"], p["exit_qty"])
        return [Message(user, "exit", f"{when} {what} closed by {why} ({link}): "
                                      f"{p['exit_qty']} at ₹{price}, P&L ₹{signed_rupees(pnl)}")]
    if p.get("exit_qty"):
        return []      # part of an exit: the message comes when it is complete
    return [Message(user, "entry", f"{when} {what} entered ({link}): {p['entry_qty']} at "
                                   f"₹{_average(p['entry_value_paise'], p['entry_qty'])}")]


def _eod(detail: dict, when: str) -> list[Message]:
    by_user: dict[str | None, list[dict]] = {}
    for row in detail["rows"]:
        by_user.setdefault(row.get("user_id"), []).append(row)
    out = []
    for user, rows in by_user.items():
        closed = [r for r in rows if r["decision"] != "KEEP"]
        pnl = sum(r["pnl_paise"] or 0 for r in rows)
        out.append(Message(user, "eod", f"{when} {EXIT_WORDS.get(detail['kind'], 'sweep')} "
                                        f"{detail['day']}: {len(closed)} closed, "
                                        f"{len(rows) - len(closed)} kept, P&L at the last "
                                        f"price ₹{signed_rupees(pnl)}"))
    return out


def lost_workers(beats: dict[str, dict | None], watched: set[str], me: str, now_ms: int,
                 heartbeat_s: float) -> tuple[set[str], list[tuple[str, int]]]:
    """Workers that stopped beating while this one watched them alive. Returns the workers alive
    now (to watch next time) and, for each lost one, (its id, its last beat's time): every
    worker reports the same loss alike, so the loss has one event id however many report it."""
    alive, lost = set(), []
    for worker_id, beat in beats.items():
        if not beat or worker_id == me:
            continue
        if heartbeat_alive(beat, now_ms, heartbeat_s):
            alive.add(worker_id)
        elif worker_id in watched:
            lost.append((worker_id, beat["at_ms"]))
    return alive, lost
