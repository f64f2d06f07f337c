"""An Upstox session (connectors.daily_session): the authorization dialog, the redirect's code
exchanged with the app's secret and redirect URI for the day's access token (OAuth 2), which
ends at 03:30 IST. Calls go through the unmodified upstox-python-sdk, off the event loop."""
from __future__ import annotations

import logging
from urllib.parse import urlencode

import upstox_client
from upstox_client.rest import ApiException

from connectors.credentials import AppCredentials, LoginFailed
from connectors.daily_session import DailyTokenSession, code_from
from connectors.ratelimit import RateLimiter
from connectors.upstox.ratelimit import LIMITER

logging.getLogger("upstox_client").setLevel(logging.INFO)
API_VERSION = "2.0"


def configuration(root: str, access_token: str | None = None) -> upstox_client.Configuration:
    conf = upstox_client.Configuration()
    conf.host = conf.order_host = root
    if access_token:
        conf.access_token = access_token
    return conf


def deadline(timeout_s: float) -> tuple[float, float]:
    """The SDK's _request_timeout: an int (total) or a (connect, read) pair; it silently
    ignores a float, and the call then waits as long as the server does."""
    return (timeout_s, timeout_s)


def login_url(api_key: str, redirect_uri: str, root: str) -> str:
    return f"{root}/v2/login/authorization/dialog?" + urlencode(
        {"response_type": "code", "client_id": api_key, "redirect_uri": redirect_uri})


def exchange_code(creds: AppCredentials, code: str, root: str,
                  timeout_s: float) -> tuple[str, str]:
    """(access token, Upstox user id) for the redirect's code. Blocking: call it in a thread."""
    api = upstox_client.LoginApi(upstox_client.ApiClient(configuration(root)))
    try:
        answer = api.token(API_VERSION, code=code, client_id=creds.api_key,
                           client_secret=creds.api_secret, redirect_uri=creds.redirect_uri,
                           grant_type="authorization_code", _request_timeout=deadline(timeout_s))
    except ApiException as exc:
        raise LoginFailed(f"Upstox refused the code: {error_text(exc)}") from None
    return answer.access_token, answer.user_id


def code_in(text: str) -> str:
    return code_from(text, "code")


def error_text(exc: ApiException) -> str:
    """The broker's own words in an error answer."""
    import json
    try:
        errors = json.loads(exc.body or b"{}").get("errors") or []
        return "; ".join(f"{e.get('message')} ({e.get('errorCode') or e.get('error_code')})"
                         for e in errors) or f"HTTP {exc.status}"
    except (ValueError, AttributeError):
        return f"HTTP {exc.status}"


class UpstoxSession(DailyTokenSession):
    BROKER = "Upstox"
    EXPIRES = (3, 30)
    TOKEN_ERRORS = (ApiException,)

    def __init__(self, creds: AppCredentials, root: str, timeout_s: float,
                 limiter: RateLimiter = LIMITER, **kwargs):
        super().__init__(creds, root, timeout_s, limiter, **kwargs)

    def new_client(self) -> upstox_client.ApiClient:
        return upstox_client.ApiClient(configuration(self.root, self.creds.access_token))

    def is_token_error(self, exc: ApiException) -> bool:
        return exc.status == 401

    async def api(self, kind: str, api: type, method: str, *args, **kwargs):
        """Call `api(client).method(*args)` (an SDK API class) with the session's timeout."""
        return await self.call(kind, lambda client: getattr(api(client), method), *args,
                               _request_timeout=deadline(self.timeout_s), **kwargs)


async def probe(creds: AppCredentials, root: str, timeout_s: float) -> tuple[bool, str]:
    """Fetch the profile once: (ok, what Upstox said, in plain words)."""
    session = UpstoxSession(creds, root, timeout_s)
    try:
        profile = await session.api("other", upstox_client.UserApi, "get_profile", API_VERSION)
    except LoginFailed as exc:
        return False, str(exc)
    except ApiException as exc:
        return False, f"Upstox answered {error_text(exc)}"
    except Exception as exc:  # noqa: BLE001 - the network, a broken answer: say which
        return False, f"could not reach Upstox at {root}: {type(exc).__name__}"
    return True, (f"logged in as {profile.data.user_name or creds.client_code}; the profile "
                  "answered")
