"""`pinewire kite-sim`: the REST API and the ticker websocket on 127.0.0.1, with a random walk
of every price unless prices are scripted through /sim/price."""
from __future__ import annotations

import asyncio
import json
import secrets
from pathlib import Path

import uvicorn

from connectors.kite.simulator import rest, ticker
from connectors.kite.simulator.state import KiteAccount, KiteSim
from connectors.smartapi.simulator.server import random_walk


def load_accounts(path: Path) -> list[KiteAccount]:
    """A JSON list of {user_id, api_key, api_secret, redirect_url}."""
    return [KiteAccount(**entry) for entry in json.loads(path.read_text())]


def demo_account(path: Path) -> KiteAccount:
    """A simulator account kept in a private file, so its secret is never printed."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_text(json.dumps([{"user_id": "ZS0001", "api_key": secrets.token_hex(8),
                                     "api_secret": secrets.token_hex(16)}], indent=2))
        print(f"demo account credentials written to {path}")
    return load_accounts(path)[0]


async def serve(sim: KiteSim, host: str, rest_port: int, ws_port: int,
                walk_interval_s: float | None = None) -> None:
    server = uvicorn.Server(uvicorn.Config(rest.create_app(sim), host=host, port=rest_port,
                                           log_level="warning", access_log=False))
    sockets = await ticker.start(sim, host, ws_port)
    walker = asyncio.create_task(random_walk(sim, walk_interval_s, 7)) \
        if walk_interval_s else None
    try:
        await server.serve()
    finally:
        if walker:
            walker.cancel()
        sockets.close()
        await sockets.wait_closed()
