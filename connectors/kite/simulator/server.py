"""`pinewire kite-sim`: the REST API and the ticker websocket on 127.0.0.1, with a random walk
of every price unless prices are scripted through /sim/price."""
from __future__ import annotations

import secrets

from connectors import sim_common
from connectors.kite.simulator import rest, ticker
from connectors.kite.simulator.state import KiteAccount as Account, KiteSim


def demo() -> dict:
    return {"user_id": "ZS0001", "api_key": secrets.token_hex(8),
                          "api_secret": secrets.token_hex(16)}


async def serve(sim: KiteSim, host: str, rest_port: int, ws_port: int,
                walk_interval_s: float | None = None) -> None:
    await sim_common.serve(rest.create_app(sim), sim, host, rest_port,
                           ticker.start(sim, host, ws_port), walk_interval_s)


NAME = "Kite"


def who(account: Account) -> str:
    return account.user_id


def create(accounts: list[Account]) -> KiteSim:
    return KiteSim(accounts)


def env_lines(host: str, rest_port: int, ws_port: int) -> list[str]:
    return [f"PINEWIRE_KITE_ROOT=http://{host}:{rest_port}",
            f"PINEWIRE_KITE_WS_URL=ws://{host}:{ws_port}",
            f"PINEWIRE_KITE_LOGIN_URL=http://{host}:{rest_port}/connect/login"]
