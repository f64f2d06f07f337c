"""The trader's commands in Telegram, through the bot of their Telegram setting and only from
the chat they registered with it (any other chat gets no answer; it is logged):

/status, /positions, /pnl [YYYY-MM-DD], /close SYMBOL|ID, /closeall (answered with a code to
send back within a minute), /bot on|off, /help.

Closing goes the one way every close goes (webapp/commands.py, origin "telegram"). A message
that waited while pinewire was not reading (older than STALE_S) is not acted on: the trader is
asked to send it again. Runs in the ledger process, beside the notifier, one poll per bot.
"""
from __future__ import annotations

import asyncio
import logging
import secrets
import time
from datetime import date

from sqlalchemy import Engine, select

from connectors import credentials
from connectors.telegram import Chat, Inbox, Outbox
from schemas import sql
from schemas.money import signed_rupees
from schemas.settings import Settings
from webapp import bots, commands, pnl, queries, users
from webapp.live import position_view
from webapp.publish import publish_settings

log = logging.getLogger("pinewire.telegram")
CONFIRM_S = 60          # a /closeall code is good this long
STALE_S = 120           # an older message is not acted on
REFRESH_S = 5.0         # the registered bots and chats are read again this often
HELP = ("/status — bot, feed, open positions, today's P&L\n"
        "/positions — open positions\n"
        "/pnl [YYYY-MM-DD] — the day's P&L\n"
        "/close SYMBOL or ID — close one position at market\n"
        "/closeall — close every open position (asks for a code first)\n"
        "/bot on | /bot off — start or stop your bot\n"
        "/help — this list")


def registered(eng: Engine, secret_key: str | None) -> dict[str, dict[str, str]]:
    """bot token -> {chat id -> user id}, from every user's Telegram setting."""
    chats: dict[str, dict[str, str]] = {}
    with eng.connect() as conn:
        rows = conn.execute(select(sql.notify_settings)).all()
    for row in rows:
        try:
            token, chat_id = credentials.open_telegram(secret_key, row.telegram)
        except credentials.AccountError as exc:
            log.warning("no Telegram commands for user %s: %s", row.user_id, exc)
            continue
        chats.setdefault(token, {})[str(chat_id)] = row.user_id
    return chats


class TelegramCommands:
    def __init__(self, eng: Engine, settings: Settings, outbox: Outbox):
        self.engine, self.settings, self.outbox = eng, settings, outbox
        self.chats: dict[str, dict[str, str]] = {}
        self.codes: dict[str, tuple[str, float]] = {}      # chat id -> (code, good until)
        self.inbox = Inbox(settings.telegram_api, self.on_message)

    async def run(self) -> None:
        """Follow the registered bots until cancelled."""
        try:
            while True:
                self.chats = await asyncio.to_thread(registered, self.engine,
                                                     self.settings.secret_key)
                self.inbox.follow(set(self.chats))
                await asyncio.sleep(REFRESH_S)    # a refresh's pace
        finally:
            await self.inbox.close()

    async def on_message(self, bot_token: str, message: dict) -> None:
        chat_id = str((message.get("chat") or {}).get("id"))
        user_id = self.chats.get(bot_token, {}).get(chat_id)
        if user_id is None:
            log.info("a Telegram message from chat %s, which no user registered with this bot, "
                     "ignored", chat_id)
            return
        age = time.time() - int(message.get("date") or 0)
        if age > STALE_S:
            reply = (f"That message waited {age / 60:.0f} min while pinewire was not reading: "
                     "nothing done. Send it again if you still mean it.")
        else:
            user = await asyncio.to_thread(users.user_by_id, self.engine, user_id)
            reply = await self.answer(user, chat_id, str(message.get("text") or ""))
        self.outbox.post(Chat(bot_token, chat_id), reply)

    async def answer(self, user: dict, chat_id: str, text: str) -> str:
        words = text.split()
        verb = words[0].split("@")[0].lower() if words else ""
        args = words[1:]
        if verb in ("/help", "/start"):
            return HELP
        if verb == "/status":
            return await self._status(user)
        if verb == "/positions":
            return await self._positions(user)
        if verb == "/pnl":
            return await self._pnl(user, args)
        if verb == "/close" and len(args) == 1:
            return await self._close(user, args[0])
        if verb == "/closeall":
            return await self._close_all(user, chat_id, args)
        if verb == "/bot" and args and args[0].lower() in ("on", "off"):
            return await self._bot(user, args[0].lower() == "on")
        return f"I do not know {text.strip()[:40]!r}.\n{HELP}"

    async def _status(self, user: dict) -> str:
        own = await asyncio.to_thread(bots.user_bot, self.engine, user["id"])
        everyone = await asyncio.to_thread(bots.global_switch, self.engine)
        day = await asyncio.to_thread(pnl.report, self.engine, self.settings, pnl.today(),
                                      user["id"])
        beats = await asyncio.to_thread(pnl.heartbeats, self.settings)
        ticks = [b["last_tick_ms"] for b in beats if b.get("last_tick_ms")]
        feed = f"last tick {max(0, time.time() - max(ticks) / 1000):.0f} s ago" if ticks \
            else "no ticks yet"
        running = own["running"] and everyone["running"]
        bot = "running" if running else "stopped" + ("" if own["running"] else " (yours)")
        t = day["total"]
        return (f"Bot {bot}. Feed: {feed}. Open positions: {t['open']}.\n"
                f"Today: realized {signed_rupees(t['realized_paise'])}, unrealized "
                f"{signed_rupees(t['unrealized_paise'])}, fees {signed_rupees(t['fees_paise'])}.")

    async def _positions(self, user: dict) -> str:
        rows = await asyncio.to_thread(queries.positions, self.engine, user["id"], "open")
        if not rows:
            return "No open positions."
        prices = await asyncio.to_thread(pnl.last_prices, self.settings)
        lines = []
        for row in rows:
            v = position_view(row, prices)
            lines.append(f"{v['side']} {v['symbol']} {v['quantity']} @ {v['entry'] or '—'}, "
                         f"last {v['last'] or '—'}, P&L {v['unrealized'] or '—'} "
                         f"({v['state']}; id {v['id']})")
        return "\n".join(lines)

    async def _pnl(self, user: dict, args: list[str]) -> str:
        try:
            day = date.fromisoformat(args[0]) if args else pnl.today()
        except ValueError:
            return "Give the day as YYYY-MM-DD, e.g. /pnl 2026-12-04."
        report = await asyncio.to_thread(pnl.report, self.engine, self.settings, day,
                                         user["id"])
        t = report["total"]
        net = t["realized_paise"] + t["unrealized_paise"] - t["fees_paise"]
        lines = [f"P&L {day}: net {signed_rupees(net)} (realized "
                 f"{signed_rupees(t['realized_paise'])}, unrealized "
                 f"{signed_rupees(t['unrealized_paise'])}, fees {signed_rupees(t['fees_paise'])}"
                 f"), {len(report['positions'])} position(s); {pnl.trades_words(t)}"]
        lines += [f"{name}: realized {signed_rupees(x['realized_paise'])}, unrealized "
                  f"{signed_rupees(x['unrealized_paise'])}; {pnl.trades_words(x)}"
                  for name, x in report["links"].items()]
        return "\n".join(lines)

    async def _close(self, user: dict, which: str) -> str:
        rows = await asyncio.to_thread(queries.positions, self.engine, user["id"], "open")
        name = which.upper().removesuffix("-EQ")
        found = [r for r in rows if r["id"] == which] or \
            [r for r in rows if r["symbol"].upper().removesuffix("-EQ") == name]
        if not found:
            return f"No open position {which}. /positions lists them."
        if len(found) > 1:
            return (f"{len(found)} open positions on {which}: send /close with one id: " +
                    ", ".join(r["id"] for r in found))
        return await self._run(user, "CLOSE", position_id=found[0]["id"])

    async def _close_all(self, user: dict, chat_id: str, args: list[str]) -> str:
        if not args:
            rows = await asyncio.to_thread(queries.positions, self.engine, user["id"], "open")
            if not rows:
                return "No open positions."
            code = f"{secrets.randbelow(9000) + 1000}"
            self.codes[chat_id] = (code, time.monotonic() + CONFIRM_S)
            return (f"Close all {len(rows)} open position(s) at market? Send /closeall {code} "
                    f"within {CONFIRM_S} s.")
        code, until = self.codes.get(chat_id, ("", 0.0))
        if args[0] != code or time.monotonic() > until:
            return "That code is wrong or too old: nothing closed. Send /closeall for a new one."
        del self.codes[chat_id]
        return await self._run(user, "CLOSE_ALL", scope={})

    async def _run(self, user: dict, kind: str, **what) -> str:
        try:
            return commands.summary(await commands.run(self.engine, self.settings, user, kind,
                                                       origin="telegram", **what))
        except commands.NotSent as exc:
            return f"Not sent: {exc}."

    async def _bot(self, user: dict, running: bool) -> str:
        row = await asyncio.to_thread(bots.set_user_bot, self.engine, user["id"], running)
        await publish_settings(self.settings, bots=[row])
        await asyncio.to_thread(queries.user_log, self.engine, user["id"],
                                f"bot {'started' if running else 'stopped'} from Telegram")
        return "Your bot is running: alerts open positions again." if running else \
            "Your bot is stopped: alerts open nothing new; exits, closes and stops go on."
