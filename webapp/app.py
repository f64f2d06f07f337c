"""The Starlette application: routes declared in one place, shared clients in the lifespan."""
from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from pathlib import Path

from starlette.applications import Starlette
from starlette.routing import Route
from starlette.templating import Jinja2Templates

from pinewire.follower import TopicFollower
from pinewire.settings import Settings, settings as load_settings
from schemas import sql
from schemas import topics as registry
from webapp import gateway, status
from webapp.catalog import DailyMaster, catalog

log = logging.getLogger("pinewire.web")
_HOOK_PATH = re.compile(r"^/hook/[^/]+")


def redact(path: str) -> str:
    """Webhook tokens never reach a log."""
    return _HOOK_PATH.sub("/hook/<token>", path)


class AccessLog:
    """Replaces uvicorn's access log, which would print the token in the path."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started, code = time.perf_counter(), [500]

        async def send_wrapper(message):
            if message["type"] == "http.response.start":
                code[0] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            log.info("%s %s %d %.1fms", scope["method"], redact(scope["path"]), code[0],
                     (time.perf_counter() - started) * 1000)


def create_app(settings: Settings | None = None) -> Starlette:
    settings = settings or load_settings()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette):
        state = app.state
        state.heartbeats.start()
        refresher = asyncio.create_task(state.catalog.keep_fresh()) \
            if isinstance(state.catalog, DailyMaster) else None
        try:
            yield
        finally:
            if refresher:
                refresher.cancel()
            await state.heartbeats.stop()
            await state.producer.stop()

    app = Starlette(routes=[
        Route("/hook/{token}", gateway.hook, methods=["POST"]),
        Route("/status", status.status_html),
        Route("/status.json", status.status_json),
        Route("/healthz", status.healthz),
    ], lifespan=lifespan)
    app.state.settings = settings
    app.state.engine = sql.engine(settings.sql_url)
    app.state.producer = gateway.AlertProducer(settings.bootstrap)
    app.state.catalog = catalog(settings)
    app.state.workers_topic = registry.topic_name(settings.namespace, registry.WORKERS)
    app.state.heartbeats = TopicFollower(settings.bootstrap, [app.state.workers_topic])
    app.state.templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
    app.add_middleware(AccessLog)
    return app
