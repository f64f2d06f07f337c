"""Broker accounts. Credentials (API key, PIN, TOTP seed) are encrypted at rest with Fernet,
keyed by PINEWIRE_SECRET_KEY; they are decrypted only inside the process that logs in, and
never logged, printed or put on a topic."""
from __future__ import annotations

import json
import re
import secrets
import time
from dataclasses import dataclass

import pyotp
from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy import Engine, select, true, update

from schemas import sql


class AccountError(ValueError):
    pass


@dataclass(frozen=True)
class Credentials:
    account_id: str
    client_code: str
    api_key: str
    pin: str
    totp_secret: str

    def __repr__(self) -> str:  # a stray log of this object reveals nothing
        return f"Credentials(account_id={self.account_id!r}, client_code={self.client_code!r})"

    def totp(self) -> str:
        return pyotp.TOTP(self.totp_secret).now()


def new_key() -> str:
    return Fernet.generate_key().decode()


def _fernet(secret_key: str | None) -> Fernet:
    if not secret_key:
        raise AccountError("PINEWIRE_SECRET_KEY is not set; create one with "
                           "`pinewire secret-key` and keep it out of the repository")
    try:
        return Fernet(secret_key.encode())
    except ValueError:
        raise AccountError("PINEWIRE_SECRET_KEY is not a valid Fernet key "
                           "(`pinewire secret-key` makes one)") from None


def _seal(secret_key: str | None, api_key: str, pin: str, totp_secret: str) -> str:
    """The credentials, checked and encrypted."""
    fernet = _fernet(secret_key)
    if not api_key or not pin:
        raise AccountError("API key and PIN are required")
    totp_secret = totp_secret.replace(" ", "").upper()
    try:
        pyotp.TOTP(totp_secret).now()
    except Exception:  # noqa: BLE001 - any failure means the seed is unusable
        raise AccountError("the TOTP secret is not a valid base32 seed") from None
    if len(totp_secret) < 16:
        raise AccountError("the TOTP secret is too short to be a real seed")
    return fernet.encrypt(json.dumps({"api_key": api_key, "pin": pin,
                                      "totp_secret": totp_secret}).encode()).decode()


def _mine(user_id: str | None):
    return sql.accounts.c.user_id == user_id if user_id is not None else true()


_PUBLIC = [c for c in sql.accounts.c if c.name != "secrets"]   # never the sealed credentials


def _name(name: str | None) -> str:
    if not re.fullmatch(r"[A-Za-z0-9_.\-]{1,100}", name or ""):
        raise AccountError("name must be 1-100 letters, digits, '_', '.' or '-'")
    return name


def add_account(eng: Engine, secret_key: str | None, *, name: str, client_code: str,
                api_key: str, pin: str, totp_secret: str, user_id: str | None = None) -> dict:
    _name(name)
    if not re.fullmatch(r"[A-Za-z0-9]{1,40}", client_code or ""):
        raise AccountError("client code must be letters and digits")
    sealed = _seal(secret_key, api_key, pin, totp_secret)
    row = dict(id=secrets.token_hex(8), name=name, client_code=client_code, secrets=sealed,
               created_at_ms=int(time.time() * 1000), user_id=user_id)
    with eng.begin() as conn:
        if conn.execute(select(sql.accounts.c.id).where(sql.accounts.c.name == name,
                                                        _mine(user_id))).first():
            raise AccountError(f"an account named {name!r} already exists")
        conn.execute(sql.accounts.insert().values(**row))
    return account_by_id(eng, row["id"])


def account_rows(eng: Engine, user_id: str | None = None) -> list[dict]:
    """The user's accounts (every account when None) with their limits and health."""
    with eng.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(
            select(*_PUBLIC).where(_mine(user_id)).order_by(sql.accounts.c.name))]


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
                credentials: tuple[str | None, str, str, str] | None = None, **limits) -> dict:
    """Risk limits across the account's links: max_open, daily_loss_paise (validated as a
    link's are); reset_breaker forgets the losses realized so far today; credentials
    (secret key, API key, PIN, TOTP seed) replace the stored ones, and the workers log in anew
    with them (the version goes up with every change)."""
    from pinewire.links import convert
    values = {k: convert(k, v) for k, v in limits.items() if k in ("max_open", "daily_loss_paise")}
    if name is not None:
        values["name"] = _name(name)
    if reset_breaker:
        values["breaker_reset_at_ms"] = int(time.time() * 1000)
    if credentials is not None:
        values.update(secrets=_seal(*credentials), health=None, health_at_ms=None)
    with eng.begin() as conn:
        row = conn.execute(select(sql.accounts).where(sql.accounts.c.id == account_id,
                                                      _mine(user_id))).first()
        if row is None:
            raise AccountError("no such account (pinewire account list)")
        values["version"] = row.version + 1
        conn.execute(update(sql.accounts).where(sql.accounts.c.id == row.id).values(**values))
    return account_by_id(eng, account_id)


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


def credentials(eng: Engine, secret_key: str | None, account_id: str) -> Credentials:
    fernet = _fernet(secret_key)
    with eng.connect() as conn:
        row = conn.execute(select(sql.accounts).where(sql.accounts.c.id == account_id)).first()
    if row is None:
        raise AccountError(f"no account {account_id}")
    try:
        data = json.loads(fernet.decrypt(row.secrets.encode()))
    except InvalidToken:
        raise AccountError("cannot decrypt the account's credentials: PINEWIRE_SECRET_KEY is "
                           "not the key they were stored with") from None
    return Credentials(account_id=row.id, client_code=row.client_code, **data)
