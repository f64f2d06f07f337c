"""A live account's adapter, whatever its broker: the session, the Broker that places orders,
and the order-update listener that turns the broker's order states into fills. The one place
that knows which broker kinds exist; an account's credentials say which it is."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from sqlalchemy import Engine

from connectors.credentials import Credentials, AppCredentials
from connectors.order_updates import OrderUpdates
from connectors.placement import PlacingBroker
from schemas.settings import Settings


@dataclass
class LiveAccount:
    session: object
    broker: PlacingBroker
    updates: OrderUpdates


def open_account(creds: Credentials | AppCredentials, settings: Settings, emit_fill,
                 on_health, account_name: str | None = None) -> LiveAccount:
    if isinstance(creds, AppCredentials) and creds.broker == "upstox":
        from connectors.upstox.broker import UpstoxBroker
        from connectors.upstox.master import Master
        from connectors.upstox.orders import UpstoxOrderUpdates
        from connectors.upstox.session import UpstoxSession
        session = UpstoxSession(creds, settings.upstox_root, settings.upstox_timeout_s,
                                on_health=on_health, account_name=account_name)
        master = Master(session, settings.upstox_instruments_url)
        return LiveAccount(session, UpstoxBroker(session, master),
                           UpstoxOrderUpdates(session, master, emit_fill))
    if isinstance(creds, AppCredentials):
        from connectors.kite.broker import KiteBroker
        from connectors.kite.master import Master
        from connectors.kite.orders import KiteOrderUpdates
        from connectors.kite.session import KiteSession
        session = KiteSession(creds, settings.kite_root, settings.kite_timeout_s,
                              on_health=on_health, account_name=account_name)
        master = Master(session)
        return LiveAccount(session, KiteBroker(session, master),
                           KiteOrderUpdates(session, master, settings.kite_ws_url, emit_fill))
    from connectors.smartapi.broker import SmartApiBroker
    from connectors.smartapi.orders import SmartApiOrderUpdates
    from connectors.smartapi.session import Session
    session = Session(creds, settings.smartapi_root, settings.smartapi_timeout_s,
                      on_health=on_health)
    return LiveAccount(session, SmartApiBroker(session),
                       SmartApiOrderUpdates(session, settings.smartapi_order_ws_url, emit_fill))


def count_calls_in(engine: Callable[[], Engine]) -> None:
    """This process's broker sessions count their calls in SQL with every other process's
    (connectors.call_log): the brokers' limits hold across workers and restarts."""
    from connectors.call_log import CallsInSql
    from connectors.kite import ratelimit as kite
    from connectors.smartapi import ratelimit as smartapi
    from connectors.upstox import ratelimit as upstox
    for broker, module in (("smartapi", smartapi), ("kite", kite), ("upstox", upstox)):
        longest = max(window for windows in module.LIMITS.values() for _, window in windows)
        module.LIMITER.calls = CallsInSql(engine, broker, longest)


async def probe(creds: Credentials | AppCredentials, settings: Settings) -> tuple[bool, str]:
    """Reach the broker as the workers would: (ok, its answer in plain words)."""
    if isinstance(creds, AppCredentials) and creds.broker == "upstox":
        from connectors.upstox.session import probe as upstox_probe
        return await upstox_probe(creds, settings.upstox_root, settings.upstox_timeout_s)
    if isinstance(creds, AppCredentials):
        from connectors.kite.session import probe as kite_probe
        return await kite_probe(creds, settings.kite_root, settings.kite_timeout_s)
    from connectors.smartapi.session import probe as smartapi_probe
    return await smartapi_probe(creds, settings.smartapi_root, settings.smartapi_timeout_s)


def login_page(creds: AppCredentials, settings: Settings) -> str:
    """Where the owner of a Kite or Upstox account logs in for the day."""
    if creds.broker == "upstox":
        from connectors.upstox.session import login_url
        return login_url(creds.api_key, creds.redirect_uri, settings.upstox_root)
    from connectors.kite.session import login_url
    return login_url(creds.api_key, settings.kite_login_url)


def complete_login(creds: AppCredentials, pasted: str, settings: Settings) -> tuple[str, str]:
    """(access token, the broker's user id) for what the owner pasted: the address the login
    page sent them to, or the code in it. Blocking."""
    if creds.broker == "upstox":
        from connectors.upstox.session import code_in, exchange_code
        return exchange_code(creds, code_in(pasted), settings.upstox_root,
                             settings.upstox_timeout_s)
    from connectors.kite.session import exchange_request_token, request_token_from
    return exchange_request_token(creds.api_key, creds.api_secret, request_token_from(pasted),
                                  settings.kite_root, settings.kite_timeout_s)


def session_ends_ms(broker: str, token_at_ms: int) -> int:
    """When a Kite or Upstox session issued then ends."""
    from connectors.daily_session import expires_at_ms
    from connectors.kite.session import KiteSession
    from connectors.upstox.session import UpstoxSession
    kind = UpstoxSession if broker == "upstox" else KiteSession
    return expires_at_ms(token_at_ms, *kind.EXPIRES)
