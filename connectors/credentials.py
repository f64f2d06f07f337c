"""A broker account's credentials (SmartAPI: API key, PIN, TOTP seed; Kite and Upstox: the
app's API key and secret, and the day's access token once its owner has logged in): encrypted
at rest with Fernet, keyed by PINEWIRE_SECRET_KEY; decrypted only inside the process that logs
in, and never logged, printed or put on a topic."""
from __future__ import annotations

import json
import re
from dataclasses import dataclass

import pyotp
from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy import Engine, select

from schemas import sql


class AccountError(ValueError):
    pass


class LoginFailed(AccountError):
    """The account cannot log in now; the message is the broker's answer in plain words."""


BROKERS = ("smartapi", "kite", "upstox")   # the kinds of broker an account can be
LOGIN_PAGE_BROKERS = ("kite", "upstox")       # their owner logs in through a web page daily


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


@dataclass(frozen=True)
class AppCredentials:
    """A broker app's key and secret, and the day's access token once its owner has logged in
    through the broker's login page (Kite, Upstox)."""
    account_id: str
    client_code: str              # the broker's user id
    broker: str
    api_key: str
    api_secret: str
    redirect_uri: str = ""        # Upstox: the app's registered redirect URI
    access_token: str | None = None
    token_at_ms: int | None = None   # when the access token was issued

    def __repr__(self) -> str:
        return (f"AppCredentials(account_id={self.account_id!r}, broker={self.broker!r}, "
                f"client_code={self.client_code!r})")


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


TOTP_MIN_BITS = 112      # what pyotp accepts (RFC 4226 asks for 128 at least)


def totp_problem(seed: str) -> str | None:
    """What is wrong with a TOTP seed (base32, spaces removed, upper case), in words that never
    repeat it; None when it makes codes."""
    if not seed:
        return "the TOTP secret is empty"
    if not re.fullmatch(r"[A-Z2-7]+=*", seed):
        return ("the TOTP secret has characters base32 does not use: only the letters A-Z and "
                "the digits 2-7")
    bits = len(seed.rstrip("=")) * 5
    if bits < TOTP_MIN_BITS:
        return (f"the TOTP secret is {len(seed.rstrip('='))} characters ({bits} bits); a seed "
                f"needs at least {-(-TOTP_MIN_BITS // 5)} ({TOTP_MIN_BITS} bits): copy the whole "
                "key the broker showed")
    try:
        pyotp.TOTP(seed).now()
    except Exception:  # noqa: BLE001 - any failure means the seed is unusable
        return "the TOTP secret is not a valid base32 seed"
    return None


def seal(secret_key: str | None, api_key: str, pin: str, totp_secret: str) -> str:
    """The credentials, checked and encrypted."""
    fernet = _fernet(secret_key)
    if not api_key or not pin:
        raise AccountError("API key and PIN are required")
    totp_secret = totp_secret.replace(" ", "").upper()
    problem = totp_problem(totp_secret)
    if problem:
        raise AccountError(problem)
    return fernet.encrypt(json.dumps({"api_key": api_key, "pin": pin,
                                      "totp_secret": totp_secret}).encode()).decode()


def seal_app(secret_key: str | None, api_key: str, api_secret: str,
             redirect_uri: str = "") -> str:
    """A broker app's API key and secret (and Upstox's redirect URI), checked and encrypted."""
    fernet = _fernet(secret_key)
    if not re.fullmatch(r"[A-Za-z0-9-]{6,64}", api_key or "") or \
            not re.fullmatch(r"[A-Za-z0-9]{6,64}", api_secret or ""):
        raise AccountError("the API key and secret are letters and digits, as the broker's app "
                           "page shows them")
    if redirect_uri and not re.fullmatch(r"https?://\S+", redirect_uri):
        raise AccountError("the redirect URI is the http(s) address registered with the app")
    values = {"api_key": api_key, "api_secret": api_secret}
    if redirect_uri:
        values["redirect_uri"] = redirect_uri
    return fernet.encrypt(json.dumps(values).encode()).decode()


def seal_session(secret_key: str | None, access_token: str, at_ms: int) -> str:
    """A broker session's access token, encrypted (accounts.session)."""
    return _fernet(secret_key).encrypt(json.dumps({"access_token": access_token,
                                                   "token_at_ms": at_ms}).encode()).decode()


def open_session(secret_key: str | None, sealed: str) -> dict:
    """A stored broker session: {"access_token", "token_at_ms"}."""
    return _open(_fernet(secret_key), sealed)


def _open(fernet: Fernet, sealed: str) -> dict:
    try:
        return json.loads(fernet.decrypt(sealed.encode()))
    except InvalidToken:
        raise AccountError("cannot decrypt the account's credentials: PINEWIRE_SECRET_KEY is "
                           "not the key they were stored with") from None


def load(eng: Engine, secret_key: str | None,
         account_id: str) -> Credentials | AppCredentials:
    """The account's credentials, decrypted (only where its session logs in)."""
    fernet = _fernet(secret_key)
    with eng.connect() as conn:
        row = conn.execute(select(sql.accounts).where(sql.accounts.c.id == account_id)).first()
    if row is None:
        raise AccountError(f"no account {account_id}")
    data = _open(fernet, row.secrets)
    if row.broker in LOGIN_PAGE_BROKERS:
        session = _open(fernet, row.session) if row.session else {}
        return AppCredentials(account_id=row.id, client_code=row.client_code, broker=row.broker,
                              **data, **session)
    return Credentials(account_id=row.id, client_code=row.client_code, **data)


def seal_telegram(secret_key: str | None, bot_token: str, chat_id: str) -> str:
    """A user's Telegram bot token and chat id, checked for shape and encrypted."""
    bot_token, chat_id = bot_token.strip(), str(chat_id).strip()
    if not re.fullmatch(r"\d{5,15}:[A-Za-z0-9_-]{30,60}", bot_token):
        raise AccountError("the bot token is not one BotFather gives (digits:letters)")
    if not re.fullmatch(r"-?\d{1,20}|@[A-Za-z0-9_]{5,32}", chat_id):
        raise AccountError("the chat id is a number (e.g. 123456789 or -100…) or @channelname")
    return _fernet(secret_key).encrypt(json.dumps({"bot_token": bot_token,
                                                   "chat_id": chat_id}).encode()).decode()


def open_telegram(secret_key: str | None, sealed: str) -> tuple[str, str]:
    """(bot token, chat id) of a sealed Telegram setting."""
    try:
        data = json.loads(_fernet(secret_key).decrypt(sealed.encode()))
    except InvalidToken:
        raise AccountError("cannot decrypt the Telegram setting: PINEWIRE_SECRET_KEY is not "
                           "the key it was stored with") from None
    return data["bot_token"], data["chat_id"]
