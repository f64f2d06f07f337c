"""Broker accounts: a user's accounts, their risk limits and health; the credentials are
sealed by connectors.credentials and never read back here."""
from __future__ import annotations

import re
import secrets
import time

from sqlalchemy import Engine, select, true, update

from connectors.credentials import (BROKERS, LOGIN_PAGE_BROKERS, AccountError, seal,
                                   seal_app, seal_session)
from schemas import sql
from webapp.links import convert


def _mine(user_id: str | None):
    return sql.accounts.c.user_id == user_id if user_id is not None else true()


_PUBLIC = [c for c in sql.accounts.c if c.name not in ("secrets", "session")]   # never sealed


def _name(name: str | None) -> str:
    if not re.fullmatch(r"[A-Za-z0-9_.\-]{1,100}", name or ""):
        raise AccountError("name must be 1-100 letters, digits, '_', '.' or '-'")
    return name


def add_account(eng: Engine, secret_key: str | None, *, name: str, client_code: str,
                api_key: str, pin: str = "", totp_secret: str = "", api_secret: str = "",
                redirect_uri: str = "", broker: str = "smartapi",
                user_id: str | None = None) -> dict:
    """A SmartAPI account (client code, API key, PIN, TOTP seed), or a Kite or Upstox one (user
    id, the app's API key and secret, Upstox's redirect URI; its owner logs in every day through
    the broker's page, and the token is kept: store_session)."""
    if broker == "upstox" and not redirect_uri:
        raise AccountError("an Upstox account needs the app's redirect URI (--redirect-uri)")
    _name(name)
    if broker not in BROKERS:
        raise AccountError(f"broker must be one of {', '.join(BROKERS)}")
    if not re.fullmatch(r"[A-Za-z0-9]{1,40}", client_code or ""):
        raise AccountError("client code (Kite: user id) must be letters and digits")
    sealed = _seal(secret_key, broker, api_key=api_key, pin=pin, totp_secret=totp_secret,
                   api_secret=api_secret, redirect_uri=redirect_uri)
    row = dict(id=secrets.token_hex(8), name=name, client_code=client_code, secrets=sealed,
               broker=broker, created_at_ms=int(time.time() * 1000), user_id=user_id)
    with eng.begin() as conn:
        if conn.execute(select(sql.accounts.c.id).where(sql.accounts.c.name == name,
                                                        _mine(user_id))).first():
            raise AccountError(f"an account named {name!r} already exists")
        conn.execute(sql.accounts.insert().values(**row))
    return account_by_id(eng, row["id"])


def _seal(secret_key: str | None, broker: str, *, api_key: str = "", pin: str = "",
          totp_secret: str = "", api_secret: str = "", redirect_uri: str = "") -> str:
    if broker in LOGIN_PAGE_BROKERS:
        return seal_app(secret_key, api_key, api_secret, redirect_uri)
    return seal(secret_key, api_key, pin, totp_secret)


def account_rows(eng: Engine, user_id: str | None = None) -> list[dict]:
    """The user's accounts (every account when None) with their limits and health."""
    with eng.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(
            select(*_PUBLIC).where(_mine(user_id)).order_by(sql.accounts.c.name))]


def record_health(eng: Engine, account_id: str, problem: str | None, at_ms: int) -> None:
    with eng.begin() as conn:
        sql.record_health(conn, account_id, problem, at_ms)


def account_by_id(eng: Engine, account_id: str, user_id: str | None = None) -> dict | None:
    with eng.connect() as conn:
        row = conn.execute(select(*_PUBLIC).where(sql.accounts.c.id == account_id,
                                                  _mine(user_id))).first()
    return dict(row._mapping) if row else None


def account_by_name(eng: Engine, name: str, user_id: str | None = None) -> dict | None:
    with eng.connect() as conn:
        row = conn.execute(select(*_PUBLIC).where(sql.accounts.c.name == name,
                                                  _mine(user_id))).first()
    return dict(row._mapping) if row else None


def set_account(eng: Engine, account_id: str, *, user_id: str | None = None,
                reset_breaker: bool = False, name: str | None = None,
                credentials: dict | None = None, secret_key: str | None = None,
                **limits) -> dict:
    """Risk limits across the account's links: max_open, daily_loss_paise (validated as a
    link's are); reset_breaker forgets the losses realized so far today; credentials (SmartAPI:
    api_key, pin, totp_secret; Kite: api_key, api_secret), sealed with secret_key, replace the
    stored ones, and the workers log in anew with them (the version goes up with every
    change)."""
    values = {k: convert(k, v) for k, v in limits.items() if k in ("max_open", "daily_loss_paise")}
    if name is not None:
        values["name"] = _name(name)
    if reset_breaker:
        values["breaker_reset_at_ms"] = int(time.time() * 1000)
    with eng.begin() as conn:
        row = conn.execute(select(sql.accounts).where(sql.accounts.c.id == account_id,
                                                      _mine(user_id))).first()
        if row is None:
            raise AccountError("no such account (pinewire account list)")
        if credentials is not None:
            values.update(secrets=_seal(secret_key, row.broker, **credentials), health=None,
                          health_at_ms=None, session=None)
        values["version"] = row.version + 1
        conn.execute(update(sql.accounts).where(sql.accounts.c.id == row.id).values(**values))
    return account_by_id(eng, account_id)


def store_session(eng: Engine, secret_key: str | None, account_id: str, access_token: str,
                  at_ms: int) -> dict:
    """The day's access token of a Kite or Upstox account, sealed; the workers open a session
    with it (the version goes up) and its login problem, if any, is forgotten."""
    with eng.begin() as conn:
        row = conn.execute(select(sql.accounts).where(sql.accounts.c.id == account_id)).first()
        if row is None:
            raise AccountError("no such account (pinewire account list)")
        conn.execute(update(sql.accounts).where(sql.accounts.c.id == account_id).values(
            session=seal_session(secret_key, access_token, at_ms), health=None,
            health_at_ms=None, version=row.version + 1))
    return account_by_id(eng, account_id)


def login_page(eng: Engine, settings, account_id: str) -> str:
    """Where the owner of a Kite or Upstox account logs in for the day."""
    from connectors import credentials, live
    creds = credentials.load(eng, settings.secret_key, account_id)
    if not isinstance(creds, credentials.AppCredentials):
        raise AccountError("this account logs in by itself (PIN and TOTP)")
    return live.login_page(creds, settings)


def complete_login(eng: Engine, settings, account_id: str, pasted: str) -> tuple[dict, int]:
    """The day's login of a Kite or Upstox account from what its owner pasted (the address the
    login page sent them to, or the code in it): the token exchanged, checked to be the
    account's own user, stored sealed. (the account, when the session ends in ms). Blocking."""
    from connectors import credentials, live
    creds = credentials.load(eng, settings.secret_key, account_id)
    if not isinstance(creds, credentials.AppCredentials):
        raise AccountError("this account logs in by itself (PIN and TOTP)")
    access, user_id = live.complete_login(creds, pasted, settings)
    if user_id.upper() != creds.client_code.upper():
        name = account_by_id(eng, account_id)["name"]
        raise AccountError(f"{creds.broker} logged in user {user_id}, but {name} is "
                           f"{creds.client_code}: log in as that user")
    now = int(time.time() * 1000)
    row = store_session(eng, settings.secret_key, account_id, access, now)
    return row, live.session_ends_ms(creds.broker, now)


def sessions_end(eng: Engine, secret_key: str | None,
                 user_id: str | None = None) -> dict[str, int | None]:
    """When the stored session of each of the user's Kite and Upstox accounts ends (ms), None
    where none is stored."""
    from connectors.credentials import open_session
    from connectors.live import session_ends_ms
    a = sql.accounts.c
    with eng.connect() as conn:
        rows = conn.execute(select(a.id, a.broker, a.session).where(
            _mine(user_id), a.broker.in_(LOGIN_PAGE_BROKERS))).all()
    ends: dict[str, int | None] = {}
    for row in rows:
        try:
            at_ms = open_session(secret_key, row.session)["token_at_ms"] if row.session else None
        except AccountError:         # sealed with another key: as good as none
            at_ms = None
        ends[row.id] = session_ends_ms(row.broker, at_ms) if at_ms else None
    return ends


def delete_account(eng: Engine, account_id: str, user_id: str | None = None) -> None:
    """Refused while a live link trades on it."""
    with eng.begin() as conn:
        live = conn.execute(select(sql.links.c.name).where(
            sql.links.c.account_id == account_id, sql.links.c.paper.is_(False))).first()
        if live is not None:
            raise AccountError(f"the live link {live.name!r} uses this account: move it to "
                               "paper or to another account first")
        done = conn.execute(sql.accounts.delete().where(sql.accounts.c.id == account_id,
                                                        _mine(user_id)))
    if done.rowcount != 1:
        raise AccountError("no such account")


