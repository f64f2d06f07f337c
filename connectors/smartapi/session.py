"""A logged-in SmartAPI session: login with PIN and TOTP, token refresh, a new login after
the midnight expiry, rate limits, and the SDK's blocking calls moved off the event loop."""
from __future__ import annotations

import asyncio
import base64
import json
import logging
import time
from datetime import datetime
from typing import Callable

import requests

from connectors.credentials import Credentials, LoginFailed
from connectors.ratelimit import RateLimiter
from connectors.smartapi.ratelimit import LIMITER
from connectors.smartapi.sdk import sdk
from schemas.market_time import IST

log = logging.getLogger(__name__)
# Even at DEBUG: urllib3 would log getProfile's URL (the SDK puts the refresh token in its query
# string) and the websockets client the handshake headers (API key, access and feed tokens).
logging.getLogger("urllib3").setLevel(logging.INFO)
logging.getLogger("websockets.client").setLevel(logging.INFO)
TOKEN_ERRORS = {"AG8001", "AG8002", "AG8003", "AB1010", "AB1011"}


def error_code(response) -> str | None:
    """The error code of a failed answer in either shape the gateway uses, else None."""
    if not isinstance(response, dict):
        return None
    if response.get("status") is True:
        return None
    if response.get("status") is False or response.get("success") is False:
        return response.get("errorcode") or response.get("errorCode") or "UNKNOWN"
    return None


def _jwt_expiry(token: str | None) -> float | None:
    try:
        payload = token.split(".")[1]
        return float(json.loads(base64.urlsafe_b64decode(payload + "==="))["exp"])
    except Exception:  # noqa: BLE001 - not a JWT, or no expiry in it: rely on error codes
        return None


class Session:
    """A refused login (wrong PIN, TOTP seed or API key) is not tried again with the same
    credentials: brokers lock accounts after repeated wrong PINs. Other login failures (network,
    broken answers) are retried with a growing pause. on_health(account_id, problem or None)
    hears every change."""

    def __init__(self, creds: Credentials, root: str, timeout_s: float,
                 limiter: RateLimiter = LIMITER,
                 on_health: Callable[[str, str | None], None] | None = None):
        self.creds, self.root, self.timeout_s, self.limiter = creds, root, timeout_s, limiter
        self.client = None
        self.login_day: str | None = None
        self.refused: str | None = None          # the broker's answer to these credentials
        self.retry_at, self.failures = 0.0, 0
        self.on_health = on_health or (lambda account_id, problem: None)
        self._lock = asyncio.Lock()

    @property
    def client_code(self) -> str:
        return self.creds.client_code

    def auth_headers(self) -> dict:
        """Headers of both websockets. Contains secrets: never log it."""
        return {"Authorization": f"Bearer {self.client.access_token}",
                "x-api-key": self.creds.api_key, "x-client-code": self.client_code,
                "x-feed-token": self.client.feed_token}

    def _check_health(self) -> None:
        if self.refused:
            raise LoginFailed(self.refused)
        if time.monotonic() < self.retry_at:
            raise LoginFailed(f"SmartAPI login for {self.client_code} failed; next try in "
                              f"{self.retry_at - time.monotonic():.0f}s")

    async def ensure(self) -> None:
        self._check_health()
        async with self._lock:
            self._check_health()   # a call waiting on the lock learns what the login found
            today = datetime.now(IST).date().isoformat()
            if self.client is None or self.login_day != today:
                await self._login(today)
            elif (exp := _jwt_expiry(self.client.access_token)) and exp - time.time() < 300:
                await self._refresh_or_login()

    async def _login(self, today: str) -> None:
        client = sdk().SmartConnect(api_key=self.creds.api_key, root=self.root,
                                    timeout=self.timeout_s)
        client._rootUrl = self.root   # individual_order_details reads the class attribute
        for attempt in range(3):
            await self.limiter.acquire(self.client_code, "login")
            try:
                data = await asyncio.to_thread(client.generateSession, self.client_code,
                                               self.creds.pin, self.creds.totp())
            except (sdk().exceptions.DataException, requests.RequestException) as exc:
                problem = f"{type(exc).__name__}"   # rate-limited, unreachable, a broken answer
                await asyncio.sleep(1 + attempt)
                continue
            if data.get("status"):
                self.client, self.login_day = client, today
                self.failures, self.retry_at = 0, 0.0
                self.on_health(self.creds.account_id, None)
                log.info("logged in to SmartAPI as %s", self.client_code)
                return
            self.refused = (f"login failed: {data.get('message') or 'refused'} "
                            f"({error_code(data)}); fix the account's credentials")
            log.warning("SmartAPI login for %s refused: %s", self.client_code, self.refused)
            self.on_health(self.creds.account_id, self.refused)
            raise LoginFailed(self.refused)
        self.failures += 1
        self.retry_at = time.monotonic() + min(300.0, 5.0 * 2 ** self.failures)
        problem = f"login failed: SmartAPI unreachable or answering badly ({problem})"
        log.warning("SmartAPI login for %s: %s", self.client_code, problem)
        self.on_health(self.creds.account_id, problem)
        raise LoginFailed(problem)

    async def _refresh_or_login(self) -> None:
        await self.limiter.acquire(self.client_code, "token")
        try:
            data = await asyncio.to_thread(self.client.generateToken, self.client.refresh_token)
            if data.get("status"):
                log.info("SmartAPI tokens refreshed for %s", self.client_code)
                return
        except Exception:  # noqa: BLE001 - any failure here means: log in again
            pass
        await self._login(datetime.now(IST).date().isoformat())

    async def call(self, kind: str, method: str, *args):
        """One SDK call under the rate limit; a token error refreshes the session and retries
        once. Transport errors and non-JSON answers propagate: the caller decides."""
        for attempt in range(2):
            await self.ensure()
            await self.limiter.acquire(self.client_code, kind)
            response = await asyncio.to_thread(getattr(self.client, method), *args)
            if error_code(response) in TOKEN_ERRORS and attempt == 0:
                log.info("SmartAPI token rejected (%s) for %s; refreshing", error_code(response),
                         self.client_code)
                async with self._lock:
                    await self._refresh_or_login()
                continue
            return response
        return response


PLAIN_WORDS = {"AB1007": "the client code, PIN or API key is wrong",
               "AB1050": "the TOTP code was refused: check the TOTP secret",
               "AG8001": "the API key or session was refused"}


async def probe(creds: Credentials, root: str, timeout_s: float) -> tuple[bool, str]:
    """Log in and fetch the profile once: (ok, what the broker said, in plain words). Never a
    stack trace, never a credential."""
    session = Session(creds, root, timeout_s)
    try:
        await session.ensure()
        profile = await session.call("book", "getProfile", session.client.refresh_token)
    except LoginFailed as exc:
        code = next((c for c in PLAIN_WORDS if c in str(exc)), None)
        return False, PLAIN_WORDS[code] + f" ({exc})" if code else str(exc)
    except Exception as exc:  # noqa: BLE001 - the network, a broken answer: say which
        return False, f"could not reach SmartAPI at {root}: {type(exc).__name__}"
    if error_code(profile):
        return False, f"logged in, but the profile was refused ({error_code(profile)})"
    name = (profile.get("data") or {}).get("name") or creds.client_code
    return True, f"logged in as {name}; the profile answered"
