"""`pinewire upstox-sim`: the REST API and both feeds on 127.0.0.1, with a random walk of every
price unless prices are scripted through /sim/price."""
from __future__ import annotations

import secrets

from connectors import sim_common
from connectors.upstox.simulator import rest, streams
from connectors.upstox.simulator.state import UpstoxAccount as Account, UpstoxSim


def demo() -> dict:
    return {"user_id": "UP0001", "api_key": secrets.token_hex(8),
                          "api_secret": secrets.token_hex(8)}


async def serve(sim: UpstoxSim, host: str, rest_port: int, ws_port: int,
                walk_interval_s: float | None = None) -> None:
    await sim_common.serve(rest.create_app(sim, f"ws://{host}:{ws_port}"), sim, host, rest_port,
                           streams.start(sim, host, ws_port), walk_interval_s)


NAME = "Upstox"


def who(account: Account) -> str:
    return account.user_id


def create(accounts: list[Account]) -> UpstoxSim:
    return UpstoxSim(accounts)


def env_lines(host: str, rest_port: int, ws_port: int) -> list[str]:
    return [f"PINEWIRE_UPSTOX_ROOT=http://{host}:{rest_port}",
            f"PINEWIRE_UPSTOX_INSTRUMENTS_URL=http://{host}:{rest_port}"
            "/instruments/complete.json.gz"]
