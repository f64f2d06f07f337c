"""Telegram notifications: notify set|show|off|test."""
from __future__ import annotations

import argparse
import asyncio
import getpass

from connectors import telegram
from pinewire.verbs.common import engine, me, user_flag
from schemas.settings import settings
from webapp import notifications


def cmd_notify_set(a) -> int:
    user = me(a)
    if a.bot_token is None and a.chat_id is None:
        if a.ignored is None:
            raise telegram.TelegramError("nothing to change: give --chat-id (the bot token is "
                                         "asked for) or --ignored/--no-ignored")
        if not notifications.set_alert_ignored(engine(), user["id"], a.ignored):
            raise telegram.TelegramError("no Telegram chat set yet: give --chat-id first")
    else:
        if a.chat_id is None:
            raise telegram.TelegramError("--chat-id is required with a bot token")
        token = a.bot_token if a.bot_token is not None else getpass.getpass("bot token: ")
        notifications.set_telegram(engine(), settings().secret_key, user["id"], bot_token=token,
                                   chat_id=a.chat_id, alert_ignored=bool(a.ignored))
    print(f"Telegram messages for {user['username']} saved (the notifier uses them within "
          "30 s); send one now: pinewire notify test")
    return 0


def cmd_notify_show(a) -> int:
    user = me(a)
    found = notifications.telegram_of(engine(), settings().secret_key, user["id"])
    if found is None:
        print(f"no Telegram messages for {user['username']}: pinewire notify set --chat-id ID")
        return 0
    _, chat_id, ignored = found
    print(f"Telegram chat {chat_id}; ignored alerts {'sent' if ignored else 'not sent'}")
    return 0


def cmd_notify_off(a) -> int:
    user = me(a)
    gone = notifications.telegram_off(engine(), user["id"])
    print(f"Telegram messages for {user['username']} {'off' if gone else 'were not set'}")
    return 0


def cmd_notify_test(a) -> int:
    user = me(a)
    found = notifications.telegram_of(engine(), settings().secret_key, user["id"])
    if found is None:
        raise telegram.TelegramError("no Telegram chat set: pinewire notify set --chat-id ID")
    print(asyncio.run(notifications.send_test(settings(), user, found)))
    return 0


def register(sub) -> None:
    notify = sub.add_parser("notify", help="Telegram messages").add_subparsers(dest="notify",
                                                                               required=True)
    set_ = notify.add_parser("set", help="the bot token (asked for) and chat id")
    set_.add_argument("--chat-id", dest="chat_id", help="the chat the bot writes to")
    set_.add_argument("--bot-token", dest="bot_token",
                      help="BotFather's token (asked for when not given: it stays off the "
                           "shell history)")
    set_.add_argument("--ignored", action=argparse.BooleanOptionalAction, default=None,
                      help="also send alerts ignored for a reason other than a duplicate "
                           "(default off)")
    for name, fn, text in (("set", cmd_notify_set, None),
                           ("show", cmd_notify_show, "the chat and what is sent"),
                           ("off", cmd_notify_off, "send no more messages"),
                           ("test", cmd_notify_test, "send a test message now")):
        parser = set_ if name == "set" else notify.add_parser(name, help=text)
        user_flag(parser)
        parser.set_defaults(fn=fn)
