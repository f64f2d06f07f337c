"""A Kite Connect session (connectors.daily_session): the login URL, the redirect's request
token exchanged with the app's secret for the day's access token, which ends at 06:00 IST."""
from __future__ import annotations

import logging

from kiteconnect import KiteConnect, exceptions as kex

from connectors.credentials import AppCredentials, LoginFailed
from connectors.daily_session import DailyTokenSession, code_from, \
    expires_at_ms as daily_expiry
from connectors.kite.ratelimit import LIMITER
from connectors.ratelimit import RateLimiter

logging.getLogger("kiteconnect").setLevel(logging.INFO)   # its debug logs print headers
LOGIN_URL = "https://kite.zerodha.com/connect/login"


def login_url(api_key: str, login_root: str = LOGIN_URL) -> str:
    return f"{login_root}?api_key={api_key}&v=3"


def request_token_from(text: str) -> str:
    """The request token in what the user pasted: the whole redirect URL, or the token."""
    return code_from(text, "request_token")


def expires_at_ms(token_at_ms: int) -> int:
    """Kite access tokens end at 06:00 IST after they were issued."""
    return daily_expiry(token_at_ms, *KiteSession.EXPIRES)


def exchange_request_token(api_key: str, api_secret: str, request_token: str, root: str,
                           timeout_s: float) -> tuple[str, str]:
    """(access token, Kite user id) for a request token. Blocking: call it in a thread."""
    client = KiteConnect(api_key=api_key, root=root, timeout=timeout_s)
    try:
        data = client.generate_session(request_token, api_secret=api_secret)
    except kex.KiteException as exc:
        raise LoginFailed(f"Kite refused the request token: {exc}") from None
    return data["access_token"], data["user_id"]


class KiteSession(DailyTokenSession):
    BROKER = "Kite"
    EXPIRES = (6, 0)
    TOKEN_ERRORS = (kex.TokenException,)

    def __init__(self, creds: AppCredentials, root: str, timeout_s: float,
                 limiter: RateLimiter = LIMITER, **kwargs):
        super().__init__(creds, root, timeout_s, limiter, **kwargs)

    def new_client(self) -> KiteConnect:
        return KiteConnect(api_key=self.creds.api_key, access_token=self.creds.access_token,
                           root=self.root, timeout=self.timeout_s)


async def probe(creds: AppCredentials, root: str, timeout_s: float) -> tuple[bool, str]:
    """Fetch the profile once: (ok, what Kite said, in plain words)."""
    session = KiteSession(creds, root, timeout_s)
    try:
        profile = await session.call("other", "profile")
    except LoginFailed as exc:
        return False, str(exc)
    except Exception as exc:  # noqa: BLE001 - the network, a broken answer: say which
        return False, f"could not reach Kite at {root}: {type(exc).__name__}"
    name = profile.get("user_name") or creds.client_code
    return True, f"logged in as {name}; the profile answered"
