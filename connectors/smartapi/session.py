"""A logged-in SmartAPI session: login with PIN and TOTP, token refresh, a new login after
the midnight expiry, rate limits, and the SDK's blocking calls moved off the event loop."""
from __future__ import annotations

import asyncio
import base64
import json
import logging
import time
from datetime import datetime, timedelta, timezone

from connectors.smartapi.ratelimit import LIMITER, RateLimiter
from connectors.smartapi.sdk import sdk
from pinewire.accounts import Credentials

log = logging.getLogger(__name__)
# Even at DEBUG: urllib3 would log getProfile's URL (the SDK puts the refresh token in its query
# string) and the websockets client the handshake headers (API key, access and feed tokens).
logging.getLogger("urllib3").setLevel(logging.INFO)
logging.getLogger("websockets.client").setLevel(logging.INFO)
IST = timezone(timedelta(hours=5, minutes=30))
TOKEN_ERRORS = {"AG8001", "AG8002", "AG8003", "AB1010", "AB1011"}


class LoginFailed(RuntimeError):
    pass


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
    def __init__(self, creds: Credentials, root: str, timeout_s: float,
                 limiter: RateLimiter = LIMITER):
        self.creds, self.root, self.timeout_s, self.limiter = creds, root, timeout_s, limiter
        self.client = None
        self.login_day: str | None = None
        self._lock = asyncio.Lock()

    @property
    def client_code(self) -> str:
        return self.creds.client_code

    def auth_headers(self) -> dict:
        """Headers of both websockets. Contains secrets: never log it."""
        return {"Authorization": f"Bearer {self.client.access_token}",
                "x-api-key": self.creds.api_key, "x-client-code": self.client_code,
                "x-feed-token": self.client.feed_token}

    async def ensure(self) -> None:
        async with self._lock:
            today = datetime.now(IST).date().isoformat()
            if self.client is None or self.login_day != today:
                await self._login(today)
            elif (exp := _jwt_expiry(self.client.access_token)) and exp - time.time() < 300:
                await self._refresh_or_login()

    async def _login(self, today: str) -> None:
        client = sdk().SmartConnect(api_key=self.creds.api_key, root=self.root,
                                    timeout=self.timeout_s)
        client._rootUrl = self.root   # individual_order_details reads the class attribute
        for attempt in range(5):
            await self.limiter.acquire(self.client_code, "login")
            try:
                data = await asyncio.to_thread(client.generateSession, self.client_code,
                                               self.creds.pin, self.creds.totp())
            except sdk().exceptions.DataException:
                await asyncio.sleep(1 + attempt)   # rate-limited or a broken answer: later
                continue
            if data.get("status"):
                self.client, self.login_day = client, today
                log.info("logged in to SmartAPI as %s", self.client_code)
                return
            raise LoginFailed(f"SmartAPI login for {self.client_code} refused: "
                              f"{data.get('message')} ({error_code(data)})")
        raise LoginFailed(f"SmartAPI login for {self.client_code} kept failing")

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
