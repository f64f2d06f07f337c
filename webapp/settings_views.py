"""A signed-in user's strategies, universes and Telegram settings, shared by the pages and the
JSON API: ownership checked here, validation in webapp/strategies.py and
connectors/credentials.py (the CLI's too), changes published for the workers."""
from __future__ import annotations

from agents.strategies.shipped import STRATEGIES
from connectors import telegram
from webapp import notifications, strategies
from webapp.views import NotFound, _publish, db, my_link, my_links

STRATEGY_NAMES = tuple(STRATEGIES)


def attachment_view(row: dict, link_names: dict[str, str]) -> dict:
    return {"link_id": row["link_id"], "link": link_names.get(row["link_id"], row["link_id"]),
            "name": row["name"], "params": row["params"], "timeframe": row["timeframe"],
            "symbols": list(row["symbols"]), "universe": row["universe"],
            "version": row["version"]}


async def my_attachments(state, user: dict) -> list[dict]:
    names = {link["id"]: link["name"] for link in await my_links(state, user)}
    rows = await db(strategies.attachments, state.engine, user["id"])
    return [attachment_view(r, names) for r in sorted(rows, key=lambda r: names.get(r["link_id"],
                                                                                   ""))]


async def attach(state, user: dict, link_id: str, name: str, params: dict,
                 symbols: list[str] | None, universe: str | None) -> dict:
    """Attach (or replace) the strategy of one of the user's links."""
    link = await my_link(state, user, link_id)
    row = await db(strategies.attach, state.engine, state.catalog, link, name=name,
                   params=params, symbols=symbols, universe_name=universe)
    await _publish(state, strategies=[row])
    return attachment_view(row, {link["id"]: link["name"]})


async def detach(state, user: dict, link_id: str) -> dict:
    link = await my_link(state, user, link_id)
    row = await db(strategies.detach, state.engine, link)
    if row is None:
        raise NotFound("that link has no strategy attached")
    await _publish(state, strategies=[row])
    return attachment_view(row, {link["id"]: link["name"]})


async def my_universes(state, user: dict) -> list[dict]:
    return [{"name": r["name"], "symbols": list(r["symbols"])}
            for r in await db(strategies.universes, state.engine, user["id"])]


async def add_universe(state, user: dict, name: str, symbols: list[str]) -> dict:
    row = await db(strategies.add_universe, state.engine, state.catalog, name=name,
                   symbols=symbols, user_id=user["id"])
    return {"name": row["name"], "symbols": list(row["symbols"])}


async def telegram_view(state, user: dict) -> dict | None:
    """The user's Telegram setting without its bot token (never shown again), or None."""
    found = await db(notifications.telegram_of, state.engine, state.settings.secret_key,
                     user["id"])
    return None if found is None else {"chat_id": found[1], "alert_ignored": found[2]}


async def set_telegram(state, user: dict, bot_token: str | None, chat_id: str | None,
                       alert_ignored: bool) -> dict:
    """A new bot token and chat id, or (both left empty) only whether ignored alerts are sent."""
    if not bot_token and not chat_id:
        if not await db(notifications.set_alert_ignored, state.engine, user["id"],
                        alert_ignored):
            raise telegram.TelegramError("no Telegram chat set yet: give the bot token and "
                                         "the chat id")
    elif not bot_token or not chat_id:
        raise telegram.TelegramError("give both the bot token and the chat id")
    else:
        await db(notifications.set_telegram, state.engine, state.settings.secret_key,
                 user["id"], bot_token=bot_token, chat_id=chat_id, alert_ignored=alert_ignored)
    return await telegram_view(state, user)


async def telegram_off(state, user: dict) -> bool:
    return await db(notifications.telegram_off, state.engine, user["id"])


async def telegram_test(state, user: dict) -> str:
    """Send the user a test message now; what happened, in words."""
    found = await db(notifications.telegram_of, state.engine, state.settings.secret_key,
                     user["id"])
    if found is None:
        raise telegram.TelegramError("no Telegram chat set yet")
    return await notifications.send_test(state.settings, user, found)

