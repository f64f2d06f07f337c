"""`pinewire smartapi-sim`: the REST API and both websockets on 127.0.0.1, with a random walk
for subscribed prices unless the prices are scripted through /sim/price."""
from __future__ import annotations

import asyncio
import logging
import secrets

import pyotp

from connectors import sim_common
from connectors.smartapi.simulator import rest, streams
from connectors.smartapi.simulator.state import Account, SimState
from schemas.instruments import CATALOG

log = logging.getLogger(__name__)


async def serve(sim: SimState, host: str, rest_port: int, ws_port: int,
                walk_interval_s: float | None = None, ready: asyncio.Event | None = None) -> None:
    await sim_common.serve(rest.create_app(sim), sim, host, rest_port,
                           streams.start(sim, host, ws_port), walk_interval_s, ready)


def demo() -> dict:
    return {"client_code": "SIM001", "pin": f"{secrets.randbelow(10**4):04d}",
            "totp_secret": pyotp.random_base32(32), "api_key": secrets.token_hex(8)}


def default_prices() -> dict[str, int]:
    return {token: inst.reference_paise for token, inst in CATALOG.items()}


NAME = "SmartAPI"


def who(account: Account) -> str:
    return account.client_code


def create(accounts: list[Account]) -> SimState:
    return SimState(accounts, default_prices())


def env_lines(host: str, rest_port: int, ws_port: int) -> list[str]:
    return [f"PINEWIRE_SMARTAPI_ROOT=http://{host}:{rest_port}",
            f"PINEWIRE_SMARTAPI_WS_URL=ws://{host}:{ws_port}/smart-stream",
            f"PINEWIRE_SMARTAPI_ORDER_WS_URL=ws://{host}:{ws_port}/smart-order-update"]
