"""What every broker simulator shares around the simulated exchange (SimState): the faults a
placement meets on the way (the gateway's 502 page, an answer held back after the order was
placed), the rate-limit check, the /sim/* routes that script and inspect it, and serving it.
Each broker's simulator adds its own protocol (connectors/<broker>/simulator/)."""
from __future__ import annotations

import asyncio
import json
import random
import time
from pathlib import Path
from typing import Callable

import uvicorn
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from websockets.exceptions import ConnectionClosed

from connectors.smartapi.simulator.state import Faults, Order, SimState

GATEWAY_PAGE = "<html><body><h1>502 Bad Gateway</h1></body></html>"


def over_limit(ex: SimState, client: str, kind: str) -> bool:
    """The call is refused for its rate: a scripted rate_limit fault (orders), or the broker's
    own limits when enforced."""
    if kind == "order" and ex.faults.take("rate_limit"):
        return True
    return ex.enforce_rate_limits and not ex.limiter.allow(client, kind, time.monotonic())


def gateway_error(ex: SimState) -> Response | None:
    """The gateway's HTML 502 page when the place_5xx fault fires (nothing placed)."""
    if ex.faults.take("place_5xx"):
        return Response(GATEWAY_PAGE, status_code=502, media_type="text/html")
    return None


async def accepted(ex: SimState, order: Order) -> None:
    """A placed order: worked soon, and its answer held back for timeout_s when the
    place_timeout fault fires (placed, but answered too late)."""
    ex.work_soon(order)
    if ex.faults.take("place_timeout"):
        ex.held_answers += 1
        try:
            await asyncio.sleep(ex.faults.timeout_s)
        finally:
            ex.held_answers -= 1


async def socket_session(ex: SimState, ws, events: asyncio.Queue, listens: list[set],
                         *workers) -> None:
    """Run a websocket's workers (coroutines reading the exchange's ticks or order states from
    `events`, registered by listen() in each of `listens`) until one ends, the client goes, or
    a drop_streams fault cuts the connection — a drop, not a close: no close frame reaches the
    client."""
    dropped = asyncio.Event()
    ex.stream_drops.add(dropped)
    tasks = [asyncio.create_task(w) for w in workers] + [asyncio.create_task(dropped.wait())]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        if dropped.is_set():
            ws.transport.abort()
    except ConnectionClosed:
        pass
    finally:
        for task in tasks:
            task.cancel()
        for listeners in listens:
            listeners.discard(events)
        ex.stream_drops.discard(dropped)


def listen(*listens: set) -> asyncio.Queue:
    """A queue of the exchange's events for one socket, registered in each listener set."""
    events: asyncio.Queue = asyncio.Queue()
    for listeners in listens:
        listeners.add(events)
    return events


def scripting_routes(exchange: Callable[[Request], SimState],
                     rows: Callable[[Request], list[dict]],
                     tokens: Callable[[Request], list]) -> list[Route]:
    """POST /sim/faults (any Faults field), GET /sim/orders (every order, as the broker shows
    them), GET /sim/sessions (every token issued: tests check none leaked), GET
    /sim/held-answers, POST /sim/drop-streams, GET /sim/stop-rules (every broker-side stop rule
    the exchange keeps, with its state), GET /sim/history-calls (historical API calls
    answered)."""
    async def faults(request: Request):
        current = exchange(request).faults
        for key, value in (await request.json()).items():
            if key not in Faults.__dataclass_fields__:
                return JSONResponse({"error": f"unknown fault {key!r}"}, status_code=422)
            setattr(current, key, value)
        return JSONResponse(current.__dict__)

    async def orders(request: Request):
        return JSONResponse(rows(request))

    async def sessions(request: Request):
        return JSONResponse(tokens(request))

    async def held(request: Request):
        return JSONResponse({"held": exchange(request).held_answers})

    async def drop(request: Request):
        return JSONResponse({"dropped": exchange(request).drop_streams()})

    async def stop_rules(request: Request):
        return JSONResponse([r.__dict__ for r in exchange(request).stop_rules.values()])

    async def history_calls(request: Request):
        return JSONResponse({"calls": exchange(request).history_calls})

    return [Route("/sim/faults", faults, methods=["POST"]),
            Route("/sim/orders", orders, methods=["GET"]),
            Route("/sim/sessions", sessions, methods=["GET"]),
            Route("/sim/held-answers", held, methods=["GET"]),
            Route("/sim/drop-streams", drop, methods=["POST"]),
            Route("/sim/stop-rules", stop_rules, methods=["GET"]),
            Route("/sim/history-calls", history_calls, methods=["GET"])]


async def random_walk(sim, interval_s: float, seed: int) -> None:
    """Every price a step of a random walk each interval (multiples of 5 paise)."""
    rng = random.Random(seed)
    while True:
        await asyncio.sleep(interval_s)
        for token, price in list(sim.prices.items()):
            step = max(5, int(price * rng.gauss(0, 0.0004)) // 5 * 5)
            sim.set_price(token, max(5, price + rng.choice((-1, 1)) * step))


async def serve(app, sim, host: str, rest_port: int, sockets_started,
                walk_interval_s: float | None = None, ready: asyncio.Event | None = None) -> None:
    """The REST app and the simulator's websockets (sockets_started: the started server), with
    a random walk of every price (sim.prices, sim.set_price) unless prices are scripted."""
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=rest_port, log_level="warning",
                                           access_log=False))
    sockets = await sockets_started
    walker = asyncio.create_task(random_walk(sim, walk_interval_s, 7)) \
        if walk_interval_s else None
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
        sockets.close()
        await sockets.wait_closed()


def accounts_from(path: Path, kind: type, demo: Callable[[], dict] | None = None) -> list:
    """A simulator's accounts: a JSON list of `kind`'s fields. A missing file is first written
    with one demo account, privately (mode 600), so its credentials are never printed."""
    if not path.exists() and demo is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_text(json.dumps([demo()], indent=2))
        print(f"demo account credentials written to {path}")
    return [kind(**entry) for entry in json.loads(path.read_text())]
