"""The strategy agent: each closed candle goes to the strategies attached to its instrument and
timeframe (a day's candle also rolls up into its week's and month's, which close with the last
trading day's); their signals become alerts of their links (source strategy:<name>) on the alerts
topic, where they meet the same dedupe, trading rules, risk and execution as a TradingView
alert.

The candle_history table keeps each (instrument, timeframe)'s last candles, as many as its
strategies need to warm up: a strategy object is made again from them whenever this worker has
none that saw the newest (a restart, a partition moved here, a changed attachment), so its
signals do not depend on where or since when it runs. A candle older than the newest kept one
was seen already and changes nothing; a history candle warms strategies up and gives no alert.
An alert's id derives from its link, candle and action: sent again after a crash, it is
recognized as the same alert.
"""
from __future__ import annotations

import logging

from agents import alert_rules, app as A
from agents.control import EXTRA_HOLIDAYS
from agents.eod import is_trading_day
from agents.emit import partition_of
from agents.pipeline import memory
from agents.risk import ist_day
from agents.strategies.base import Signal, Strategy
from agents.strategies.candles import PERIODS, last_of_period, roll_up
from agents.strategies.shipped import make
from schemas.records import Alert, Candle

log = logging.getLogger(__name__)
KEPT_WITHOUT_READERS = 250        # candles kept for an instrument no strategy reads yet

# (attachment id, version, token) -> (its strategy, the start of the last candle it took)
_strategies: dict[tuple[str, int, str], tuple[Strategy, int]] = {}


@A.app.agent(A.candles_topic, concurrency=1)
async def on_candles(stream):
    await A.consume(stream, evaluate)


def _strategy(attachment: dict, token: str, history: list[dict]) -> Strategy:
    """The attachment's strategy for this instrument, having taken every kept candle."""
    key = (attachment["attachment_id"], attachment["version"], token)
    newest = history[-1]["start_ms"] if history else None
    found = _strategies.get(key)
    if found is None or found[1] != newest:
        strategy = make(attachment["name"], token, attachment["params"])
        strategy.warm_up(Candle(**c) for c in history)
        found = _strategies[key] = (strategy, newest)
    return found[0]


async def evaluate(candle: Candle) -> None:
    key = f"{candle.token}|{candle.timeframe}"
    history = A.candle_history.get(key) or []
    if history and candle.start_ms <= history[-1]["start_ms"]:
        return                                    # seen already
    readers = memory.strategies_on.get((candle.token, candle.timeframe), [])
    alerts, needs = [], []
    for attachment in readers:
        strategy = _strategy(attachment, candle.token, history)
        needs.append(strategy.warm_up_candles)
        signals = strategy.on_candle(candle)
        _strategies[(attachment["attachment_id"], attachment["version"], candle.token)] = \
            (strategy, candle.start_ms)
        if not candle.history:
            alerts += [a for s in signals if (a := _alert(attachment, s, candle)) is not None]
    keep = max(needs, default=KEPT_WITHOUT_READERS)
    A.candle_history[key] = (history + [candle.asdict()])[-keep:]
    for alert in alerts:
        await A.alerts_topic.send(key=alert.link_id, value=alert,
                                  partition=partition_of(alert.token))
    if candle.timeframe == "D":
        for period in PERIODS:
            await _roll_up(candle, period)


async def _roll_up(day: Candle, period: str) -> None:
    """The day's candle into its week's or month's; one that closes is evaluated like any."""
    key = f"{day.token}|{period}|open"
    last = last_of_period(ist_day(day.start_ms), period,
                          lambda d: is_trading_day(d, EXTRA_HOLIDAYS))
    still_open, closed = roll_up(A.candle_history.get(key), day, period, last)
    A.candle_history[key] = still_open
    for candle in closed:
        await evaluate(candle)


def _alert(attachment: dict, signal: Signal, candle: Candle) -> Alert | None:
    link = memory.link(attachment["link_id"])
    if link is None:
        log.warning("strategy %s: link %s unknown here; signal dropped", attachment["name"],
                    attachment["link_id"])
        return None
    user = link.get("user_id")
    return alert_rules.of_signal(link, attachment, signal, candle.timeframe,
                                 A.S.own_id_dedupe_window_s,
                                 memory.bot(user)["version"] if user else 0,
                                 memory.bot()["version"])
