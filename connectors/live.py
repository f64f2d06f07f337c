"""A live account's adapter, whatever its broker: the session, the Broker that places orders,
and the order-update listener that turns the broker's order states into fills. The one place
that knows which broker kinds exist; an account's credentials say which it is."""
from __future__ import annotations

from dataclasses import dataclass

from connectors.credentials import Credentials, KiteCredentials
from connectors.order_updates import OrderUpdates
from connectors.placement import PlacingBroker
from schemas.settings import Settings


@dataclass
class LiveAccount:
    session: object
    broker: PlacingBroker
    updates: OrderUpdates


def open_account(creds: Credentials | KiteCredentials, settings: Settings, emit_fill,
                 on_health, account_name: str | None = None) -> LiveAccount:
    if isinstance(creds, KiteCredentials):
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


async def probe(creds: Credentials | KiteCredentials, settings: Settings) -> tuple[bool, str]:
    """Reach the broker as the workers would: (ok, its answer in plain words)."""
    if isinstance(creds, KiteCredentials):
        from connectors.kite.session import probe as kite_probe
        return await kite_probe(creds, settings.kite_root, settings.kite_timeout_s)
    from connectors.smartapi.session import probe as smartapi_probe
    return await smartapi_probe(creds, settings.smartapi_root, settings.smartapi_timeout_s)
