"""Webhook links, alerts and the bot switch: link add|set|show|list, alert, bot."""
from __future__ import annotations

import argparse
import json

import httpx

from pinewire.verbs.common import engine, me, publish, user_flag
from schemas.money import paise_to_rupees, signed_rupees
from schemas.settings import settings, webhook_token_key
from webapp import accounts, bots, links


def webhook_url(row: dict) -> str:
    token = links.webhook_token(webhook_token_key(settings()), row)
    if token is None:
        return "(sealed with an earlier session secret: pinewire link rotate gives a new one)"
    return f"{settings().base_url}/hook/{token}"


def alert_template(row: dict) -> str:
    if row["kind"] == "chartink":
        return "ChartInk's own (paste the webhook URL into the scan's alert)"
    return json.dumps({"strategy": row["strategy"], "symbol": "{{ticker}}",
                       "exchange": "{{exchange}}", "action": "{{strategy.order.action}}",
                       "price": "{{close}}", "time": "{{timenow}}"})


def _changes(a, user_id: str) -> dict:
    """The settings given on the command line, by setting name (validated in links.validate)."""
    changes = {setting: getattr(a, setting) for setting in links.FLAGS
               if setting != "account_id" and getattr(a, setting, None) is not None}
    for flag in ("reverse", "reverse_on_sl", "option_shorts", "paper", "enabled"):
        if getattr(a, flag, None) is not None:
            changes[flag] = getattr(a, flag)
    if getattr(a, "account", None) is not None:
        changes["account_id"] = _account_id(a.account, user_id)
    return changes


def _account_id(name: str, user_id: str) -> str | None:
    if name.strip().lower() in links.OFF:
        return None
    account = accounts.account_by_name(engine(), name, user_id)
    if account is None:
        raise accounts.AccountError(f"no account named {name!r} (pinewire account list)")
    return account["id"]


def my_link(a, name: str) -> dict:
    row = links.link_by_name(engine(), name, me(a)["id"])
    if row is None:
        raise links.LinkError("no link named {name!r} (see: pinewire link list)", name=name)
    return row


def cmd_link_add(a) -> int:
    user_id = me(a)["id"]
    row = links.add_link(engine(), name=a.name, strategy=a.strategy, user_id=user_id,
                         token_key=webhook_token_key(settings()), **_changes(a, user_id))
    publish("the link", links=[row])
    print(f"link {row['name']} created ({'paper' if row['paper'] else 'LIVE'})")
    print(f"webhook URL:   {webhook_url(row)}")
    print(f"alert message: {alert_template(row)}")
    return 0


def cmd_link_set(a) -> int:
    current = my_link(a, a.name)
    changes = _changes(a, current["user_id"])
    if not changes and a.strategy is None:
        raise links.LinkError("nothing to change: give at least one setting (see --help)")
    row = links.set_link(engine(), current["id"], user_id=current["user_id"],
                         strategy=a.strategy, **changes)
    publish("the change", links=[row])
    print(f"link {row['name']} updated (version {row['version']}); the webhook URL is unchanged")
    return 0


def describe(row: dict) -> list[tuple[str, str]]:
    """Every setting of a link, in words a trader reads (no 'None%')."""
    def percent(v, off="off"):
        return f"{v} %" if v is not None else off

    def rupees(v, off="none"):
        return paise_to_rupees(v) if v is not None else off
    sizing = (f"risk {row['risk_pct']} % of capital {rupees(row['capital_paise'])}"
              if row["risk_pct"] else f"{row['quantity']} per entry (lots for options)")
    source = f"chartink scan, every stock a {row['scan_action']}" \
        if row["kind"] == "chartink" else "tradingview (or any client of that shape)"
    return [
        ("strategy", row["strategy"]), ("signals", source),
        ("entry window", f"{row['entry_window']} IST" if row["entry_window"] else "any time"),
        ("mode", "paper" if row["paper"] else "LIVE"),
        ("account", row["account_id"] or "none"),
        ("broker-side stop", row["broker_stop"]),
        ("enabled", "yes" if row["enabled"] else "no"),
        ("quantity", sizing), ("stop-loss", percent(row["sl_pct"])),
        ("target", percent(row["target_pct"])), ("trailing stop", percent(row["trail_pct"])),
        ("trailing starts", percent(row["trail_activation_pct"], "at the trailing %")
         if row["trail_pct"] else "-"),
        ("side", row["side"]), ("option shorts", "on" if row["option_shorts"] else "off"),
        ("reverse", "on" if row["reverse"] else "off"),
        ("reverse on stop-loss", "on" if row["reverse_on_sl"] else "off"),
        ("max entries", str(row["max_entries"])),
        ("max open positions", str(row["max_open"] or "unlimited")),
        ("daily loss limit", rupees(row["daily_loss_paise"])),
        ("product", row["product"]), ("end of day", row["eod"]),
        ("bad-tick band", percent(row["tick_band_pct"])),
        ("paper fills", row["paper_fill"]), ("paper slippage", f"{row['slippage_bps']} bps"),
        ("fee per order", rupees(row["fee_paise"] or None, "0.00")),
        ("charges table", row["costs"]),
    ]


def cmd_link_show(a) -> int:
    from webapp import pnl
    row = my_link(a, a.name)
    print(f"link {row['name']} (id {row['id']}, version {row['version']})")
    for label, value in describe(row):
        print(f"  {label:<22}{value}")
    print(f"  {'webhook URL':<22}{webhook_url(row)}")
    scope = pnl.link_today(engine(), settings(), row)
    state = "TRIPPED: no new entries until tomorrow or `pinewire breaker reset`" \
        if scope.tripped else "ok"
    print(f"  {'today':<22}P&L {signed_rupees(scope.day_pnl_paise)}, "
          f"{scope.open_positions} open, breaker {state}")
    return 0


def cmd_link_list(a) -> int:
    rows = links.list_links(engine(), me(a)["id"])
    if not rows:
        print("no links yet: pinewire link add --name NAME --strategy STRATEGY --qty N")
    for r in rows:
        settings_ = dict(describe(r))
        state = "enabled" if r["enabled"] else "disabled"
        print(f"{r['name']:<16} {settings_['mode']:<5} {state:<8} "
              f"strategy={r['strategy']} qty={settings_['quantity']} sl={settings_['stop-loss']} "
              f"target={settings_['target']} trail={settings_['trailing stop']} side={r['side']}")
        if a.urls:
            print(f"{'':<16} {webhook_url(r)}")
    return 0


def cmd_alert(a) -> int:
    row = my_link(a, a.link)
    if row["kind"] == "chartink":     # the scan's shape; the link says BUY or SELL
        body = {"stocks": a.symbol, "trigger_prices": a.price or "", "scan_name": "pinewire"}
    else:
        body = {"strategy": row["strategy"], "symbol": a.symbol, "action": a.action}
        if a.price:
            body["price"] = a.price
    response = httpx.post(webhook_url(row), content=json.dumps(body), timeout=10)
    print(f"{response.status_code} {response.text}")
    return 0 if response.status_code == 200 else 1


def cmd_bot(a) -> int:
    """A user's bot, or with --all the admin's switch that stops every bot."""
    user = me(a)
    if a.all and not user["is_admin"]:
        raise links.LinkError("only the admin can stop or start every bot")
    if a.state != "status":
        row = bots.set_global(engine(), a.state == "on") if a.all else \
            bots.set_user_bot(engine(), user["id"], a.state == "on")
        publish("the bot state", bots=[row])
    switch = bots.global_switch(engine())["running"]
    own = bots.user_bot(engine(), user["id"])["running"]
    if a.all:
        print("every bot is", "allowed to run" if switch else "stopped (global switch off)")
    else:
        print(f"bot of {user['username']} is", "running" if own else "stopped",
              "" if switch else "(but every bot is stopped by the admin)")
    return 0


def _setting_flags(p: argparse.ArgumentParser, *, adding: bool) -> None:
    d = links.DEFAULTS
    p.add_argument("--qty", dest="quantity", required=adding,
                   help="quantity per entry (lots for options)")
    p.add_argument("--sl", dest="sl_pct", help="stop-loss, percent of the entry (0/off: none)")
    p.add_argument("--target", dest="target_pct", help="target, percent of the entry")
    p.add_argument("--trail", dest="trail_pct", help="trailing stop, percent below the best price")
    p.add_argument("--trail-activation", dest="trail_activation_pct",
                   help="percent in profit before trailing starts; 0: from the entry "
                        "(default: the trailing %%)")
    p.add_argument("--slippage-bps", dest="slippage_bps", help="paper fills' slippage (default 0)")
    p.add_argument("--side", help="the sides a signal may open: long, short or both (default "
                                  f"{d['side']}); a signal that closes is never refused")
    p.add_argument("--option-shorts", dest="option_shorts", default=None,
                   action=argparse.BooleanOptionalAction,
                   help="a SELL (SELL_CALL, SELL_PUT) may open a short option position "
                        "(default off; --side must allow short too)")
    p.add_argument("--reverse", action=argparse.BooleanOptionalAction, default=None,
                   help="an opposite signal closes, then opens the other side (default off)")
    p.add_argument("--reverse-on-sl", dest="reverse_on_sl", default=None,
                   action=argparse.BooleanOptionalAction,
                   help="a stop-loss exit opens the other side (default off)")
    p.add_argument("--max-entries", dest="max_entries",
                   help="pyramiding: same-side signals add entries up to N (default 1)")
    p.add_argument("--risk-pct", dest="risk_pct", help="size by risk: percent of --capital "
                                                       "lost at the stop (off: use --qty)")
    p.add_argument("--capital", dest="capital_paise", help="rupees, for --risk-pct")
    p.add_argument("--max-open", dest="max_open", help="open positions of this link at once "
                                                       "(default unlimited)")
    p.add_argument("--daily-loss", dest="daily_loss_paise", help="rupees lost today at which "
                                                                 "the link stops entering")
    p.add_argument("--product", help="auto, intraday or delivery (default auto)")
    p.add_argument("--paper-fill", dest="paper_fill", help="full or partial:F (default full)")
    p.add_argument("--tick-band", dest="tick_band_pct", help="bad-tick guard: hold a tick "
                                                             "jumping more than this percent")
    p.add_argument("--eod", help="close-losers, close-all or hold (default close-losers)")
    p.add_argument("--fee-paise", dest="fee_paise", help="charges per filled order, in paise")
    p.add_argument("--costs", help="charge each fill by a broker's table of brokerage and "
                                   f"taxes: {', '.join(links.COST_PLANS)} (default none)")
    p.add_argument("--kind", help="what posts to the link: tradingview (or any client of "
                                  "that shape) or chartink (default tradingview)")
    p.add_argument("--action", dest="scan_action", help="a chartink link's BUY or SELL for "
                                                         "every stock its scan names")
    p.add_argument("--broker-stop", dest="broker_stop",
                   help="gtt: a live position is also protected by the broker's own rule "
                        "(a GTT: stop and target on Kite, the stop on Angel One and Upstox), "
                        "moved with the trailing stop and cancelled when pinewire exits "
                        "first; none (default)")
    p.add_argument("--entry-window", dest="entry_window", help="HH:MM-HH:MM IST: enter only "
                                                               "then (off: any time)")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--live", dest="paper", action="store_false", default=None,
                      help="trade on the broker account")
    mode.add_argument("--paper", dest="paper", action="store_true", default=None,
                      help="trade on paper")
    p.add_argument("--account", help="the broker account (needed for --live; 'off' to clear)")


def register(sub) -> None:
    link = sub.add_parser("link", help="webhook links").add_subparsers(dest="link", required=True)
    add = link.add_parser("add", help="create a link and print its webhook URL")
    add.add_argument("--name", required=True)
    add.add_argument("--strategy", required=True, help="must match the alert's 'strategy'")
    _setting_flags(add, adding=True)
    user_flag(add)
    add.set_defaults(fn=cmd_link_add)
    set_ = link.add_parser("set", help="change a link's settings (same token)")
    set_.add_argument("name")
    set_.add_argument("--strategy")
    state = set_.add_mutually_exclusive_group()
    state.add_argument("--enable", dest="enabled", action="store_true", default=None)
    state.add_argument("--disable", dest="enabled", action="store_false", default=None)
    _setting_flags(set_, adding=False)
    user_flag(set_)
    set_.set_defaults(fn=cmd_link_set)
    show = link.add_parser("show", help="every setting of a link, today's P&L and breaker")
    show.add_argument("name")
    user_flag(show)
    show.set_defaults(fn=cmd_link_show)
    ls = link.add_parser("list", help="list links")
    ls.add_argument("--urls", action="store_true", help="also print each webhook URL")
    user_flag(ls)
    ls.set_defaults(fn=cmd_link_list)

    al = sub.add_parser("alert", help="send an alert to a link's webhook, as TradingView would")
    al.add_argument("link")
    al.add_argument("action", type=str.upper)
    al.add_argument("symbol")
    al.add_argument("--price", help="the price the alert carries (rupees)")
    user_flag(al)
    al.set_defaults(fn=cmd_alert)
    bot = sub.add_parser("bot", help="start or stop acting on a user's new alerts")
    bot.add_argument("state", choices=["on", "off", "status"])
    bot.add_argument("--all", action="store_true",
                     help="the admin's global switch: off stops every user's bot")
    user_flag(bot)
    bot.set_defaults(fn=cmd_bot)
