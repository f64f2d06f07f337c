"""Records on the topics: one record type per topic, plain JSON on the wire (no Faust metadata).

Prices and money are integer paise; percentages are decimal strings ("0.5" is half a percent).
"""
from __future__ import annotations

import time
from typing import Optional

import faust


class _Record(faust.Record, serializer="json", include_metadata=False):
    pass


class Alert(_Record):
    """A webhook alert, validated by the gateway. Topic: alerts."""
    id: str                      # unique per delivery, returned to the caller
    dedupe_key: str              # same link + same payload => same key
    dedupe_window_s: int         # 24 h when the payload carries its own id/time, else a short window
    link_id: str
    link_version: int            # the agent waits until its link view is at least this fresh
    bot_version: int
    action: str                  # BUY SELL EXIT BUY_CALL BUY_PUT SELL_CALL SELL_PUT
    symbol: str
    exchange: str
    token: str
    received_at_ms: int
    strategy: Optional[str] = None
    quantity: Optional[int] = None
    price_paise: Optional[int] = None
    payload: Optional[dict] = None   # the parsed body, secrets removed
    lot_size: int = 1                # an option contract trades in lots of this many
    signal_action: Optional[str] = None   # as sent, e.g. BUY_CALL before it became a BUY
    user_id: Optional[str] = None    # the link's owner
    global_bot_version: int = 0      # the admin's kill switch as the gateway saw it
    source: str = "tradingview"      # tradingview (any client of that shape) | chartink |
                                     # strategy:<name>


class OrderIntent(_Record):
    """An order the pipeline wants placed. Topic: orders."""
    client_order_id: str         # deterministic, <= 20 chars (usable as SmartAPI ordertag)
    position_id: str
    link_id: str
    purpose: str                 # ENTRY | EXIT | PROTECT | CANCEL (the entry, by a trader)
    side: str                    # BUY | SELL
    quantity: int
    token: str
    symbol: str
    exchange: str
    paper: bool
    created_at_ms: int
    order_type: str = "MARKET"
    reference_price_paise: Optional[int] = None
    slippage_bps: int = 0
    alert_id: Optional[str] = None
    reason: Optional[str] = None
    account_id: Optional[str] = None   # which broker account places a live order
    product_type: str = "INTRADAY"
    paper_fill: str = "full"           # paper only: full | partial:F
    filled_at_once: bool = False       # paper only: its fill went out with it (no executor)
    user_id: Optional[str] = None
    # an entry still partly unfilled when its exit is sent: cancel it at the broker first
    cancel_client_order_id: Optional[str] = None
    # PROTECT: the broker's own stop/target rule at these levels (rule_id set: move that one).
    # An EXIT of a protected position cancels its rule first: cancel_rule_id is the rule's id,
    # or the PROTECT order's client order id while the position has not heard the rule's id.
    stop_paise: Optional[int] = None
    target_paise: Optional[int] = None
    rule_id: Optional[str] = None
    cancel_rule_id: Optional[str] = None
    # An EXIT that takes over from a fired rule whose order has not filled: that order is
    # cancelled first (what it filled meanwhile, beyond the rule_filled_counted the position
    # knew of, is not sold again); the exit is placed only if it did not fill in full.
    cancel_rule_order: Optional[str] = None
    rule_filled_counted: int = 0

    @property
    def closing(self) -> bool:
        """An exit, or a trader's cancellation of an entry: first in its account's turn."""
        return self.purpose in ("EXIT", "CANCEL")


class Fill(_Record):
    """A broker's answer to an order: a fill (possibly partial) or a rejection. Topic: fills."""
    fill_id: str
    client_order_id: str
    position_id: str
    token: str
    side: str
    status: str                  # FILLED | REJECTED | PROTECTED | RULE_FIRED
    quantity: int
    price_paise: int
    at_ms: int
    broker_order_id: Optional[str] = None
    text: Optional[str] = None
    # the order's cumulative filled quantity and value after this fill, as the broker reports
    # them (positions count only what they had not counted before: agents/positions.py)
    order_filled: Optional[int] = None
    order_value_paise: Optional[int] = None


class Event(_Record):
    """Something that happened to an alert or a position. Topic: events.

    kind: ALERT_ACCEPTED, ALERT_IGNORED, POSITION (snapshot after any change), RESTORED,
    BREAKER_TRIPPED (figures in `detail`), TICK_HELD, TICK_CONFIRMED, TICK_DISCARDED (bad-tick
    guard), EOD_REPORT (one per swept partition, rows in `detail`).
    """
    event_id: str
    kind: str
    at_ms: int
    link_id: str
    position_id: Optional[str] = None
    alert_id: Optional[str] = None
    reason: Optional[str] = None
    position: Optional[dict] = None
    detail: Optional[dict] = None
    user_id: Optional[str] = None      # whose it is: the live stream and the ledger filter by it


class Command(_Record):
    """An instruction to a partition's owner. Topic: commands.

    RESTORE: a position from the ledger (key: position id, on its instrument's partition).
    RESTORE_LOST: the same, for a position its owner's table lost in a handover (the ledger
    check): the ticks since its last are applied again.
    RECONCILE: the broker shows the position's instrument flat: close it (key: position id,
    on its instrument's partition; position: {"price_paise", "broker_order_id", "note"}).
    EOD, MIS_SQUAREOFF: the end-of-day sweep of one partition (one record per partition,
    key: "<kind>:<partition>"), for the IST trading day of `at_ms`.
    PAPER_TIMEOUT: a resting paper order waited too long for a tick (key: client order id,
    on the instrument's partition).
    CANDLES: close the candles of the partition whose window ended by `at_ms`.
    A trader's commands (agents/manual.py; `by`: who, from where; user_id: whose positions):
    CLOSE: close the position now, or cancel its entry if nothing filled (key: position id,
    on its instrument's partition). ADJUST: set its levels (`levels`: manual.Levels). CLOSE_ALL:
    close every live position of the user on the partition, of one link or account if `scope`
    says so ({"link_id"} or {"account_id"}; one record per partition).
    """
    command_id: str
    kind: str
    at_ms: int
    position_id: Optional[str] = None
    position: Optional[dict] = None
    partition: Optional[int] = None
    client_order_id: Optional[str] = None
    token: Optional[str] = None
    user_id: Optional[str] = None
    by: Optional[str] = None
    levels: Optional[dict] = None
    scope: Optional[dict] = None


TICKS_PER_RECORD = 1000   # the most ticks one Ticks record carries


class Ticks(_Record):
    """Last-traded prices of one partition's instruments, as the feed batched them for a few
    milliseconds: a consumer pays its per-record cost once per batch, not once per tick.
    Topic: ticks, on the instruments' partition. Each tick is [token, ltp_paise, ts_ms], in
    the order the feed received them. A tick's sequence number, which tells a replayed tick
    from a new one, is its record's offset x TICKS_PER_RECORD + its index in the record.
    volumes: the day's traded volume at each tick (same index; None where not given), when the
    feed gives any."""
    ticks: list
    volumes: Optional[list] = None
    source: Optional[str] = None   # "rest": priced over REST by a worker while ticks stalled


class Candle(_Record):
    """A closed OHLCV candle of one instrument. Topic: candles (key: instrument token, on its
    partition). timeframe: minutes ("1" "3" "5" "15" "60"), or "D" (the session, 09:15-15:30
    IST), "W", "M". history: loaded from the past (a CSV, the broker's historical API) — it
    warms strategies up and gives no signal. Prices in paise; volume when the feed gives it."""
    token: str
    timeframe: str
    start_ms: int
    end_ms: int
    open: int
    high: int
    low: int
    close: int
    volume: Optional[int] = None
    ticks: int = 0
    history: bool = False


class StrategyAttachment(_Record):
    """A strategy attached to a link: it runs on the candles of `tokens` and its signals are
    alerts of the link (source strategy:<name>). Topic: strategies (compacted, key: its id;
    None once detached). Validation: webapp/strategies.py."""
    attachment_id: str
    link_id: str
    name: str                          # a name of agents.strategies.shipped.STRATEGIES
    params: dict
    timeframe: str
    tokens: list
    symbols: list                      # "NSE:SBIN-EQ" of each token, in the same order
    enabled: bool
    version: int
    user_id: Optional[str] = None


class Subscription(_Record):
    """Whether the feeds must stream an instrument: sent when its first live position appears
    (open_positions 1) and when its last one ends (0). Topic: subscriptions (compacted)."""
    token: str
    symbol: str
    exchange: str
    active: bool
    open_positions: int
    at_ms: int


class LinkConfig(_Record):
    """A webhook link's settings, without its token (only the token's SHA-256, by which the
    gateway finds the link; None once the link is deleted). Topic: links (compacted).
    Defaults and validation: webapp/links.py; meaning: README "Trading rules"."""
    link_id: str
    name: str
    strategy: str
    quantity: int                      # per entry (lots for options), unless sized by risk
    sl_pct: Optional[str]
    target_pct: Optional[str]
    trail_pct: Optional[str]
    trail_activation_pct: Optional[str]
    slippage_bps: int
    paper: bool
    enabled: bool
    version: int
    account_id: Optional[str] = None   # the broker account (live links; risk limits)
    side: str = "long"                 # long | short | both: the sides it may open
    reverse: bool = False              # an opposite signal closes, then opens the other side
    reverse_on_sl: bool = False        # a stop-loss exit opens the other side
    max_entries: int = 1               # pyramiding
    risk_pct: Optional[str] = None     # size by risk: capital x risk % / stop distance
    capital_paise: Optional[int] = None
    max_open: Optional[int] = None     # open positions of the link at once
    daily_loss_paise: Optional[int] = None
    product: str = "auto"              # auto | intraday | delivery
    paper_fill: str = "full"           # full | partial:F
    tick_band_pct: Optional[str] = None
    eod: str = "close-losers"          # close-losers | close-all | hold
    fee_paise: int = 0                 # charges per filled order, kept apart from gross P&L
    breaker_reset_at_ms: Optional[int] = None
    user_id: Optional[str] = None      # the owner
    token_hash: Optional[str] = None
    kind: str = "tradingview"          # tradingview | chartink: what posts to the link
    scan_action: Optional[str] = None  # a chartink link's BUY or SELL
    entry_window: Optional[str] = None  # "HH:MM-HH:MM" IST: entries only then
    broker_stop: str = "none"          # none | gtt: the broker's own stop/target rule too
    option_shorts: bool = False        # a SELL may open a short option position
    costs: str = "none"                # the charges table's plan for each fill (agents/costs)


class AccountConfig(_Record):
    """A broker account's risk limits, never its credentials. Topic: accounts (compacted)."""
    account_id: str
    name: str
    version: int
    max_open: Optional[int] = None
    daily_loss_paise: Optional[int] = None
    breaker_reset_at_ms: Optional[int] = None
    user_id: Optional[str] = None


class Exposure(_Record):
    """What the risk limits need of a position, cluster-wide. Topic: exposure (compacted, key:
    position id), written on every change of state or quantity, never on a mere tick."""
    position_id: str
    link_id: str
    token: str
    side: str
    state: str
    entry_qty: int
    entry_value_paise: int
    exit_qty: int
    exit_value_paise: int
    created_at_ms: int
    version: int
    account_id: Optional[str] = None
    realized_pnl_paise: Optional[int] = None
    closed_at_ms: Optional[int] = None
    fees_paise: int = 0


class BotState(_Record):
    """Whether new alerts are acted on. Topic: bot (compacted): key 'bot' is the admin's global
    kill switch, a user id that user's bot."""
    running: bool
    version: int
    at_ms: int
    user_id: Optional[str] = None


class WorkerHeartbeat(_Record):
    """What a worker owns and sees. Topic: workers (compacted)."""
    worker_id: str
    host: str
    pid: int
    active: list
    standby: list
    at_ms: int
    last_tick_ms: Optional[int] = None
    last_prices: Optional[dict] = None   # token -> [ltp_paise, ts_ms] for tokens with open positions
    open_positions: int = 0


def heartbeat_alive(beat: dict, now_ms: int, heartbeat_s: float) -> bool:
    """A worker is alive while its last heartbeat is under three beats (and 2 s) old."""
    return now_ms - beat["at_ms"] < 3 * heartbeat_s * 1000 + 2000



class DeadLetter(_Record):
    """A record an agent could not handle. Topic: deadletters. Nothing is dropped silently."""
    agent: str
    topic: str
    partition: int
    offset: int
    key: Optional[str]
    value: Optional[dict]
    error: str
    at_ms: int

    @classmethod
    def of(cls, agent: str, topic: str, partition: int, offset: int, key: str | None,
           value: dict | None, exc: Exception) -> "DeadLetter":
        return cls(agent=agent, topic=topic, partition=partition, offset=offset, key=key,
                   value=value, error=f"{type(exc).__name__}: {exc}"[:2000],
                   at_ms=int(time.time() * 1000))
