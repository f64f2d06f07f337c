"""A Kite Connect session: the daily login (login URL → the redirect's request token → an
access token, exchanged with the app's secret), the token's expiry at 06:00 IST the next day,
rate limits, and the SDK's blocking calls moved off the event loop.

Kite cannot log in without its owner: the login is a browser page. So a session here never
logs in by itself; an expired or refused token makes the account report "log in again"
(`pinewire account login NAME`), and the new token reaches the workers as a new account
version."""
from __future__ import annotations

import asyncio
import logging
import time
from datetime import datetime, timedelta
from typing import Callable
from urllib.parse import parse_qs, urlsplit

from kiteconnect import KiteConnect, exceptions as kex

from connectors.credentials import KiteCredentials, LoginFailed
from connectors.kite.ratelimit import LIMITER
from connectors.ratelimit import RateLimiter
from schemas.market_time import IST

log = logging.getLogger(__name__)
logging.getLogger("kiteconnect").setLevel(logging.INFO)   # its debug logs print headers
LOGIN_URL = "https://kite.zerodha.com/connect/login"


def login_url(api_key: str, login_root: str = LOGIN_URL) -> str:
    return f"{login_root}?api_key={api_key}&v=3"


def request_token_from(text: str) -> str:
    """The request token in what the user pasted: the whole redirect URL, or the token."""
    text = text.strip()
    if "request_token=" in text:
        query = parse_qs(urlsplit(text).query or text.split("?", 1)[-1])
        if query.get("status", ["success"])[0] != "success":
            raise LoginFailed("the login page did not succeed (status "
                              f"{query['status'][0]!r}); log in again")
        text = query.get("request_token", [""])[0]
    if not text.isalnum() or len(text) < 8:
        raise LoginFailed("no request token: paste the whole address the login page sent you "
                          "to (it contains request_token=...)")
    return text


def expires_at_ms(token_at_ms: int) -> int:
    """Kite access tokens end at 06:00 IST after they were issued."""
    issued = datetime.fromtimestamp(token_at_ms / 1000, IST)
    six = issued.replace(hour=6, minute=0, second=0, microsecond=0)
    return int(((six if issued < six else six + timedelta(days=1)).timestamp()) * 1000)


def exchange_request_token(api_key: str, api_secret: str, request_token: str, root: str,
                           timeout_s: float) -> tuple[str, str]:
    """(access token, Kite user id) for a request token. Blocking: call it in a thread."""
    client = KiteConnect(api_key=api_key, root=root, timeout=timeout_s)
    try:
        data = client.generate_session(request_token, api_secret=api_secret)
    except kex.KiteException as exc:
        raise LoginFailed(f"Kite refused the request token: {exc}") from None
    return data["access_token"], data["user_id"]


class KiteSession:
    """on_health(account_id, problem or None) hears every change: None after the first call a
    token answers, the problem when it is refused or expired. reload() (blocking, run in a
    thread at most every RELOAD_EVERY_S while there is a problem) reads the stored credentials
    again, for a process that outlives a login (the feed); the workers open a new session
    when the account's version changes instead."""
    RELOAD_EVERY_S = 5.0

    def __init__(self, creds: KiteCredentials, root: str, timeout_s: float,
                 limiter: RateLimiter = LIMITER,
                 on_health: Callable[[str, str | None], None] | None = None,
                 account_name: str | None = None,
                 reload: Callable[[], KiteCredentials] | None = None):
        self.creds, self.root, self.timeout_s, self.limiter = creds, root, timeout_s, limiter
        self.reload, self.reloaded_at = reload, time.monotonic()
        self.on_health = on_health or (lambda account_id, problem: None)
        self.name = account_name or creds.account_id
        self.client: KiteConnect | None = None
        self.refused: str | None = None
        self.reported: str | None = "not yet"    # the last health reported

    @property
    def client_code(self) -> str:
        return self.creds.client_code

    @property
    def access_token(self) -> str | None:
        """Secret: never log it."""
        return self.creds.access_token

    def _problem(self) -> str | None:
        again = f"log in again: pinewire account login {self.name}"
        if self.refused:
            return self.refused
        if not self.creds.access_token:
            return f"no Kite session yet; {again}"
        if time.time() * 1000 >= expires_at_ms(self.creds.token_at_ms or 0):
            return f"the Kite session expired at 06:00 IST; {again}"
        return None

    async def ensure(self) -> None:
        problem = self._problem()
        if problem and self.reload and time.monotonic() - self.reloaded_at >= self.RELOAD_EVERY_S:
            self.reloaded_at = time.monotonic()
            fresh = await asyncio.to_thread(self.reload)
            if fresh.access_token != self.creds.access_token:
                log.info("account %s: a new Kite session was stored; using it", self.name)
                self.creds, self.client, self.refused = fresh, None, None
                problem = self._problem()
        if problem:
            self._report(problem)
            raise LoginFailed(problem)
        if self.client is None:
            self.client = KiteConnect(api_key=self.creds.api_key,
                                      access_token=self.creds.access_token, root=self.root,
                                      timeout=self.timeout_s)

    def _report(self, problem: str | None) -> None:
        if problem != self.reported:
            self.reported = problem
            self.on_health(self.creds.account_id, problem)

    async def call(self, kind: str, method: str, *args, **kwargs):
        """One SDK call under the rate limit. A refused token ends the session (the owner must
        log in again); every other failure propagates: the caller decides."""
        await self.ensure()
        await self.limiter.acquire(self.client_code, kind)
        try:
            answer = await asyncio.to_thread(getattr(self.client, method), *args, **kwargs)
        except kex.TokenException:
            self.refused = (f"Kite refused the session's token; log in again: pinewire account "
                            f"login {self.name}")
            log.warning("account %s: %s", self.creds.account_id, self.refused)
            self._report(self.refused)
            raise LoginFailed(self.refused) from None
        self._report(None)
        return answer


async def probe(creds: KiteCredentials, root: str, timeout_s: float) -> tuple[bool, str]:
    """Fetch the profile once: (ok, what Kite said, in plain words)."""
    session = KiteSession(creds, root, timeout_s)
    try:
        profile = await session.call("other", "profile")
    except LoginFailed as exc:
        return False, str(exc)
    except Exception as exc:  # noqa: BLE001 - the network, a broken answer: say which
        return False, f"could not reach Kite at {root}: {type(exc).__name__}"
    return True, f"logged in as {profile.get('user_name') or creds.client_code}; the profile answered"
