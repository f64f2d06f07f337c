"""Broker accounts: account add|list|set, secret-key."""
from __future__ import annotations

import getpass

from connectors import credentials
from pinewire.verbs.common import engine, me, publish, user_flag
from schemas.money import paise_to_rupees
from schemas.settings import settings
from webapp import accounts


def _secret(value: str | None, prompt: str) -> str:
    return value if value is not None else getpass.getpass(f"{prompt}: ")


def cmd_account_add(a) -> int:
    row = accounts.add_account(
        engine(), settings().secret_key, name=a.name, client_code=a.client_code,
        api_key=_secret(a.api_key, "API key"), pin=_secret(a.pin, "PIN"),
        totp_secret=_secret(a.totp_secret, "TOTP secret (base32)"), user_id=me(a)["id"])
    publish("the account", accounts=[row])
    print(f"account {row['name']} ({row['client_code']}) saved; credentials encrypted")
    return 0


def cmd_account_list(a) -> int:
    rows = accounts.account_rows(engine(), me(a)["id"])
    if not rows:
        print("no accounts yet: pinewire account add --name NAME --client-code CODE")
    for r in rows:
        loss = paise_to_rupees(r["daily_loss_paise"]) if r["daily_loss_paise"] else "none"
        print(f"{r['name']:<16} {r['client_code']:<12} max open {r['max_open'] or 'unlimited'}, "
              f"daily loss limit {loss}; {r['health'] or 'no login problem reported'}")
    return 0


def cmd_account_set(a) -> int:
    limits = {k: v for k, v in (("max_open", a.max_open), ("daily_loss_paise", a.daily_loss))
              if v is not None}
    if not limits and not a.credentials:
        raise accounts.AccountError("nothing to change: give --max-open, --daily-loss or "
                                    "--credentials")
    account = my_account(a, a.name)
    credentials = (settings().secret_key, _secret(None, "API key"), _secret(None, "PIN"),
                   _secret(None, "TOTP secret (base32)")) if a.credentials else None
    row = accounts.set_account(engine(), account["id"], user_id=account["user_id"],
                               credentials=credentials, **limits)
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
    aa = acc.add_parser("add", help="save an Angel One account; credentials are encrypted")
    aa.add_argument("--name", required=True)
    aa.add_argument("--client-code", required=True)
    aa.add_argument("--api-key", help="prompted for when omitted (keeps it out of shell history)")
    aa.add_argument("--pin", help="prompted for when omitted")
    aa.add_argument("--totp-secret", help="base32 seed; prompted for when omitted")
    user_flag(aa)
    aa.set_defaults(fn=cmd_account_add)
    al = acc.add_parser("list", help="list accounts (never their credentials)")
    user_flag(al)
    al.set_defaults(fn=cmd_account_list)
    st = acc.add_parser("set", help="risk limits across the account's links")
    st.add_argument("name")
    st.add_argument("--max-open", help="open positions across its links (off: unlimited)")
    st.add_argument("--daily-loss", help="rupees lost today at which its links stop entering")
    st.add_argument("--credentials", action="store_true",
                    help="enter new API key, PIN and TOTP seed (prompted); the workers log in "
                         "again with them")
    user_flag(st)
    st.set_defaults(fn=cmd_account_set)
    sub.add_parser("secret-key", help="print a new PINEWIRE_SECRET_KEY").set_defaults(
        fn=cmd_secret_key)
