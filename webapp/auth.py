"""Who is asking: a signed session cookie (pages) or a bearer token (the JSON API); CSRF tokens
on every state-changing form and request; login throttled per username and per address."""
from __future__ import annotations

import asyncio
import functools
import secrets
import time
from collections import defaultdict, deque

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from webapp import users

CSRF_FIELD, CSRF_HEADER = "csrf", "x-csrf-token"


class Throttle:
    """At most `limit` failures per key in `window_s`; then callers wait until the oldest ages."""

    def __init__(self, limit: int = 5, window_s: float = 300.0):
        self.limit, self.window_s = limit, window_s
        self.failures: dict[str, deque] = defaultdict(deque)

    def retry_after(self, *keys: str) -> int:
        now = time.monotonic()
        waits = []
        for key in keys:
            seen = self.failures[key]
            while seen and now - seen[0] > self.window_s:
                seen.popleft()
            if len(seen) >= self.limit:
                waits.append(int(self.window_s - (now - seen[0])) + 1)
        return max(waits, default=0)

    def failed(self, *keys: str) -> None:
        for key in keys:
            self.failures[key].append(time.monotonic())

    def succeeded(self, username_key: str) -> None:
        self.failures.pop(username_key, None)


def client_address(request: Request) -> str:
    return request.client.host if request.client else "?"


def login_throttled(request: Request, username: str) -> int:
    """Seconds to wait before this name may be tried from this address again (0: now)."""
    return request.app.state.throttle.retry_after(f"user:{username.lower()}",
                                                  f"ip:{client_address(request)}")


def bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    return header[7:].strip() if header.lower().startswith("bearer ") else None


async def current_user(request: Request) -> dict | None:
    """The signed-in user: a bearer token (API), else the session cookie. A session from before
    the user's last sign-out or password change is void."""
    if "user" in request.scope:
        return request.scope["user"]
    eng, user = request.app.state.engine, None
    token = bearer(request)
    if token:
        user = await asyncio.to_thread(users.user_by_token, eng, token)
    elif (uid := request.session.get("uid")):
        user = await asyncio.to_thread(users.user_by_id, eng, uid)
        if user is None or users.session_void(user, request.session.get("since", 0)):
            request.session.clear()
            user = None
    request.scope["user"] = user
    return user


def sign_in(request: Request, user: dict) -> None:
    request.session.clear()
    request.session.update(uid=user["id"], since=int(time.time() * 1000),
                           csrf=secrets.token_urlsafe(24))


def csrf_token(request: Request) -> str:
    if "csrf" not in request.session:
        request.session["csrf"] = secrets.token_urlsafe(24)
    return request.session["csrf"]


def csrf_ok(request: Request, form=None) -> bool:
    """A state-changing request carries the session's token (form field or header). Bearer
    requests carry no cookie, so they need none."""
    if bearer(request):
        return True
    expected = request.session.get("csrf")
    given = request.headers.get(CSRF_HEADER) or (form.get(CSRF_FIELD) if form else None)
    return bool(expected and given and secrets.compare_digest(str(given), expected))


def wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/")


async def _problem(request: Request, status: int, words: str) -> Response:
    from webapp.pages import problem      # (the pages are built on this module)
    return await problem(request, status, words)


def signed_in(handler=None, *, admin: bool = False):
    """A page or endpoint for signed-in users (the admin only, with admin=True)."""
    if handler is None:
        return functools.partial(signed_in, admin=admin)

    @functools.wraps(handler)
    async def guarded(request: Request) -> Response:
        user = await current_user(request)
        if user is None:
            if wants_json(request) or request.url.path.endswith(".json"):
                return JSONResponse({"error": "sign in, or send a bearer token"}, 401)
            return RedirectResponse(f"/login?next={request.url.path}", 303)
        if admin and not user["is_admin"]:
            if wants_json(request) or request.url.path.endswith(".json"):
                return JSONResponse({"error": "only the admin may see this"}, 403)
            return await _problem(request, 403, "Only the admin may see this page.")
        if request.method not in ("GET", "HEAD"):
            form = None if wants_json(request) else await request.form()
            if not csrf_ok(request, form):
                return (JSONResponse({"error": "missing or wrong CSRF token"}, 403)
                        if wants_json(request) else
                        await _problem(request, 403,
                                       "The form expired; go back, reload and try again."))
        return await handler(request)
    return guarded
