"""What the workers follow, written to the compacted topics: link and account settings (never
tokens or credentials) and the bot switches. SQL stays the source of truth; after a broker
restart everything is published again from it."""
from __future__ import annotations

from sqlalchemy import Engine

from connectors import kafka
from schemas import topics as registry
from schemas.records import AccountConfig, BotState, LinkConfig
from schemas.settings import Settings
from webapp import bots
from webapp.accounts import account_rows
from webapp.links import DEFAULTS, list_links
from webapp.strategies import attachments, record as strategy_record

GLOBAL_BOT_KEY = "bot"   # the admin's kill switch; a user's bot is keyed by the user id


def link_record(row: dict) -> LinkConfig:
    return LinkConfig(link_id=row["id"], name=row["name"], strategy=row["strategy"],
                      version=row["version"], breaker_reset_at_ms=row.get("breaker_reset_at_ms"),
                      user_id=row.get("user_id"), token_hash=row.get("token_hash"),
                      **{k: row[k] for k in DEFAULTS})


def account_record(row: dict) -> AccountConfig:
    return AccountConfig(account_id=row["id"], name=row["name"], version=row["version"],
                         max_open=row.get("max_open"), daily_loss_paise=row.get("daily_loss_paise"),
                         breaker_reset_at_ms=row.get("breaker_reset_at_ms"),
                         user_id=row.get("user_id"))


def bot_record(row: dict) -> BotState:
    return BotState(running=row["running"], version=row["version"], at_ms=row["at_ms"],
                    user_id=row.get("user_id"))


async def publish(bootstrap: str, namespace: str, *, links: list[dict] = (),
                  accounts: list[dict] = (), bots: list[dict] = (),
                  strategies: list[dict] = ()) -> None:
    """bots: rows of bots.global_switch (no user_id) or bots.user_bot."""
    async with kafka.producing(bootstrap) as prod:
        async def send(spec, key: str, record) -> None:
            await prod.send_and_wait(registry.topic_name(namespace, spec), kafka.encode(record),
                                     key=key.encode())
        for row in links:
            await send(registry.LINKS, row["id"], link_record(row))
        for row in accounts:
            await send(registry.ACCOUNTS, row["id"], account_record(row))
        for row in bots:
            await send(registry.BOT, row.get("user_id") or GLOBAL_BOT_KEY, bot_record(row))
        for row in strategies:
            await send(registry.STRATEGIES, row["id"], strategy_record(row))


async def publish_settings(settings: Settings, **records) -> None:
    """publish() from the CLI or the dashboard, the pipeline's topics made first when missing:
    a settings topic made by the first record sent to it would take the broker's defaults
    (another partition count, not compacted), and no worker would start on it."""
    await kafka.create_topics(settings.bootstrap, settings.namespace, settings.partitions,
                              settings.replication_factor)
    await publish(settings.bootstrap, settings.namespace, **records)


async def publish_everything(eng: Engine, bootstrap: str, namespace: str) -> None:
    """After a broker restart the compacted topics are empty: rebuild them from SQL."""
    await publish(bootstrap, namespace, links=list_links(eng), accounts=account_rows(eng),
                  bots=[bots.global_switch(eng), *bots.all_user_bots(eng)],
                  strategies=attachments(eng))
