"""What the verbs share: the settings, one SQL engine per process, topics, publishing."""
from __future__ import annotations

import asyncio
import functools
import sys

from connectors import kafka
from schemas import sql
from schemas.settings import settings
from webapp import users
from webapp.publish import publish_settings


@functools.lru_cache(maxsize=1)
def engine():
    return sql.engine(settings().sql_url)


def ensure_topics() -> None:
    """Every long-running part creates the pipeline's topics (the changelogs too) if they are
    missing (idempotent), and starts only once its metadata shows them all whole."""
    s = settings()
    asyncio.run(kafka.wait_for_broker(s.bootstrap, 60))
    asyncio.run(kafka.create_topics(s.bootstrap, s.namespace, s.partitions,
                                    s.replication_factor))
    asyncio.run(kafka.until_topics_complete(s.bootstrap, s.namespace, s.partitions))


def publish(what: str, **records) -> None:
    """Settings are saved in SQL first; the workers learn them from their topics. Without Kafka
    the change waits for the next `pinewire up`, which publishes everything."""
    s = settings()
    try:
        asyncio.run(asyncio.wait_for(publish_settings(s, **records), 10))
    except Exception:  # noqa: BLE001
        print(f"note: Kafka at {s.bootstrap} is not reachable; {what} is saved and reaches "
              "the workers when the pipeline starts", file=sys.stderr)


def user_flag(parser) -> None:
    parser.add_argument("--user", help="act for this user (default: the admin)")


def me(a) -> dict:
    """The user a verb acts for: --user NAME, or the admin (created on a new data dir)."""
    return users.acting_user(engine(), getattr(a, "user", None),
                             say=lambda text: print(f"note: {text}", file=sys.stderr))


def progress(done: int, total: int, label: str = "") -> None:
    """A bar on the terminal (nothing when stderr is not one)."""
    if sys.stderr.isatty():
        filled = 30 * done // total
        print(f"\r{label} [{'#' * filled}{'.' * (30 - filled)}] {done}/{total}", end="",
              file=sys.stderr, flush=True)
        if done == total:
            print(file=sys.stderr)
