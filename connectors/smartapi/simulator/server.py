"""`pinewire smartapi-sim`: the REST API and both websockets on 127.0.0.1, with a random walk
for subscribed prices unless the prices are scripted through /sim/price."""
from __future__ import annotations

import asyncio
import json
import logging
import random
import secrets
from pathlib import Path

import pyotp
import uvicorn

from connectors.smartapi.simulator import rest, streams
from connectors.smartapi.simulator.state import Account, SimState
from schemas.instruments import CATALOG

log = logging.getLogger(__name__)


def load_accounts(path: Path) -> list[Account]:
    """A JSON list of {client_code, pin, totp_secret, api_key}."""
    return [Account(**entry) for entry in json.loads(path.read_text())]


async def random_walk(sim: SimState, interval_s: float, seed: int) -> None:
    rng = random.Random(seed)
    while True:
        await asyncio.sleep(interval_s)
        for token, price in list(sim.prices.items()):
            step = max(5, int(price * rng.gauss(0, 0.0004)) // 5 * 5)
            sim.set_price(token, max(5, price + rng.choice((-1, 1)) * step))


async def serve(sim: SimState, host: str, rest_port: int, ws_port: int,
                walk_interval_s: float | None = None, ready: asyncio.Event | None = None) -> None:
    config = uvicorn.Config(rest.create_app(sim), host=host, port=rest_port, log_level="warning",
                            access_log=False)
    server = uvicorn.Server(config)
    websockets = await streams.start(sim, host, ws_port)
    walker = asyncio.create_task(random_walk(sim, walk_interval_s, 7)) if walk_interval_s else None
    serving = asyncio.create_task(server.serve())
    while not server.started:
        if serving.done():
            await serving
        await asyncio.sleep(0.02)
    if ready:
        ready.set()
    try:
        await serving
    finally:
        if walker:
            walker.cancel()
        websockets.close()
        await websockets.wait_closed()


def demo_account(path: Path) -> Account:
    """A simulator account kept in a private file, so its credentials are never printed."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        account = {"client_code": "SIM001", "pin": f"{secrets.randbelow(10**4):04d}",
                   "totp_secret": pyotp.random_base32(32), "api_key": secrets.token_hex(8)}
        path.touch(mode=0o600)
        path.write_text(json.dumps([account], indent=2))
        print(f"demo account credentials written to {path}")
    return load_accounts(path)[0]


def default_prices() -> dict[str, int]:
    return {token: inst.reference_paise for token, inst in CATALOG.items()}
