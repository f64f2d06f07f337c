"""Users, for the operator: user add|list|passwd|token|setup-code."""
from __future__ import annotations

import getpass
import sys

from pinewire.verbs.common import engine
from webapp import users


def _password(a) -> str:
    """One line on stdin with --password-stdin, else prompted twice."""
    if a.password_stdin:
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("password: ")
    if getpass.getpass("again: ") != first:
        raise users.UserError("the two passwords differ")
    return first


def _user(name: str) -> dict:
    user = users.user_by_name(engine(), name)
    if user is None:
        raise users.UserError(f"no user named {name!r} (pinewire user list)")
    return user


def cmd_user_add(a) -> int:
    user = users.add_user(engine(), a.username, _password(a), first_name=a.first or "",
                          last_name=a.last or "", admin=a.admin)
    print(f"user {user['username']} created{' (admin)' if user['is_admin'] else ''}")
    return 0


def cmd_user_list(a) -> int:
    for u in users.list_users(engine()):
        name = f"{u['first_name']} {u['last_name']}".strip()
        print(f"{u['username']:<20} {'admin' if u['is_admin'] else 'trader':<7} {name}")
    return 0


def cmd_user_passwd(a) -> int:
    users.set_password(engine(), _user(a.username)["id"], _password(a))
    print(f"password of {a.username} changed; their sessions ended")
    return 0


def cmd_user_token(a) -> int:
    """A new API token, shown once: only its hash is stored."""
    print(users.new_token(engine(), _user(a.username)["id"], a.label or "cli"))
    return 0


def cmd_user_setup_code(a) -> int:
    """A new install (no user yet): the one-time code that registers the first user."""
    code = users.new_setup_code(engine())
    if code is None:
        raise users.UserError("a user exists already: the admin adds users (pinewire user add)")
    print(code)
    return 0


def register(sub) -> None:
    u = sub.add_parser("user", help="dashboard users").add_subparsers(dest="user", required=True)
    add = u.add_parser("add", help="add a user (the first one is the admin)")
    add.add_argument("username")
    add.add_argument("--first", help="first name")
    add.add_argument("--last", help="last name")
    add.add_argument("--admin", action="store_true")
    add.add_argument("--password-stdin", action="store_true",
                     help="read the password as one line on stdin (else prompted twice)")
    add.set_defaults(fn=cmd_user_add)
    u.add_parser("list", help="every user").set_defaults(fn=cmd_user_list)
    pw = u.add_parser("passwd", help="set a user's password")
    pw.add_argument("username")
    pw.add_argument("--password-stdin", action="store_true")
    pw.set_defaults(fn=cmd_user_passwd)
    tok = u.add_parser("token", help="print a new API token for a user")
    tok.add_argument("username")
    tok.add_argument("--label", help="what the token is for")
    tok.set_defaults(fn=cmd_user_token)
    u.add_parser("setup-code", help="print a new one-time code that registers the first "
                                    "user (the admin) on the dashboard, while none exists"
                 ).set_defaults(fn=cmd_user_setup_code)
