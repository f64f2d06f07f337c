"""Webhook links: their settings and the one validation of them, and their rows in SQL (the
source of truth; webapp/publish.py puts every change on the links topic, which is how the
agents learn it — they never query SQL per alert). Every link belongs to a user."""
from __future__ import annotations

import hashlib
import re
import secrets
import time
from decimal import Decimal, InvalidOperation

from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy import Engine, select, true, update

from agents.costs import PLANS
from schemas import market_time, sql
from schemas.money import rupees_to_paise


class LinkError(ValueError):
    """A link setting refused. The message names settings as "{sl_pct}"; each place says them
    as its user knows them (`said`): the CLI its flags (the default, FLAGS), the dashboard its
    form's labels, the API its field names. `setting`: the one it is about, if one."""

    def __init__(self, template: str, setting: str | None = None, **values):
        self.template, self.setting, self.values = template, setting, values
        super().__init__(self.said(FLAGS))

    def said(self, names: dict[str, str]) -> str:
        return self.template.format(**{k: names.get(k, k) for k in DEFAULTS}, **self.values)


def now_ms() -> int:
    return int(time.time() * 1000)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _new_token(key: bytes) -> dict:
    """A webhook token (192 random bits) as it is kept: its SHA-256, by which the gateway finds
    the link, and the token sealed with `key` (schemas.settings.webhook_token_key), which only
    the owner's pages open. The clear token is returned too, never stored."""
    token = secrets.token_urlsafe(24)
    return {"token": token, "token_hash": token_hash(token),
            "token_sealed": Fernet(key).encrypt(token.encode()).decode()}


def webhook_token(key: bytes, row: dict) -> str | None:
    """A link's token, for its owner's eyes; None when the key that sealed it is gone (a new
    session secret): a rotation makes a new one."""
    if row.get("token"):
        return row["token"]
    try:
        return Fernet(key).decrypt(row["token_sealed"].encode()).decode()
    except (InvalidToken, AttributeError):
        return None


SIDES = ("both", "long", "short")     # the sides a link may open (closing is never refused)
PRODUCTS = ("auto", "intraday", "delivery")
EOD_POLICIES = ("close-losers", "close-all", "hold")
BROKER_STOPS = ("none", "gtt")            # the broker's own stop/target rule beside pinewire's
KINDS = ("tradingview", "chartink")       # what posts to the link (README "Signal sources")
SCAN_ACTIONS = ("buy", "sell")
COST_PLANS = tuple(PLANS)                 # charges by a broker's table (agents/costs.py)
OFF = ("", "off", "none")
# Every setting a link has, with its default: the SQL columns, the link record, the CLI flags and
# (later) the dashboard's form all go through validate() below.
DEFAULTS = dict(quantity=None, sl_pct=None, target_pct=None, trail_pct=None,
                trail_activation_pct=None, slippage_bps=0, paper=True, account_id=None,
                enabled=True, side="long", reverse=False, reverse_on_sl=False, max_entries=1,
                risk_pct=None, capital_paise=None, max_open=None, daily_loss_paise=None,
                product="auto", paper_fill="full", tick_band_pct=None, eod="close-losers",
                fee_paise=0, kind="tradingview", scan_action=None, entry_window=None,
                broker_stop="none", option_shorts=False, costs="none")
FLAGS = dict(quantity="--qty", sl_pct="--sl", target_pct="--target", trail_pct="--trail",
             trail_activation_pct="--trail-activation", slippage_bps="--slippage-bps",
             side="--side", max_entries="--max-entries", risk_pct="--risk-pct",
             capital_paise="--capital", max_open="--max-open", daily_loss_paise="--daily-loss",
             product="--product", paper_fill="--paper-fill", tick_band_pct="--tick-band",
             eod="--eod", fee_paise="--fee-paise", account_id="--account", kind="--kind",
             scan_action="--action", entry_window="--entry-window",
             broker_stop="--broker-stop", costs="--costs")


# ... and as the dashboard's link form calls them
LABELS = dict(quantity="Quantity per entry (lots for options)", sl_pct="Stop-loss %",
              target_pct="Target %", trail_pct="Trailing stop %",
              trail_activation_pct="Trailing starts at % profit",
              risk_pct="Size by risk: % of capital", capital_paise="Capital (₹) for risk sizing",
              max_entries="Max entries (pyramiding)", max_open="Max open positions",
              daily_loss_paise="Daily loss limit (₹)", tick_band_pct="Bad-tick band %",
              paper_fill="Paper fills", slippage_bps="Paper slippage (bps)",
              fee_paise="Charges per order (₹)", entry_window="Entry window (IST)",
              side="Trade side", product="Product", eod="End of day", kind="Signals from",
              scan_action="ChartInk action", broker_stop="Broker-side stop (live)",
              account_id="Broker account", costs="Charges table (brokerage, taxes)")


def _off(value) -> bool:
    return value is None or str(value).strip().lower() in OFF


def plain(d: Decimal) -> str:
    """A decimal as a person writes it: 10, 1.5, 0.25 (never 1E+1, 1.50)."""
    return format(d.normalize(), "f")


def _percent(setting: str, value, *, zero_is_off: bool = True) -> str | None:
    """A percentage as a normalized decimal string; 0 switches a rule off, except where 0
    means something (a trailing stop active from the entry)."""
    if _off(value):
        return None
    try:
        d = Decimal(str(value).strip())
    except InvalidOperation:
        raise LinkError("{%s} must be a number of percent, not {value!r}" % setting, setting,
                        value=value) from None
    if not d.is_finite() or d < 0 or d >= 100:
        raise LinkError("{%s} must be between 0 and 100 percent, not {value!r}" % setting,
                        setting, value=value)
    if d == 0:
        return None if zero_is_off else "0"
    return plain(d)


def _whole(setting: str, value, *, minimum: int, optional: bool = False) -> int | None:
    if optional and _off(value):
        return None
    try:
        number = Decimal(str(value).strip())
    except (InvalidOperation, AttributeError):
        raise LinkError("{%s} must be a whole number, not {value!r}" % setting, setting,
                        value=value) from None
    if not number.is_finite() or number != number.to_integral_value() or number < minimum:
        raise LinkError("{%s} must be a whole number of at least {minimum}, not {value!r}"
                        % setting, setting, minimum=minimum, value=value)
    if number >= 2**31:
        raise LinkError("{%s} {value!r} is too large" % setting, setting, value=value)
    return int(number)


def _rupees(setting: str, value) -> int | None:
    if _off(value):
        return None
    try:
        return rupees_to_paise(value)
    except ValueError:
        raise LinkError("{%s} must be a positive amount of rupees, not {value!r}" % setting,
                        setting, value=value) from None


def _choice(setting: str, value, choices: tuple[str, ...]) -> str:
    choice = str(value).strip().lower()
    if choice not in choices:
        raise LinkError("{%s} must be one of {choices}, not {value!r}" % setting, setting,
                        choices=", ".join(choices), value=value)
    return choice


def _entry_window(value) -> str | None:
    if _off(value):
        return None
    try:
        start, end = market_time.parse_window(str(value))
    except ValueError as exc:
        raise LinkError("{entry_window}: {why}", "entry_window", why=str(exc)) from None
    return f"{start:%H:%M}-{end:%H:%M}"


def _paper_fill(value) -> str:
    text = str(value).strip().lower()
    if text == "full":
        return text
    fraction = text.removeprefix("partial:")
    try:
        f = Decimal(fraction)
    except InvalidOperation:
        f = Decimal(-1)
    if not text.startswith("partial:") or not f.is_finite() or not 0 < f < 1:
        raise LinkError("{paper_fill} must be 'full' or 'partial:F' with 0 < F < 1, "
                        "not {value!r}", "paper_fill", value=value)
    return f"partial:{plain(f)}"


_CONVERT = dict(
    quantity=lambda v: _whole("quantity", v, minimum=1),
    sl_pct=lambda v: _percent("sl_pct", v),
    target_pct=lambda v: _percent("target_pct", v),
    trail_pct=lambda v: _percent("trail_pct", v),
    trail_activation_pct=lambda v: _percent("trail_activation_pct", v, zero_is_off=False),
    slippage_bps=lambda v: _whole("slippage_bps", v, minimum=0),
    paper=bool, enabled=bool, reverse=bool, reverse_on_sl=bool, option_shorts=bool,
    account_id=lambda v: None if _off(v) else str(v),
    side=lambda v: _choice("side", v, SIDES),
    max_entries=lambda v: _whole("max_entries", v, minimum=1),
    risk_pct=lambda v: _percent("risk_pct", v),
    capital_paise=lambda v: _rupees("capital_paise", v),
    max_open=lambda v: _whole("max_open", v, minimum=1, optional=True),
    daily_loss_paise=lambda v: _rupees("daily_loss_paise", v),
    product=lambda v: _choice("product", v, PRODUCTS),
    paper_fill=_paper_fill,
    tick_band_pct=lambda v: _percent("tick_band_pct", v),
    eod=lambda v: _choice("eod", v, EOD_POLICIES),
    fee_paise=lambda v: _whole("fee_paise", v, minimum=0),
    kind=lambda v: _choice("kind", v, KINDS),
    scan_action=lambda v: None if _off(v) else _choice("scan_action", v, SCAN_ACTIONS).upper(),
    entry_window=_entry_window,
    broker_stop=lambda v: _choice("broker_stop", v, BROKER_STOPS),
    costs=lambda v: _choice("costs", v, COST_PLANS),
)


def convert(setting: str, value):
    """One setting's raw value (CLI, form, API) as it is stored, or LinkError."""
    return _CONVERT[setting](value)


def validate(changes: dict, current: dict | None = None) -> dict:
    """The one validation of a link's settings: `changes` (raw values by setting name) applied
    over `current` (a stored link, or the defaults). Returns the settings to store."""
    unknown = set(changes) - set(_CONVERT)
    if unknown:
        raise LinkError("unknown link setting(s): {unknown}", unknown=", ".join(sorted(unknown)))
    merged = {k: (current or DEFAULTS).get(k, DEFAULTS[k]) for k in DEFAULTS}
    merged.update({k: _CONVERT[k](v) for k, v in changes.items()})
    if merged["quantity"] is None:
        raise LinkError("{quantity} is required: the quantity (lots for options) traded per "
                        "entry", "quantity")
    if merged["risk_pct"] is not None:
        if merged["capital_paise"] is None:
            raise LinkError("{risk_pct} needs {capital_paise}: quantity = capital x risk % / "
                            "stop distance", "capital_paise")
        if merged["sl_pct"] is None:
            raise LinkError("{risk_pct} needs {sl_pct}: the stop distance sizes the position",
                            "sl_pct")
    if merged["kind"] == "chartink" and merged["scan_action"] is None:
        raise LinkError("a chartink link needs {scan_action} BUY or SELL: a scan names stocks, "
                        "not what to do with them", "scan_action")
    if merged["kind"] != "chartink" and merged["scan_action"] is not None:
        raise LinkError("{scan_action} is for chartink links; a TradingView alert names its "
                        "own action", "scan_action")
    if not merged["paper"] and not merged["account_id"]:
        raise LinkError("a live link needs a broker account ({account_id} NAME)", "account_id")
    if merged["broker_stop"] != "none" and merged["paper"]:
        raise LinkError("{broker_stop} is for live links: a paper position has no broker to "
                        "hold a rule", "broker_stop")
    return merged


def _mine(user_id: str | None):
    """Rows of this user (all rows when None: the workers, the operator's status page)."""
    return sql.links.c.user_id == user_id if user_id is not None else true()


def add_link(eng: Engine, *, name: str, strategy: str, token_key: bytes,
             user_id: str | None = None, **settings) -> dict:
    name, strategy = name.strip(), strategy.strip()
    if not re.fullmatch(r"[A-Za-z0-9_.\-]{1,100}", name):
        raise LinkError("name must be 1-100 letters, digits, '_', '.' or '-'")
    if not strategy:
        raise LinkError("strategy must not be empty")
    token = _new_token(token_key)
    row = dict(id=secrets.token_hex(8), name=name, token_hash=token["token_hash"],
               token_sealed=token["token_sealed"], strategy=strategy, version=1,
               created_at_ms=now_ms(), breaker_reset_at_ms=None, user_id=user_id,
               **validate(settings))
    with eng.begin() as conn:
        if conn.execute(select(sql.links.c.id).where(sql.links.c.name == name,
                                                     _mine(user_id))).first():
            raise LinkError("a link named {name!r} already exists", name=name)
        conn.execute(sql.links.insert().values(**row))
    return {**row, "token": token["token"]}


def _change(eng: Engine, link_id: str, user_id: str | None, change) -> dict:
    """Apply change(current row) -> values to one of the user's links; the version goes up, so
    the agents apply it before the link's next alert."""
    with eng.begin() as conn:
        row = conn.execute(select(sql.links).where(sql.links.c.id == link_id,
                                                   _mine(user_id))).first()
        if row is None:
            raise LinkError("no such link")
        current = dict(row._mapping)
        values = {**change(current), "version": current["version"] + 1}
        conn.execute(update(sql.links).where(sql.links.c.id == link_id).values(**values))
    return {**current, **values}


def set_link(eng: Engine, link_id: str, *, user_id: str | None = None,
             strategy: str | None = None, **changes) -> dict:
    """Change settings of a link (its token stays)."""
    def change(current):
        values = validate(changes, current)
        if strategy is not None:
            if not strategy.strip():
                raise LinkError("strategy must not be empty")
            values["strategy"] = strategy.strip()
        return values
    return _change(eng, link_id, user_id, change)


def reset_breaker(eng: Engine, link_id: str, user_id: str | None = None) -> dict:
    """Losses before now no longer count towards the link's daily loss limit today."""
    return _change(eng, link_id, user_id, lambda current: {"breaker_reset_at_ms": now_ms()})


def rotate_token(eng: Engine, link_id: str, token_key: bytes,
                 user_id: str | None = None) -> dict:
    """A new webhook token; the old URL stops working at once."""
    token = _new_token(token_key)
    row = _change(eng, link_id, user_id, lambda current: {
        "token_hash": token["token_hash"], "token_sealed": token["token_sealed"]})
    return {**row, "token": token["token"]}


def delete_link(eng: Engine, link_id: str, user_id: str | None = None) -> dict:
    """The link is gone from SQL; its history stays in the ledger. Returns the row as it was
    (disabled, one version up) for the topic, so the workers stop acting on it."""
    row = _change(eng, link_id, user_id, lambda current: {"enabled": False})
    with eng.begin() as conn:
        conn.execute(sql.links.delete().where(sql.links.c.id == link_id))
    return {**row, "token_hash": None}   # its URL is gone


def list_links(eng: Engine, user_id: str | None = None) -> list[dict]:
    with eng.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(
            select(sql.links).where(_mine(user_id)).order_by(sql.links.c.name))]


def link_by_name(eng: Engine, name: str, user_id: str | None = None) -> dict | None:
    with eng.connect() as conn:
        row = conn.execute(select(sql.links).where(sql.links.c.name == name,
                                                   _mine(user_id))).first()
    return dict(row._mapping) if row else None


def link_by_id(eng: Engine, link_id: str, user_id: str | None = None) -> dict | None:
    with eng.connect() as conn:
        row = conn.execute(select(sql.links).where(sql.links.c.id == link_id,
                                                   _mine(user_id))).first()
    return dict(row._mapping) if row else None


def link_by_token(eng: Engine, token: str) -> dict | None:
    """Looked up by the token's SHA-256, so the time a lookup takes says nothing about how
    much of a guessed token is right."""
    with eng.connect() as conn:
        wanted = sql.links.c.token_hash == token_hash(token)
        row = conn.execute(select(sql.links).where(wanted)).first()
    return dict(row._mapping) if row else None
