"""`pinewire upstox-sim`: the REST API and both feeds on 127.0.0.1, with a random walk of every
price unless prices are scripted through /sim/price."""
from __future__ import annotations

import asyncio
import json
import secrets
from pathlib import Path

import uvicorn

from connectors.smartapi.simulator.server import random_walk
from connectors.upstox.simulator import rest, streams
from connectors.upstox.simulator.state import UpstoxAccount, UpstoxSim


def load_accounts(path: Path) -> list[UpstoxAccount]:
    """A JSON list of {user_id, api_key, api_secret, redirect_uri}."""
    return [UpstoxAccount(**entry) for entry in json.loads(path.read_text())]


def demo_account(path: Path) -> UpstoxAccount:
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_text(json.dumps([{"user_id": "UP0001", "api_key": secrets.token_hex(8),
                                     "api_secret": secrets.token_hex(8)}], indent=2))
        print(f"demo account credentials written to {path}")
    return load_accounts(path)[0]


async def serve(sim: UpstoxSim, host: str, rest_port: int, ws_port: int,
                walk_interval_s: float | None = None) -> None:
    app = rest.create_app(sim, f"ws://{host}:{ws_port}")
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=rest_port, log_level="warning",
                                           access_log=False))
    sockets = await streams.start(sim, host, ws_port)
    walker = asyncio.create_task(random_walk(sim, walk_interval_s, 7)) \
        if walk_interval_s else None
    try:
        await server.serve()
    finally:
        if walker:
            walker.cancel()
        sockets.close()
        await sockets.wait_closed()
