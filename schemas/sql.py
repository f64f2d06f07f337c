"""The SQL ledger and configuration tables (SQLAlchemy Core), and a dialect-aware upsert.

Money is integer paise; exact levels are stored as the strings the pure functions produce.
"""
from __future__ import annotations

import threading
from functools import lru_cache
from pathlib import Path

from sqlalchemy import (JSON, BigInteger, Boolean, Column, Engine, Index, Integer, MetaData,
                        String, Table, Text, UniqueConstraint, create_engine, event, false,
                        inspect)
from sqlalchemy.dialects import postgresql, sqlite

metadata = MetaData()

users = Table(
    "users", metadata,
    Column("id", String(32), primary_key=True),
    Column("username", String(64), nullable=False, unique=True),
    Column("password_hash", Text, nullable=False),         # argon2id
    Column("first_name", String(100), nullable=False, server_default=""),
    Column("last_name", String(100), nullable=False, server_default=""),
    Column("is_admin", Boolean, nullable=False, server_default=false()),
    Column("created_at_ms", BigInteger, nullable=False),
    Column("password_changed_at_ms", BigInteger, nullable=False),  # older sessions are void
    Column("sessions_ended_at_ms", BigInteger),         # signed out: every older session is void
)

# the one-time code that registers the first user (the admin) on a new install, by its SHA-256
setup_codes = Table(
    "setup_codes", metadata,
    Column("code_hash", String(64), primary_key=True),
    Column("created_at_ms", BigInteger, nullable=False),
)

notify_settings = Table(
    "notify_settings", metadata,
    Column("user_id", String(32), primary_key=True),
    Column("telegram", Text, nullable=False),             # Fernet token: bot token and chat id
    Column("alert_ignored", Boolean, nullable=False, server_default=false()),   # opt-in
    Column("updated_at_ms", BigInteger, nullable=False),
)

api_tokens = Table(
    "api_tokens", metadata,
    Column("id", String(32), primary_key=True),
    Column("user_id", String(32), nullable=False, index=True),
    Column("token_hash", String(64), nullable=False, unique=True),   # SHA-256 of the token
    Column("label", String(100), nullable=False, server_default=""),
    Column("created_at_ms", BigInteger, nullable=False),
    Column("last_used_at_ms", BigInteger),
    Column("revoked_at_ms", BigInteger),
)

user_bots = Table(
    "user_bots", metadata,
    Column("user_id", String(32), primary_key=True),
    Column("running", Boolean, nullable=False),
    Column("version", Integer, nullable=False),
    Column("at_ms", BigInteger, nullable=False),
)


def _owner() -> Column:
    """The user a row belongs to (NULL only for rows from before users, until the first one)."""
    return Column("user_id", String(32), index=True)

links = Table(
    "links", metadata,
    Column("id", String(32), primary_key=True),
    Column("name", String(100), nullable=False),
    # the secret in the webhook URL: its SHA-256 finds the link; sealed, for the owner's pages
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("token_sealed", Text, nullable=False),
    Column("strategy", String(100), nullable=False),
    Column("quantity", Integer, nullable=False),
    Column("sl_pct", String(20)), Column("target_pct", String(20)),
    Column("trail_pct", String(20)), Column("trail_activation_pct", String(20)),
    Column("slippage_bps", Integer, nullable=False, default=0),
    Column("paper", Boolean, nullable=False, default=True),
    Column("account_id", String(32)),                      # the broker account of a live link
    Column("enabled", Boolean, nullable=False, default=True),
    Column("version", Integer, nullable=False, default=1),
    Column("created_at_ms", BigInteger, nullable=False),
    # trading rules (README "Trading rules"; validated once, in webapp/links.py)
    Column("side", String(5), nullable=False, server_default="long"),
    Column("reverse", Boolean, nullable=False, server_default=false()),
    Column("reverse_on_sl", Boolean, nullable=False, server_default=false()),
    Column("max_entries", Integer, nullable=False, server_default="1"),
    Column("risk_pct", String(20)), Column("capital_paise", BigInteger),
    Column("max_open", Integer), Column("daily_loss_paise", BigInteger),
    Column("product", String(10), nullable=False, server_default="auto"),
    Column("paper_fill", String(20), nullable=False, server_default="full"),
    Column("tick_band_pct", String(20)),
    Column("eod", String(15), nullable=False, server_default="close-losers"),
    Column("fee_paise", Integer, nullable=False, server_default="0"),
    Column("breaker_reset_at_ms", BigInteger),
    # signal sources (README "Signal sources"): what posts to the link and when it may enter
    Column("kind", String(12), nullable=False, server_default="tradingview"),
    Column("scan_action", String(4)),                      # a chartink link's BUY or SELL
    Column("entry_window", String(11)),                    # "HH:MM-HH:MM" IST, or NULL
    Column("broker_stop", String(8), nullable=False, server_default="none"),   # none | gtt
    Column("option_shorts", Boolean, nullable=False, server_default=false()),
    Column("costs", String(12), nullable=False, server_default="none"),   # agents/costs.PLANS
    _owner(), UniqueConstraint("user_id", "name", name="uq_links_user_name"),
)

universes = Table(
    "universes", metadata,                                 # named lists of instruments
    Column("id", String(32), primary_key=True),
    Column("name", String(100), nullable=False),
    Column("symbols", JSON, nullable=False),               # ["NSE:SBIN-EQ", ...], as resolved
    Column("created_at_ms", BigInteger, nullable=False),
    _owner(), UniqueConstraint("user_id", "name", name="uq_universes_user_name"),
)

strategy_attachments = Table(
    "strategy_attachments", metadata,                      # a strategy running for a link
    Column("id", String(32), primary_key=True),
    Column("link_id", String(32), nullable=False, unique=True),   # one per link
    Column("name", String(40), nullable=False),
    Column("params", JSON, nullable=False),
    Column("timeframe", String(4), nullable=False),
    Column("symbols", JSON, nullable=False),               # as given, or the universe's
    Column("universe", String(100)),
    Column("tokens", JSON, nullable=False),
    Column("enabled", Boolean, nullable=False),
    Column("version", Integer, nullable=False),
    Column("created_at_ms", BigInteger, nullable=False),
    _owner(),
)

accounts = Table(
    "accounts", metadata,
    Column("id", String(32), primary_key=True),
    Column("name", String(100), nullable=False),
    Column("client_code", String(40), nullable=False),     # SmartAPI client code, Kite user id
    Column("broker", String(16), nullable=False, server_default="smartapi"),   # smartapi | kite
    Column("secrets", Text, nullable=False),    # Fernet token: API key and PIN, TOTP / secret
    Column("session", Text),                    # Fernet token: the day's access token (Kite)
    Column("created_at_ms", BigInteger, nullable=False),
    Column("max_open", Integer), Column("daily_loss_paise", BigInteger),
    Column("breaker_reset_at_ms", BigInteger),
    Column("version", Integer, nullable=False, server_default="1"),
    Column("health", Text),                                # the last login problem, or NULL
    Column("health_at_ms", BigInteger),
    _owner(), UniqueConstraint("user_id", "name", name="uq_accounts_user_name"),
)

bot_state = Table(
    "bot_state", metadata,
    Column("id", Integer, primary_key=True),
    Column("running", Boolean, nullable=False),
    Column("version", Integer, nullable=False),
    Column("at_ms", BigInteger, nullable=False),
)

alerts = Table(
    "alerts", metadata,
    Column("id", String(32), primary_key=True),
    Column("link_id", String(32), nullable=False, index=True),
    Column("received_at_ms", BigInteger, nullable=False),
    Column("action", String(20)), Column("symbol", String(60)), Column("exchange", String(10)),
    Column("token", String(20)), Column("strategy", String(100)),
    Column("quantity", Integer), Column("price_paise", BigInteger),
    Column("payload", JSON),
    Column("source", String(60), nullable=False, server_default="tradingview"),
    Column("status", String(20), nullable=False),          # RECEIVED | ACCEPTED | IGNORED
    Column("reason", Text),
    Column("position_id", String(32)),
    _owner(),
)

webhook_rejections = Table(
    "webhook_rejections", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at_ms", BigInteger, nullable=False),
    Column("link_id", String(32)),
    Column("status_code", Integer, nullable=False),
    Column("reason", Text, nullable=False),
    Column("client", String(64)),
    _owner(),
)

orders = Table(
    "orders", metadata,
    Column("client_order_id", String(20), primary_key=True),
    Column("position_id", String(32), nullable=False, index=True),
    Column("link_id", String(32), nullable=False),
    Column("purpose", String(10), nullable=False), Column("side", String(4), nullable=False),
    Column("quantity", Integer, nullable=False),
    Column("token", String(20)), Column("symbol", String(60)), Column("exchange", String(10)),
    Column("paper", Boolean), Column("order_type", String(20)),
    Column("reference_price_paise", BigInteger), Column("reason", String(40)),
    Column("created_at_ms", BigInteger, nullable=False),
    Column("status", String(20), nullable=False),   # SENT | PARTIAL | FILLED | REJECTED | PROTECTED
    Column("filled_qty", Integer, nullable=False, default=0),
    Column("text", Text),
    Column("product_type", String(12)),
    _owner(),
)

fills = Table(
    "fills", metadata,
    Column("fill_id", String(32), primary_key=True),
    Column("client_order_id", String(20), nullable=False, index=True),
    Column("position_id", String(32), nullable=False, index=True),
    Column("side", String(4)), Column("status", String(10), nullable=False),
    Column("quantity", Integer, nullable=False), Column("price_paise", BigInteger, nullable=False),
    Column("at_ms", BigInteger, nullable=False),
    Column("broker_order_id", String(40)), Column("text", Text),
)

positions = Table(
    "positions", metadata,
    Column("id", String(32), primary_key=True),
    Column("link_id", String(32), nullable=False, index=True),
    Column("token", String(20), nullable=False), Column("symbol", String(60)),
    Column("exchange", String(10)), Column("side", String(5), nullable=False),
    Column("state", String(10), nullable=False, index=True),
    Column("quantity", Integer), Column("entry_qty", Integer), Column("entry_value_paise", BigInteger),
    Column("exit_qty", Integer), Column("exit_value_paise", BigInteger),
    Column("best_paise", BigInteger), Column("stop", String(60)), Column("target", String(60)),
    Column("exit_reason", String(16)), Column("exit_trigger_paise", BigInteger),
    Column("exit_gap", String(60)), Column("realized_pnl_paise", BigInteger),
    Column("created_at_ms", BigInteger), Column("closed_at_ms", BigInteger),
    Column("version", Integer, nullable=False),
    Column("snapshot", JSON, nullable=False),               # the whole position, for restores
    Column("account_id", String(32)),
    Column("reverse_of", String(32)),                       # the position a reverse closed
    Column("entries", Integer), Column("product_type", String(12)),
    Column("fees_paise", BigInteger),
    _owner(),
)

position_events = Table(
    "position_events", metadata,
    Column("event_id", String(32), primary_key=True),
    Column("position_id", String(32), index=True),
    Column("link_id", String(32)),
    Column("kind", String(20), nullable=False),
    Column("at_ms", BigInteger, nullable=False),
    Column("state", String(10)), Column("reason", Text),
    # the position's levels at the event (its chart): stop and target exact, as stored
    Column("stop", String(60)), Column("target", String(60)), Column("best_paise", BigInteger),
    _owner(),
)

reconciliations = Table(
    "reconciliations", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at_ms", BigInteger, nullable=False),
    Column("restored", Integer, nullable=False),         # restore: positions sent back
    Column("detail", Text),
    Column("kind", String(10), nullable=False, server_default="restore"),   # restore | broker
    Column("account_id", String(32)), Column("user_id", String(32), index=True),
    Column("closed", Integer), Column("reported", Integer),   # broker: closed, lines to read
)

eod_reports = Table(
    "eod_reports", metadata,
    Column("day", String(10), primary_key=True),           # IST trading day, YYYY-MM-DD
    Column("position_id", String(32), primary_key=True),
    Column("kind", String(12), nullable=False),            # EOD | MIS_SQUAREOFF
    Column("link_id", String(32), nullable=False),
    Column("symbol", String(60)), Column("expiry", String(12)), Column("strike", String(20)),
    Column("side", String(5)), Column("quantity", Integer), Column("entry", String(30)),
    Column("last_paise", BigInteger), Column("pnl_paise", BigInteger),
    Column("decision", String(10), nullable=False),        # CLOSE | KEEP
    Column("at_ms", BigInteger, nullable=False),
    _owner(),
)

# each call to a broker's API, for its rate limits across processes and restarts
# (connectors/call_log.py); rows older than the longest window are pruned
broker_calls = Table(
    "broker_calls", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("broker", String(16), nullable=False),
    Column("client", String(40), nullable=False),          # client code, or the broker's user id
    Column("kind", String(16), nullable=False),            # order, book, ... (its limits)
    Column("at_ms", BigInteger, nullable=False),
    Index("ix_broker_calls_key", "broker", "client", "kind", "at_ms"),
)

# a trader's command on positions (close, close all, adjust) and who gave it from where; each
# partition's owner answers in command_results (webapp/commands.py, agents/trader_commands.py)
commands = Table(
    "commands", metadata,
    Column("id", String(32), primary_key=True),
    Column("kind", String(16), nullable=False),           # CLOSE | CLOSE_ALL | ADJUST
    Column("position_id", String(32)),
    Column("scope", Text),                                 # CLOSE_ALL: {"link_id"|"account_id"}
    Column("levels", Text),                                # ADJUST: manual.Levels as JSON
    Column("origin", String(16), nullable=False),          # dashboard | api | cli | telegram
    Column("actor", String(64), nullable=False),           # the username
    Column("at_ms", BigInteger, nullable=False),
    Column("answers", Integer, nullable=False),            # partitions that answer it
    _owner(),
)

command_results = Table(
    "command_results", metadata,
    Column("command_id", String(32), primary_key=True),
    Column("partition", Integer, primary_key=True),
    Column("at_ms", BigInteger, nullable=False),
    Column("outcome", String(12), nullable=False),
    Column("reason", Text),
    Column("detail", Text),                                # JSON: one entry per position
    _owner(),
)

Index("ix_positions_token_state", positions.c.token, positions.c.state)
MIGRATIONS = Path(__file__).parent / "migrations"


def engine(url: str) -> Engine:
    """An engine on a database upgraded to the newest migration."""
    eng = create_engine(url, future=True, pool_pre_ping=True)
    if eng.dialect.name == "sqlite" and eng.url.database not in (None, "", ":memory:"):
        Path(eng.url.database).parent.mkdir(parents=True, exist_ok=True)
    if eng.dialect.name == "sqlite":
        @event.listens_for(eng, "connect")
        def _sqlite_pragmas(conn, _record):  # several processes write the same file
            cur = conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA busy_timeout=10000")
            cur.close()
    upgrade(eng)
    return eng


def _alembic_config(connection):
    from alembic.config import Config
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


_MIGRATING = threading.Lock()   # alembic's migration context is one per process


def upgrade(eng: Engine, revision: str = "head") -> None:
    """Migrate to `revision`. A database made before migrations existed holds the baseline's
    tables without a version: it is stamped as the baseline first. One thread at a time: two
    threads opening engines at once would share alembic's context and both fail."""
    from alembic import command
    with _MIGRATING, eng.begin() as conn:
        config = _alembic_config(conn)
        tables = set(inspect(conn).get_table_names())
        if "links" in tables and "alembic_version" not in tables:
            command.stamp(config, "0001")
        command.upgrade(config, revision)


def record_health(conn, account_id: str, problem: str | None, at_ms: int) -> None:
    """An account login's outcome (problem None: it worked), unless a later one is recorded."""
    c = accounts.c
    conn.execute(accounts.update().where(c.id == account_id)
                 .where(c.health_at_ms.is_(None) | (c.health_at_ms <= at_ms))
                 .values(health=problem, health_at_ms=at_ms))


def upsert(conn, table: Table, row: dict, keys: list[str], *, only_if_newer: str | None = None,
           update: list[str] | None = None) -> None:
    """Insert, or update the given columns (default: all but the keys) of the existing row.
    With only_if_newer='version', an older snapshot never overwrites a newer one (replays)."""
    conn.execute(_upsert_statement(conn.dialect.name, table, tuple(row), tuple(keys),
                                   only_if_newer, tuple(update) if update is not None else None),
                 row)


@lru_cache(maxsize=512)
def _upsert_statement(dialect: str, table: Table, columns: tuple, keys: tuple,
                      only_if_newer: str | None, update: tuple | None):
    """One statement per shape, the row bound as parameters: compiled once, not per row (the
    ledger spent most of its time building and compiling a statement per row)."""
    stmt = {"sqlite": sqlite.insert, "postgresql": postgresql.insert}[dialect](table)
    cols = update if update is not None else [c for c in columns if c not in keys]
    if not cols:
        return stmt.on_conflict_do_nothing(index_elements=list(keys))
    where = table.c[only_if_newer] < stmt.excluded[only_if_newer] if only_if_newer else None
    return stmt.on_conflict_do_update(index_elements=list(keys),
                                      set_={c: stmt.excluded[c] for c in cols}, where=where)
