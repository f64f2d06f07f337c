"""The candle agent: ticks of the instruments an attached strategy reads become OHLCV candles
(agents/strategies/candles.py builds them), each closed candle goes to the candles topic. It
runs in the tick stream, after the exit monitor (agents/monitor.py).

A builder per instrument lives in the candle_builders table with the sequence number of its
last tick, so a record read again after a crash adds nothing twice. A window closes on the
next tick of a later window, or on the CANDLES command each worker sends its own partitions
just after every minute (an illiquid instrument's candle still closes on time). Ticks outside
the session (09:15-15:30 IST) make no candle; a late tick is counted and dropped.

A closed candle is acked by Kafka before the builder that closed it is written: a crash between
the two sends it again (the strategy agent knows it already), never loses it.
"""
from __future__ import annotations

import asyncio
import logging

from agents import app as A
from agents import metrics
from agents.emit import partition_of
from agents.pipeline import memory
from agents.strategies.candles import CandleBuilder
from schemas.market_time import in_session
from schemas.records import TICKS_PER_RECORD, Candle, Command

log = logging.getLogger(__name__)


def _builder(token: str, timeframes: tuple[int, ...]) -> tuple[CandleBuilder, int]:
    """The instrument's builder and last sequence number; one made anew keeps the windows of
    the timeframes still wanted."""
    stored = A.candle_builders.get(token)
    if stored is None:
        return CandleBuilder(token, timeframes), -1
    builder = CandleBuilder.from_state(stored["builder"])
    if builder.timeframes != timeframes:
        builder = CandleBuilder(token, timeframes,
                                {m: w for m, w in builder.windows.items() if m in timeframes},
                                {m: e for m, e in builder.closed_until.items() if m in timeframes},
                                builder.last_day_volume, builder.late)
    return builder, stored["seq"]


async def build(event) -> None:
    wanted = memory.candle_timeframes
    if not wanted:
        return
    first_seq, touched, closed = event.message.offset * TICKS_PER_RECORD, {}, []
    volumes = event.value.volumes
    for index, tick in enumerate(event.value.ticks):
        token = tick[0]
        if token not in wanted:
            continue
        builder, last_seq = touched.get(token) or _builder(token, wanted[token])
        seq = first_seq + index
        if seq <= last_seq:
            continue              # read again after a restart: counted already
        if in_session(tick[2]):
            late = builder.late
            closed += builder.on_tick(tick[1], tick[2], volumes[index] if volumes else None)
            if builder.late > late:
                metrics.LATE_TICKS.inc()
        touched[token] = (builder, seq)
    await _send(closed)
    for token, (builder, seq) in touched.items():
        A.candle_builders[token] = {"builder": builder.state(), "seq": seq}


async def close_due(command: Command) -> None:
    """The CANDLES command: every window of the partition that ended by `at_ms` closes."""
    for token, stored in list(A.candle_builders.items()):
        if stored is None or partition_of(token) != command.partition:
            continue
        builder = CandleBuilder.from_state(stored["builder"])
        closed = builder.close_until(command.at_ms)
        if closed:
            await _send(closed)
            A.candle_builders[token] = {"builder": builder.state(), "seq": stored["seq"]}


def candles_command(partition: int, at_ms: int) -> Command:
    return Command(command_id=f"CANDLES:{at_ms // 60_000}:{partition}", kind="CANDLES",
                   at_ms=at_ms, partition=partition)


async def _send(closed: list[Candle]) -> None:
    sent = [await A.candles_topic.send(key=c.token, value=c, partition=partition_of(c.token))
            for c in closed]
    for c in closed:
        metrics.CANDLES.labels(c.timeframe).inc()
    if sent:
        await asyncio.gather(*sent)      # acked before the builder that closed them is written
