"""Webhook links and the bot switch: SQL is the source of truth; every change is also published
to its compacted topic, which is how the agents learn it (they never query SQL per alert)."""
from __future__ import annotations

import hashlib
import re
import secrets
import time
from decimal import Decimal, InvalidOperation

from sqlalchemy import Engine, select, update

from pinewire import kafka
from schemas.money import rupees_to_paise
from schemas import sql
from schemas import topics as registry
from schemas.records import AccountConfig, BotState, LinkConfig


class LinkError(ValueError):
    pass


def now_ms() -> int:
    return int(time.time() * 1000)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


SIDES = ("both", "long", "short")
PRODUCTS = ("auto", "intraday", "delivery")
EOD_POLICIES = ("close-losers", "close-all", "hold")
OFF = ("", "off", "none")
# Every setting a link has, with its default: the SQL columns, the link record, the CLI flags and
# (later) the dashboard's form all go through validate() below.
DEFAULTS = dict(quantity=None, sl_pct=None, target_pct=None, trail_pct=None,
                trail_activation_pct=None, slippage_bps=0, paper=True, account_id=None,
                enabled=True, side="both", reverse=False, reverse_on_sl=False, max_entries=1,
                risk_pct=None, capital_paise=None, max_open=None, daily_loss_paise=None,
                product="auto", paper_fill="full", tick_band_pct=None, eod="close-losers",
                fee_paise=0)
FLAGS = dict(quantity="--qty", sl_pct="--sl", target_pct="--target", trail_pct="--trail",
             trail_activation_pct="--trail-activation", slippage_bps="--slippage-bps",
             side="--side", max_entries="--max-entries", risk_pct="--risk-pct",
             capital_paise="--capital", max_open="--max-open", daily_loss_paise="--daily-loss",
             product="--product", paper_fill="--paper-fill", tick_band_pct="--tick-band",
             eod="--eod", fee_paise="--fee-paise", account_id="--account")


def _off(value) -> bool:
    return value is None or str(value).strip().lower() in OFF


def _percent(name: str, value, *, zero_is_off: bool = True) -> str | None:
    """A percentage as a normalized decimal string; 0 switches a rule off, except where 0
    means something (a trailing stop active from the entry)."""
    if _off(value):
        return None
    try:
        d = Decimal(str(value).strip())
    except InvalidOperation:
        raise LinkError(f"{name} must be a number of percent, not {value!r}") from None
    if not d.is_finite() or d < 0 or d >= 100:
        raise LinkError(f"{name} must be between 0 and 100 percent, not {value!r}")
    if d == 0:
        return None if zero_is_off else "0"
    return str(d.normalize()) if d == d.to_integral() else str(d)


def _whole(name: str, value, *, minimum: int, optional: bool = False) -> int | None:
    if optional and _off(value):
        return None
    try:
        number = Decimal(str(value).strip())
    except (InvalidOperation, AttributeError):
        raise LinkError(f"{name} must be a whole number, not {value!r}") from None
    if not number.is_finite() or number != number.to_integral_value() or number < minimum:
        raise LinkError(f"{name} must be a whole number of at least {minimum}, not {value!r}")
    if number >= 2**31:
        raise LinkError(f"{name} {value!r} is too large")
    return int(number)


def _rupees(name: str, value) -> int | None:
    if _off(value):
        return None
    try:
        return rupees_to_paise(value)
    except ValueError:
        raise LinkError(f"{name} must be a positive amount of rupees, not {value!r}") from None


def _choice(name: str, value, choices: tuple[str, ...]) -> str:
    choice = str(value).strip().lower()
    if choice not in choices:
        raise LinkError(f"{name} must be one of {', '.join(choices)}, not {value!r}")
    return choice


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
        raise LinkError(f"--paper-fill must be 'full' or 'partial:F' with 0 < F < 1, "
                        f"not {value!r}")
    return f"partial:{f.normalize()}"


_CONVERT = dict(
    quantity=lambda v: _whole("--qty", v, minimum=1),
    sl_pct=lambda v: _percent("--sl", v),
    target_pct=lambda v: _percent("--target", v),
    trail_pct=lambda v: _percent("--trail", v),
    trail_activation_pct=lambda v: _percent("--trail-activation", v, zero_is_off=False),
    slippage_bps=lambda v: _whole("--slippage-bps", v, minimum=0),
    paper=bool, enabled=bool, reverse=bool, reverse_on_sl=bool,
    account_id=lambda v: None if _off(v) else str(v),
    side=lambda v: _choice("--side", v, SIDES),
    max_entries=lambda v: _whole("--max-entries", v, minimum=1),
    risk_pct=lambda v: _percent("--risk-pct", v),
    capital_paise=lambda v: _rupees("--capital", v),
    max_open=lambda v: _whole("--max-open", v, minimum=1, optional=True),
    daily_loss_paise=lambda v: _rupees("--daily-loss", v),
    product=lambda v: _choice("--product", v, PRODUCTS),
    paper_fill=_paper_fill,
    tick_band_pct=lambda v: _percent("--tick-band", v),
    eod=lambda v: _choice("--eod", v, EOD_POLICIES),
    fee_paise=lambda v: _whole("--fee-paise", v, minimum=0),
)


def convert(setting: str, value):
    """One setting's raw value (CLI, form, API) as it is stored, or LinkError."""
    return _CONVERT[setting](value)


def validate(changes: dict, current: dict | None = None) -> dict:
    """The one validation of a link's settings: `changes` (raw values by setting name) applied
    over `current` (a stored link, or the defaults). Returns the settings to store."""
    unknown = set(changes) - set(_CONVERT)
    if unknown:
        raise LinkError(f"unknown link setting(s): {', '.join(sorted(unknown))}")
    merged = {k: (current or DEFAULTS).get(k, DEFAULTS[k]) for k in DEFAULTS}
    merged.update({k: _CONVERT[k](v) for k, v in changes.items()})
    if merged["quantity"] is None:
        raise LinkError("--qty is required: the quantity (lots for options) traded per entry")
    if merged["risk_pct"] is not None:
        if merged["capital_paise"] is None:
            raise LinkError("--risk-pct needs --capital: quantity = capital x risk % / stop "
                            "distance")
        if merged["sl_pct"] is None:
            raise LinkError("--risk-pct needs --sl: the stop distance sizes the position")
    if not merged["paper"] and not merged["account_id"]:
        raise LinkError("a live link needs a broker account (--account NAME)")
    return merged


def add_link(eng: Engine, *, name: str, strategy: str, **settings) -> dict:
    name, strategy = name.strip(), strategy.strip()
    if not re.fullmatch(r"[A-Za-z0-9_.\-]{1,100}", name):
        raise LinkError("name must be 1-100 letters, digits, '_', '.' or '-'")
    if not strategy:
        raise LinkError("strategy must not be empty")
    token = secrets.token_urlsafe(24)   # 192 random bits
    row = dict(id=secrets.token_hex(8), name=name, token=token, token_hash=token_hash(token),
               strategy=strategy, version=1, created_at_ms=now_ms(), breaker_reset_at_ms=None,
               **validate(settings))
    with eng.begin() as conn:
        if conn.execute(select(sql.links.c.id).where(sql.links.c.name == name)).first():
            raise LinkError(f"a link named {name!r} already exists")
        conn.execute(sql.links.insert().values(**row))
    return row


def set_link(eng: Engine, name: str, *, strategy: str | None = None, **changes) -> dict:
    """Change settings of an existing link (its token stays); the version goes up, so the
    agents apply the change before the link's next alert."""
    with eng.begin() as conn:
        row = conn.execute(select(sql.links).where(sql.links.c.name == name)).first()
        if row is None:
            raise LinkError(f"no link named {name!r} (see: pinewire link list)")
        current = dict(row._mapping)
        values = validate(changes, current)
        if strategy is not None:
            if not strategy.strip():
                raise LinkError("strategy must not be empty")
            values["strategy"] = strategy.strip()
        values["version"] = current["version"] + 1
        conn.execute(update(sql.links).where(sql.links.c.id == current["id"]).values(**values))
    return {**current, **values}


def reset_breaker(eng: Engine, name: str) -> dict:
    """Losses before now no longer count towards the link's daily loss limit today."""
    with eng.begin() as conn:
        row = conn.execute(select(sql.links).where(sql.links.c.name == name)).first()
        if row is None:
            raise LinkError(f"no link named {name!r} (see: pinewire link list)")
        values = dict(breaker_reset_at_ms=now_ms(), version=row.version + 1)
        conn.execute(update(sql.links).where(sql.links.c.id == row.id).values(**values))
    return {**dict(row._mapping), **values}


def list_links(eng: Engine) -> list[dict]:
    with eng.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(select(sql.links).order_by(sql.links.c.name))]


def link_by_name(eng: Engine, name: str) -> dict | None:
    with eng.connect() as conn:
        row = conn.execute(select(sql.links).where(sql.links.c.name == name)).first()
    return dict(row._mapping) if row else None


def link_by_token(eng: Engine, token: str) -> dict | None:
    """Looked up by the token's SHA-256, so the time a lookup takes says nothing about how
    much of a guessed token is right."""
    with eng.connect() as conn:
        wanted = sql.links.c.token_hash == token_hash(token)
        row = conn.execute(select(sql.links).where(wanted)).first()
    return dict(row._mapping) if row else None


def bot(eng: Engine) -> dict:
    with eng.connect() as conn:
        row = conn.execute(select(sql.bot_state).where(sql.bot_state.c.id == 1)).first()
    return dict(row._mapping) if row else {"id": 1, "running": True, "version": 0, "at_ms": 0}


def set_bot(eng: Engine, running: bool) -> dict:
    with eng.begin() as conn:
        current = conn.execute(select(sql.bot_state).where(sql.bot_state.c.id == 1)).first()
        version = (current.version if current else 0) + 1
        sql.upsert(conn, sql.bot_state, dict(id=1, running=running, version=version,
                                             at_ms=now_ms()), ["id"])
    return bot(eng)


def link_record(row: dict) -> LinkConfig:
    return LinkConfig(link_id=row["id"], name=row["name"], strategy=row["strategy"],
                      version=row["version"], breaker_reset_at_ms=row.get("breaker_reset_at_ms"),
                      **{k: row[k] for k in DEFAULTS})


def bot_record(row: dict) -> BotState:
    return BotState(running=row["running"], version=row["version"], at_ms=row["at_ms"])


def account_record(row: dict) -> AccountConfig:
    return AccountConfig(account_id=row["id"], name=row["name"], version=row["version"],
                         max_open=row.get("max_open"), daily_loss_paise=row.get("daily_loss_paise"),
                         breaker_reset_at_ms=row.get("breaker_reset_at_ms"))


async def publish(bootstrap: str, namespace: str, *, links: list[dict] = (),
                  accounts: list[dict] = (), bot_row: dict | None = None) -> None:
    """Write link and account settings (never tokens or credentials) and the bot state to their
    compacted topics."""
    async with kafka.producing(bootstrap) as prod:
        for row in links:
            await prod.send_and_wait(registry.topic_name(namespace, registry.LINKS),
                                     kafka.encode(link_record(row)), key=row["id"].encode())
        for row in accounts:
            await prod.send_and_wait(registry.topic_name(namespace, registry.ACCOUNTS),
                                     kafka.encode(account_record(row)), key=row["id"].encode())
        if bot_row is not None:
            await prod.send_and_wait(registry.topic_name(namespace, registry.BOT),
                                     kafka.encode(bot_record(bot_row)), key=b"bot")


async def publish_everything(eng: Engine, bootstrap: str, namespace: str) -> None:
    """After a broker restart the compacted topics are empty: rebuild them from SQL."""
    from pinewire.accounts import account_rows
    await publish(bootstrap, namespace, links=list_links(eng), accounts=account_rows(eng),
                  bot_row=bot(eng))
