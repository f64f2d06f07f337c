"""Broker accounts: account add|list|set|login, secret-key."""
from __future__ import annotations

import asyncio
import getpass
import sys
import webbrowser
from datetime import datetime

from connectors import credentials
from pinewire.verbs.common import engine, me, publish, user_flag
from schemas.market_time import IST
from schemas.money import paise_to_rupees
from schemas.settings import settings
from webapp import accounts


def _secret(value: str | None, prompt: str) -> str:
    return value if value is not None else getpass.getpass(f"{prompt}: ")


def _asked(broker: str, a=None) -> dict:
    """The account's secrets, from the flags (of `a`, if given) or asked for: prompts keep
    them out of shell history."""
    def given(flag: str) -> str | None:
        return getattr(a, flag, None)
    if broker in credentials.LOGIN_PAGE_BROKERS:
        app = {"api_key": _secret(given("api_key"), "API key"),
               "api_secret": _secret(given("api_secret"), "API secret")}
        if broker == "upstox":
            app["redirect_uri"] = given("redirect_uri") or input("Redirect URI of the app: ")
        return app
    return {"api_key": _secret(given("api_key"), "API key"), "pin": _secret(given("pin"), "PIN"),
            "totp_secret": _secret(given("totp_secret"), "TOTP secret (base32)")}


def cmd_account_add(a) -> int:
    row = accounts.add_account(engine(), settings().secret_key, name=a.name,
                               client_code=a.client_code, broker=a.broker,
                               user_id=me(a)["id"], **_asked(a.broker, a))
    publish("the account", accounts=[row])
    print(f"account {row['name']} ({row['broker']} {row['client_code']}) saved; credentials "
          "encrypted")
    if row["broker"] in credentials.LOGIN_PAGE_BROKERS:
        print(f"log in every trading day: pinewire account login {row['name']}")
    return 0


def cmd_account_login(a) -> int:
    """The daily login of a Kite or Upstox account: the broker's login page, then the code its
    redirect carries."""
    from connectors import live
    s = settings()
    account = my_account(a, a.name)
    pasted = a.request_token
    if pasted is None:
        url = accounts.login_page(engine(), s, account["id"])
        print(f"log in at:\n  {url}\nthen paste the address the login sends you to (or the "
              "code in it):", flush=True)
        if a.open:
            webbrowser.open(url)
        pasted = sys.stdin.readline()
    row, ends_ms = accounts.complete_login(engine(), s, account["id"], pasted)
    publish("the new session", accounts=[row])
    ok, words = asyncio.run(live.probe(credentials.load(engine(), s.secret_key, account["id"]),
                                       s))
    until = datetime.fromtimestamp(ends_ms / 1000, IST)
    print(f"{a.name}: {words}; the session lasts until {until:%H:%M} IST on {until:%d %b}")
    return 0 if ok else 1


def cmd_account_list(a) -> int:
    rows = accounts.account_rows(engine(), me(a)["id"])
    if not rows:
        print("no accounts yet: pinewire account add --name NAME --client-code CODE")
    for r in rows:
        loss = paise_to_rupees(r["daily_loss_paise"]) if r["daily_loss_paise"] else "none"
        print(f"{r['name']:<16} {r['broker']:<9} {r['client_code']:<12} "
              f"max open {r['max_open'] or 'unlimited'}, "
              f"daily loss limit {loss}; {r['health'] or 'no login problem reported'}")
    return 0


def cmd_account_set(a) -> int:
    limits = {k: v for k, v in (("max_open", a.max_open), ("daily_loss_paise", a.daily_loss))
              if v is not None}
    if not limits and not a.credentials:
        raise accounts.AccountError("nothing to change: give --max-open, --daily-loss or "
                                    "--credentials")
    account = my_account(a, a.name)
    new = _asked(account["broker"]) if a.credentials else None
    row = accounts.set_account(engine(), account["id"], user_id=account["user_id"],
                               credentials=new, secret_key=settings().secret_key, **limits)
    publish("the change", accounts=[row])
    print(f"account {row['name']} updated: these limits apply across its links")
    return 0


def my_account(a, name: str) -> dict:
    account = accounts.account_by_name(engine(), name, me(a)["id"])
    if account is None:
        raise accounts.AccountError(f"no account named {name!r} (pinewire account list)")
    return account


def cmd_secret_key(a) -> int:
    print(credentials.new_key())
    return 0


def register(sub) -> None:
    acc = sub.add_parser("account", help="broker accounts").add_subparsers(dest="account",
                                                                           required=True)
    aa = acc.add_parser("add", help="save an Angel One, Zerodha Kite or Upstox account; "
                                    "credentials are encrypted")
    aa.add_argument("--name", required=True)
    aa.add_argument("--broker", choices=credentials.BROKERS, default="smartapi")
    aa.add_argument("--client-code", required=True,
                    help="Angel One client code; Kite or Upstox user id")
    aa.add_argument("--api-key", help="prompted for when omitted (keeps it out of shell history)")
    aa.add_argument("--pin", help="SmartAPI; prompted for when omitted")
    aa.add_argument("--totp-secret", help="SmartAPI: base32 seed; prompted for when omitted")
    aa.add_argument("--api-secret", help="Kite, Upstox: the app's secret; prompted for when "
                                         "omitted")
    aa.add_argument("--redirect-uri", help="Upstox: the redirect URI registered with the app")
    user_flag(aa)
    aa.set_defaults(fn=cmd_account_add)
    al = acc.add_parser("list", help="list accounts (never their credentials)")
    user_flag(al)
    al.set_defaults(fn=cmd_account_list)
    lg = acc.add_parser("login", help="Kite's or Upstox's daily login: prints the login page's "
                                      "address and takes the code its redirect carries")
    lg.add_argument("name")
    lg.add_argument("--request-token", help="the redirect's address, or the code in it (default: "
                                            "pasted on standard input)")
    lg.add_argument("--open", action="store_true", help="open the login page in a browser")
    user_flag(lg)
    lg.set_defaults(fn=cmd_account_login)
    st = acc.add_parser("set", help="risk limits across the account's links")
    st.add_argument("name")
    st.add_argument("--max-open", help="open positions across its links (off: unlimited)")
    st.add_argument("--daily-loss", help="rupees lost today at which its links stop entering")
    st.add_argument("--credentials", action="store_true",
                    help="enter new credentials (prompted: API key, PIN and TOTP seed; Kite: "
                         "API key and secret); the workers log in again with them")
    user_flag(st)
    st.set_defaults(fn=cmd_account_set)
    sub.add_parser("secret-key", help="print a new PINEWIRE_SECRET_KEY").set_defaults(
        fn=cmd_secret_key)
