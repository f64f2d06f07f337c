"""Users: registration, passwords (argon2id), API tokens (stored as SHA-256), and the owner of
what existed before users did. The first user is the admin; rows without an owner become theirs.
"""
from __future__ import annotations

import hashlib
import re
import secrets
import time

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Engine, func, select, update

from schemas import sql

HASHER = PasswordHasher()   # argon2id with the library's current parameters
_DUMMY = HASHER.hash("not a password anyone has")
OWNED = (sql.links, sql.accounts, sql.alerts, sql.orders, sql.positions, sql.position_events,
         sql.webhook_rejections, sql.eod_reports)
DEFAULT_ADMIN = "admin"


class UserError(ValueError):
    pass


class SetupCodeError(UserError):
    pass


def now_ms() -> int:
    return int(time.time() * 1000)


def _username(name: str) -> str:
    name = (name or "").strip().lower()
    if not re.fullmatch(r"[a-z0-9_.\-]{3,64}", name):
        raise UserError("username must be 3-64 letters, digits, '_', '.' or '-'")
    return name


def check_password(password: str) -> str:
    if not isinstance(password, str) or len(password) < 8:
        raise UserError("password must be at least 8 characters")
    if len(password) > 1024:
        raise UserError("password must be at most 1024 characters")
    return password


def public(row: dict) -> dict:
    """A user without the password hash."""
    return {k: v for k, v in row.items() if k != "password_hash"}


def add_user(eng: Engine, username: str, password: str | None, *, first_name: str = "",
             last_name: str = "", admin: bool = False) -> dict:
    """A new user; the first one is the admin and owns every row from before users existed.
    password None: an unusable one (set it with `pinewire user passwd`)."""
    username = _username(username)
    hashed = HASHER.hash(check_password(password) if password is not None
                         else secrets.token_urlsafe(32))
    now = now_ms()
    with eng.begin() as conn:
        if conn.execute(select(sql.users.c.id).where(sql.users.c.username == username)).first():
            raise UserError(f"the username {username!r} is taken")
        first = conn.execute(select(func.count()).select_from(sql.users)).scalar() == 0
        row = dict(id=secrets.token_hex(8), username=username, password_hash=hashed,
                   first_name=first_name.strip()[:100], last_name=last_name.strip()[:100],
                   is_admin=admin or first, created_at_ms=now, password_changed_at_ms=now)
        conn.execute(sql.users.insert().values(**row))
        if first:
            for table in OWNED:
                conn.execute(update(table).where(table.c.user_id.is_(None))
                             .values(user_id=row["id"]))
    return public(row)


def list_users(eng: Engine) -> list[dict]:
    with eng.connect() as conn:
        rows = conn.execute(select(sql.users).order_by(sql.users.c.username))
        return [public(dict(r._mapping)) for r in rows]


def user_by_name(eng: Engine, username: str) -> dict | None:
    with eng.connect() as conn:
        row = conn.execute(select(sql.users).where(
            sql.users.c.username == (username or "").strip().lower())).first()
    return public(dict(row._mapping)) if row else None


def user_by_id(eng: Engine, user_id: str) -> dict | None:
    with eng.connect() as conn:
        row = conn.execute(select(sql.users).where(sql.users.c.id == user_id)).first()
    return public(dict(row._mapping)) if row else None


def authenticate(eng: Engine, username: str, password: str) -> dict | None:
    """The user, when the password is theirs. An unknown name costs the same hash check."""
    with eng.connect() as conn:
        row = conn.execute(select(sql.users).where(
            sql.users.c.username == (username or "").strip().lower())).first()
    try:
        HASHER.verify(row.password_hash if row else _DUMMY, password or "")
    except (VerificationError, InvalidHashError):
        return None
    return public(dict(row._mapping)) if row else None


def set_password(eng: Engine, user_id: str, password: str) -> None:
    """A new password; sessions from before it end."""
    hashed = HASHER.hash(check_password(password))
    with eng.begin() as conn:
        conn.execute(update(sql.users).where(sql.users.c.id == user_id)
                     .values(password_hash=hashed, password_changed_at_ms=now_ms()))


def end_sessions(eng: Engine, user_id: str) -> None:
    """Signed out: every session of the user, on every device, is void from now."""
    with eng.begin() as conn:
        conn.execute(update(sql.users).where(sql.users.c.id == user_id)
                     .values(sessions_ended_at_ms=now_ms()))


def session_void(user: dict, signed_in_at_ms: int) -> bool:
    """A session signed in before the user's last sign-out or password change."""
    return signed_in_at_ms < max(user["password_changed_at_ms"],
                                 user.get("sessions_ended_at_ms") or 0)


# -- the first user ------------------------------------------------------------------------
def new_setup_code(eng: Engine) -> str | None:
    """While no user exists: a new one-time code that registers the first user (the admin),
    replacing any earlier one; None once someone has registered."""
    code = secrets.token_urlsafe(12)
    with eng.begin() as conn:
        if conn.execute(select(func.count()).select_from(sql.users)).scalar():
            return None
        conn.execute(sql.setup_codes.delete())
        conn.execute(sql.setup_codes.insert().values(code_hash=_token_hash(code),
                                                     created_at_ms=now_ms()))
    return code


def add_first_user(eng: Engine, code: str, username: str, password: str, **names) -> dict:
    """The first user, with the setup code; the code is spent."""
    with eng.begin() as conn:
        known = conn.execute(select(sql.setup_codes.c.code_hash)).scalars().all()
        if not any(secrets.compare_digest(_token_hash(code or ""), h) for h in known):
            raise SetupCodeError("the setup code is not right: use the one `pinewire up` "
                                 "printed last (or `pinewire user setup-code`)")
    user = add_user(eng, username, password, **names)
    with eng.begin() as conn:
        conn.execute(sql.setup_codes.delete())
    return user


def user_count(eng: Engine) -> int:
    with eng.connect() as conn:
        return conn.execute(select(func.count()).select_from(sql.users)).scalar()


# -- API tokens ---------------------------------------------------------------------------
def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token(eng: Engine, user_id: str, label: str = "") -> str:
    """A bearer token for the JSON API; only its hash is kept, so it is shown once."""
    token = f"pw_{secrets.token_urlsafe(32)}"
    with eng.begin() as conn:
        conn.execute(sql.api_tokens.insert().values(
            id=secrets.token_hex(8), user_id=user_id, token_hash=_token_hash(token),
            label=label.strip()[:100], created_at_ms=now_ms()))
    return token


def user_by_token(eng: Engine, token: str) -> dict | None:
    with eng.begin() as conn:
        row = conn.execute(select(sql.api_tokens).where(
            sql.api_tokens.c.token_hash == _token_hash(token),
            sql.api_tokens.c.revoked_at_ms.is_(None))).first()
        if row is None:
            return None
        conn.execute(update(sql.api_tokens).where(sql.api_tokens.c.id == row.id)
                     .values(last_used_at_ms=now_ms()))
    return user_by_id(eng, row.user_id)


def revoke_token(eng: Engine, user_id: str, token: str) -> bool:
    with eng.begin() as conn:
        done = conn.execute(update(sql.api_tokens).where(
            sql.api_tokens.c.token_hash == _token_hash(token),
            sql.api_tokens.c.user_id == user_id, sql.api_tokens.c.revoked_at_ms.is_(None))
            .values(revoked_at_ms=now_ms()))
    return done.rowcount == 1


# -- who a command acts for -----------------------------------------------------------------
def acting_user(eng: Engine, username: str | None, say=print) -> dict:
    """`--user NAME`, or the admin. On a data dir with no user yet, `admin` is created (with an
    unusable password) so that the CLI works at once; it says how to set the password."""
    if username:
        user = user_by_name(eng, username)
        if user is None:
            raise UserError(f"no user named {username!r} (pinewire user list)")
        return user
    users = list_users(eng)
    admin = next((u for u in users if u["is_admin"]), None)
    if admin is not None:
        return admin
    user = add_user(eng, DEFAULT_ADMIN, None)
    say(f"created user {DEFAULT_ADMIN!r} (admin), which owns everything so far; set its "
        f"password with `pinewire user passwd {DEFAULT_ADMIN}` to log in to the dashboard")
    return user
