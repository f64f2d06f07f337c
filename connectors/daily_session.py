"""A session on a broker whose owner logs in through the broker's web page once a day (Kite,
Upstox): the page redirects to the app's address with a one-time code, which the app's secret
exchanges for the day's access token. The token ends at a fixed time the next morning.

Such a session never logs in by itself: an expired or refused token makes the account report
"log in again" (`pinewire account login NAME`); a new token reaches the workers as a new
account version, and a long-running process (the feed) reads it with reload()."""
from __future__ import annotations

import asyncio
import logging
import time
from datetime import datetime, timedelta
from typing import Callable
from urllib.parse import parse_qs, urlsplit

from connectors.credentials import AppCredentials, LoginFailed
from connectors.ratelimit import RateLimiter
from schemas.market_time import IST

log = logging.getLogger(__name__)
# Even at DEBUG: the websockets client would log a feed's address, which carries a token.
logging.getLogger("websockets.client").setLevel(logging.INFO)


def code_from(text: str, name: str) -> str:
    """The one-time code in what the user pasted: the whole redirect address, or the code."""
    text = text.strip()
    if f"{name}=" in text:
        query = parse_qs(urlsplit(text).query or text.split("?", 1)[-1])
        if query.get("status", ["success"])[0] != "success":
            raise LoginFailed("the login page did not succeed (status "
                              f"{query['status'][0]!r}); log in again")
        text = query.get(name, [""])[0]
    if not text.isalnum() or len(text) < 6:
        raise LoginFailed(f"no {name}: paste the whole address the login page sent you to (it "
                          f"contains {name}=...)")
    return text


def expires_at_ms(token_at_ms: int, hour: int, minute: int = 0) -> int:
    """The first hour:minute IST after the token was issued."""
    issued = datetime.fromtimestamp(token_at_ms / 1000, IST)
    end = issued.replace(hour=hour, minute=minute, second=0, microsecond=0)
    return int(((end if issued < end else end + timedelta(days=1)).timestamp()) * 1000)


class DailyTokenSession:
    """Subclasses set BROKER, EXPIRES (hour, minute IST), TOKEN_ERRORS (the SDK's exceptions for
    a refused token) and new_client(). on_health(account_id, problem or None) hears every
    change: None after the first call a token answers, the problem when it is refused or
    expired. reload() (blocking, in a thread, at most every RELOAD_EVERY_S while there is a
    problem) reads the stored credentials again."""
    BROKER = "the broker"
    EXPIRES = (6, 0)
    TOKEN_ERRORS: tuple = ()
    RELOAD_EVERY_S = 5.0

    def __init__(self, creds: AppCredentials, root: str, timeout_s: float,
                 limiter: RateLimiter, on_health: Callable[[str, str | None], None] | None = None,
                 account_name: str | None = None,
                 reload: Callable[[], AppCredentials] | None = None):
        self.creds, self.root, self.timeout_s, self.limiter = creds, root, timeout_s, limiter
        self.reload, self.reloaded_at = reload, time.monotonic()
        self.on_health = on_health or (lambda account_id, problem: None)
        self.name = account_name or creds.account_id
        self.client = None
        self.refused: str | None = None
        self.reported: str | None = "not yet"    # the last health reported

    def new_client(self):
        raise NotImplementedError

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
            return f"no {self.BROKER} session yet; {again}"
        if time.time() * 1000 >= expires_at_ms(self.creds.token_at_ms or 0, *self.EXPIRES):
            hour, minute = self.EXPIRES
            return f"the {self.BROKER} session expired at {hour:02d}:{minute:02d} IST; {again}"
        return None

    async def ensure(self) -> None:
        problem = self._problem()
        if problem and self.reload and time.monotonic() - self.reloaded_at >= self.RELOAD_EVERY_S:
            self.reloaded_at = time.monotonic()
            fresh = await asyncio.to_thread(self.reload)
            if fresh.access_token != self.creds.access_token:
                log.info("account %s: a new %s session was stored; using it", self.name,
                         self.BROKER)
                self.creds, self.client, self.refused = fresh, None, None
                problem = self._problem()
        if problem:
            self._report(problem)
            raise LoginFailed(problem)
        if self.client is None:
            self.client = self.new_client()

    def _report(self, problem: str | None) -> None:
        if problem != self.reported:
            self.reported = problem
            self.on_health(self.creds.account_id, problem)

    async def call(self, kind: str, method, *args, **kwargs):
        """One SDK call (a method name of the client, or a function of it) under the rate
        limit. A refused token ends the session (the owner must log in again); every other
        failure propagates: the caller decides."""
        await self.ensure()
        await self.limiter.acquire(self.client_code, kind)
        call = getattr(self.client, method) if isinstance(method, str) else method(self.client)
        try:
            answer = await asyncio.to_thread(call, *args, **kwargs)
        except self.TOKEN_ERRORS as exc:
            if not self.is_token_error(exc):
                raise
            self.refused = (f"{self.BROKER} refused the session's token; log in again: "
                            f"pinewire account login {self.name}")
            log.warning("account %s: %s", self.creds.account_id, self.refused)
            self._report(self.refused)
            raise LoginFailed(self.refused) from None
        self._report(None)
        return answer

    def is_token_error(self, exc: Exception) -> bool:
        return True
