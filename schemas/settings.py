"""One settings object, read once from PINEWIRE_* environment variables (and an optional .env)."""
from __future__ import annotations

import base64
import hashlib
import secrets
from datetime import time
from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PINEWIRE_", env_file=".env", extra="ignore")

    data_dir: Path = Field(Path(".pinewire"), description="logs, SQLite ledger, worker state")
    namespace: str = Field("pinewire", description="topic prefix and the worker's consumer group")
    kafka_url: str | None = Field(None, description="external Kafka; unset: `pinewire up` "
                                  "starts the broker PINEWIRE_BROKER names")
    broker: str = Field("tansu", pattern="^(tansu|kafka)$", description="what `pinewire up` "
                        "starts when PINEWIRE_KAFKA_URL is unset: tansu (embedded, keeps "
                        "nothing) or kafka (one Apache Kafka node, data kept in data_dir/kafka)")
    broker_port: int = Field(19092, description="port of the broker `pinewire up` starts on "
                             "127.0.0.1 (Apache Kafka's controller takes the next one)")
    partitions: int = Field(8, ge=1, description="partitions of every pipeline topic")
    replication_factor: int = Field(1, ge=1, description="replicas of every topic pinewire and "
                                    "its workers create: 3 on a cluster of 3 brokers or more")
    database_url: str | None = Field(None, description="SQLAlchemy URL; unset: SQLite in data_dir")
    web_host: str = "127.0.0.1"
    web_port: int = 8000
    metrics_port: int = Field(9464, ge=0, description="a worker's /metrics on metrics_host (the "
                              "next free one when taken); 0: off")
    metrics_host: str = Field("127.0.0.1", description="the address a worker's /metrics listens "
                              "on: 0.0.0.0 where a scraper on another host or container reads it")
    web_workers: int = Field(1, ge=1, description="web app processes (all serve the same port "
                             "and produce to the same topics)")
    public_url: str | None = Field(None, description="base of webhook URLs shown to traders")
    dedupe_window_s: int = Field(10, ge=0, description="duplicate window for alerts without an id")
    own_id_dedupe_window_s: int = Field(86_400, ge=0)
    resend_after_ms: int = Field(10_000, ge=100, description="resend an unanswered order intent")
    orders_in_flight: int = Field(4, ge=1, le=32, description="orders of one broker account "
                                  "at its broker at once (a position's own orders one at a "
                                  "time, exits first; the broker's rate limits still hold)")
    reconcile_every_s: float = Field(60.0, gt=0, description="each live account's positions "
                                     "at the broker compared with pinewire's this often "
                                     "during the session (and at once when an order pinewire "
                                     "did not place fills)")
    market_hours: str = Field("09:15-15:30", pattern=r"^\d\d:\d\d-\d\d:\d\d$",
                              description="IST window in which live accounts are compared "
                                          "with their brokers and stalled ticks are priced "
                                          "over REST")
    stale_tick_s: float = Field(10.0, gt=0, description="an instrument with a live open "
                                "position and no tick for this long in market hours is priced "
                                "over REST (its broker's quote), and the rules run on that "
                                "price, as often while it lasts")
    exit_retry_first_s: float = Field(2.0, gt=0, description="a rejected exit is sent again "
                                      "(a new order) after this, then after twice as long "
                                      "each time, up to exit_retry_max_s")
    exit_retry_max_s: float = Field(60.0, gt=0, description="the slowest pace of exit retries")
    exit_failing_after: int = Field(3, ge=1, description="rejections after which a position "
                                    "is flagged 'exit failing' (dashboard, API, Telegram); "
                                    "its exit is still retried")
    fault_point: str | None = Field(None, description="rehearsals only: a worker reaching "
                                    "this named point (agents/faults.py) kills itself once")
    heartbeat_s: float = Field(2.0, gt=0)
    ledger_check_s: float = Field(30.0, ge=0, description="each worker compares the live "
                                  "positions of its partitions with the ledger this often and "
                                  "restores one its table lost in a handover (0: never)")
    worker_name: str | None = Field(None, description="a worker's stable name: its heartbeat's "
                                    "id, its state directory and, with static_membership, its "
                                    "Kafka group.instance.id; unset: host:pid")
    static_membership: bool = Field(True, description="a named worker joins its group as a "
                                    "static member (restarted within the session timeout, it "
                                    "gets its partitions back without a rebalance). Off on the "
                                    "embedded broker, whose coordinator forgets static members "
                                    "in a rebalance")
    table_store: str = Field("memory", pattern="^(memory|rocksdb)$", description="where a "
                             "worker keeps its tables: memory (read back from the changelogs "
                             "at every start) or rocksdb (on disk in data_dir/worker/<worker "
                             "name, or unnamed-N>: restarted after a clean stop, a worker "
                             "reads only the changelogs' tail; after a kill, all of them)")
    standby_replicas: int = Field(0, ge=0, description="hot copies of each table partition "
                                  "kept by other workers, ready for a takeover")
    session_timeout_s: float = Field(6.0, gt=0, description="Kafka group session timeout")
    commit_interval_s: float = Field(1.0, gt=0, description="how often a worker commits its "
                                     "offsets (a backtest commits more often, to settle sooner)")
    fetch_wait_ms: int = Field(20, ge=1, le=1500, description="longest a worker's fetch waits "
                               "for new records (each pipeline hop can pay it)")
    ledger_nice: int = Field(10, ge=0, le=19, description="the ledger process's CPU niceness: "
                             "on a shared host it yields to the gateway and the workers, and "
                             "catches up after a burst")
    feed: str = Field("synthetic", pattern="^(synthetic|smartapi|kite|upstox|none)$",
                      description="tick feed: synthetic, smartapi, kite or upstox (live, from "
                                  "PINEWIRE_FEED_ACCOUNT), or none")
    feed_rate: float = Field(4.0, gt=0, description="synthetic ticks per second per instrument")
    feed_volatility_bps: float = Field(4.0, ge=0, description="synthetic per-tick std dev, bps")
    feed_seed: int = 7
    feed_watchlist: str = Field("RELIANCE,SBIN,INFY,TCS,HDFCBANK",
                                description="symbols the synthetic feed always streams")
    log_level: str = "INFO"
    secret_key: str | None = Field(None, description="Fernet key encrypting broker credentials")
    smartapi_root: str = "https://apiconnect.angelone.in"
    smartapi_ws_url: str = "wss://smartapisocket.angelone.in/smart-stream"
    smartapi_order_ws_url: str = "wss://tns.angelone.in/smart-order-update"
    smartapi_timeout_s: float = Field(7.0, gt=0, description="REST timeout of the SDK")
    broker_stop_every_s: float = Field(10.0, gt=0, description="a broker-side stop rule (a "
                                       "link's --broker-stop) moves with the trailing stop at "
                                       "most this often")
    broker_stop_fill_wait_s: float = Field(15.0, gt=0, description="a broker-side stop rule "
                                           "that fired before pinewire's exit: if its order "
                                           "has not filled by then, pinewire cancels it and "
                                           "exits itself (at once if it ended unfilled)")
    kite_root: str = "https://api.kite.trade"
    kite_ws_url: str = "wss://ws.kite.trade"
    kite_login_url: str = "https://kite.zerodha.com/connect/login"
    kite_timeout_s: float = Field(7.0, gt=0, description="REST timeout of the kiteconnect SDK")
    upstox_root: str = "https://api.upstox.com"
    upstox_instruments_url: str = \
        "https://assets.upstox.com/market-quote/instruments/exchange/complete.json.gz"
    upstox_timeout_s: float = Field(7.0, gt=0, description="REST timeout of the Upstox SDK")
    feed_account: str | None = Field(None, description="account whose market data the feed "
                                                       "streams when PINEWIRE_FEED names a "
                                                       "broker (an account of that broker)")
    instrument_master: str | None = Field(None, description="OpenAPIScripMaster.json path or URL")
    paper_price_max_age_ms: int = Field(2000, ge=0, description="a paper entry fills at the last "
                                        "tick when it is at most this old")
    paper_fill_timeout_s: float = Field(30.0, gt=0, description="a resting paper order with no "
                                        "tick by then fills at the alert's price or is rejected")
    mis_squareoff: time = Field(time(15, 15), description="IST time intraday positions close")
    eod_time: time = Field(time(15, 29), description="IST time of the end-of-day routine")
    eod_on_time: bool = Field(True, description="the workers sweep at MIS_SQUAREOFF and "
                              "EOD_TIME by the clock; off for replays of the past (backtests) "
                              "and test runs, which send sweeps with `pinewire eod run --at`")
    extra_holidays: str = Field("", description="YYYY-MM-DD dates, comma-separated, that are "
                                "not trading days besides the NSE calendar")
    registration: str = Field("closed", pattern="^(open|closed)$",
                              description="closed: the admin adds users (the first user "
                                          "registers with the setup code `pinewire up` "
                                          "prints); open: anyone may register")
    candles_on_time: bool = Field(True, description="close a candle when the clock passes "
                                  "its window's end, even without a tick; off for replays of "
                                  "the past (backtests), where only ticks move the time")
    telegram_api: str = Field("https://api.telegram.org", description="base URL of the "
                              "Telegram Bot API that notifications go through")
    session_secret: str | None = Field(None, description="signs dashboard sessions; unset: a "
                                       "random one kept in the data dir")

    @property
    def bootstrap(self) -> str:
        return self.kafka_url or f"127.0.0.1:{self.broker_port}"

    @property
    def embedded_broker(self) -> bool:
        return not self.kafka_url

    @property
    def sql_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'pinewire.db').resolve()}"

    @property
    def base_url(self) -> str:
        return (self.public_url or f"http://{self.web_host}:{self.web_port}").rstrip("/")


def session_secret(settings: Settings) -> str:
    """PINEWIRE_SESSION_SECRET, or a random one made once and kept in the data dir."""
    if settings.session_secret:
        return settings.session_secret
    path: Path = settings.data_dir / "session.key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
    return path.read_text().strip()


def webhook_token_key(settings: Settings) -> bytes:
    """The Fernet key that seals webhook tokens at rest (the owner's page shows their URL):
    derived from the session secret, the same on every web process and host."""
    digest = hashlib.sha256(b"pinewire webhook tokens\0" + session_secret(settings).encode())
    return base64.urlsafe_b64encode(digest.digest())


@lru_cache(maxsize=1)
def settings() -> Settings:
    """Read once; creates nothing (what writes into data_dir makes the folders it needs)."""
    return Settings()
