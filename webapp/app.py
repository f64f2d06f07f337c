"""The Starlette application: routes declared in one place, shared clients in the lifespan."""
from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from pathlib import Path

from starlette.applications import Starlette
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from connectors.follower import TopicFollower
from schemas import money, sql, topics as registry
from schemas.settings import Settings, session_secret, settings as load_settings, \
    webhook_token_key
from webapp import (api, gateway, live, metrics, pages, position_actions, settings_pages,
                    status)
from webapp.auth import Throttle, signed_in
from webapp.catalog import DailyMaster, catalog
from webapp.directory import LinkDirectory

log = logging.getLogger("pinewire.web")
# whatever the case, the slashes or what comes before or after: a mistyped webhook URL too
_HOOK_PATH = re.compile(r"(/+hook/+)[^/]+", re.IGNORECASE)
# a segment as long as a token, of its letters (a webhook URL missing its /hook/): no id of
# pinewire's is that long
_TOKEN_LIKE = re.compile(r"(?<=/)[A-Za-z0-9_-]{24,}(?=/|$)")
_HOOK_ROUTE = re.compile(r"^/hook/([^/]+)$")


def redact(path: str) -> str:
    """Webhook tokens never reach a log."""
    return _TOKEN_LIKE.sub("<token?>", _HOOK_PATH.sub(r"\1<token>", path))


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
        finally:   # an accepted alert at DEBUG: a burst of them would cost a line each
            quiet = code[0] < 400 and scope["path"].startswith("/hook/")
            log.log(logging.DEBUG if quiet else logging.INFO, "%s %s %d %.1fms",
                    scope["method"], redact(scope["path"]), code[0],
                    (time.perf_counter() - started) * 1000)


class SecurityHeaders:
    """No inline script, no framing, no referrer (pages show webhook URLs), no sniffing."""

    HEADERS = [(b"content-security-policy", b"default-src 'self'; script-src 'self'; "
                b"style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
                b"frame-ancestors 'none'; form-action 'self'"),
               (b"x-frame-options", b"DENY"), (b"referrer-policy", b"no-referrer"),
               (b"x-content-type-options", b"nosniff")]

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def send_wrapper(message):
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] = list(message["headers"]) + self.HEADERS
            await send(message)
        await self.app(scope, receive, send_wrapper)


class HookFastPath:
    """POST /hook/<token> goes straight to the gateway: an alert burst skips the dashboard's
    layers (sessions, page security headers, routing), which took a third of the web process's
    time per alert. The answer is JSON to a machine; the access log still sees it."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and scope["method"] == "POST":
            match = _HOOK_ROUTE.match(scope["path"])
            if match:   # scope["app"] is the Starlette app already: request.app.state works
                scope["path_params"] = {"token": match.group(1)}
                response = await gateway.hook(Request(scope, receive))
                return await response(scope, receive, send)
        await self.app(scope, receive, send)


ROUTES = [
    Route("/hook/{token}", gateway.hook, methods=["POST"]),
    Route("/healthz", status.healthz),
    Route("/metrics", metrics.metrics),
    Route("/status", status.status_html),
    Route("/status.json", status.status_json),
    Route("/", pages.home),
    Route("/login", pages.login, methods=["GET", "POST"]),
    Route("/logout", pages.logout, methods=["POST"]),
    Route("/register", pages.register, methods=["GET", "POST"]),
    Route("/password", pages.password, methods=["GET", "POST"]),
    Route("/bot", pages.bot, methods=["POST"]),
    Route("/links", pages.links_page),
    Route("/links/new", pages.link_new, methods=["GET", "POST"]),
    Route("/links/{link_id}/edit", pages.link_edit, methods=["GET", "POST"]),
    Route("/links/{link_id}/{action}", pages.link_action, methods=["POST"]),
    Route("/accounts", pages.accounts_page, methods=["GET", "POST"]),
    Route("/accounts/{account_id}/broker-login", pages.broker_login_page, methods=["GET"]),
    Route("/accounts/{account_id}/{action}", pages.account_action, methods=["POST"]),
    Route("/live", pages.live_page),
    Route("/live/events", signed_in(live.stream)),
    Route("/positions/{position_id}", pages.position_page),
    Route("/positions/{position_id}/close", position_actions.close, methods=["POST"]),
    Route("/positions/{position_id}/levels", position_actions.set_levels, methods=["POST"]),
    Route("/live/close-all", position_actions.close_all, methods=["POST"]),
    Route("/strategies", settings_pages.strategies_page, methods=["GET", "POST"]),
    Route("/strategies/{link_id}/detach", settings_pages.strategy_detach, methods=["POST"]),
    Route("/universes", settings_pages.universe_add, methods=["POST"]),
    Route("/telegram", settings_pages.telegram_page, methods=["GET", "POST"]),
    Route("/orders", pages.orders_page),
    Route("/orders.csv", pages.orders_page),
    Route("/orders/delete", pages.orders_delete, methods=["POST"]),
    Route("/logs", pages.logs_page),
    Route("/admin", pages.admin_page),
    Route("/api/v1/openapi.json", api.openapi),
    Route("/api/v1/tokens", api.tokens, methods=["POST", "DELETE"]),
    Route("/api/v1/links", api.links_collection, methods=["GET", "POST"]),
    Route("/api/v1/links/{link_id}", api.link_item, methods=["GET", "PATCH", "DELETE"]),
    Route("/api/v1/links/{link_id}/rotate", api.link_rotate, methods=["POST"]),
    Route("/api/v1/accounts", api.accounts_collection, methods=["GET", "POST"]),
    Route("/api/v1/accounts/{account_id}/test", api.account_test, methods=["POST"]),
    Route("/api/v1/accounts/{account_id}/login", api.account_login, methods=["GET", "POST"]),
    Route("/api/v1/positions", api.positions),
    Route("/api/v1/positions/close", api.positions_close, methods=["POST"]),
    Route("/api/v1/positions/{position_id}", api.position_item, methods=["GET", "PATCH"]),
    Route("/api/v1/positions/{position_id}/close", api.position_close, methods=["POST"]),
    Route("/api/v1/commands/{command_id}", api.command_item),
    Route("/api/v1/orders", api.orders, methods=["GET", "DELETE"]),
    Route("/api/v1/bot", api.bot, methods=["GET", "PUT"]),
    Route("/api/v1/strategies", api.strategies_collection, methods=["GET", "POST"]),
    Route("/api/v1/strategies/{link_id}", api.strategy_item, methods=["DELETE"]),
    Route("/api/v1/universes", api.universes_collection, methods=["GET", "POST"]),
    Route("/api/v1/telegram", api.telegram_setting, methods=["GET", "PUT", "DELETE"]),
    Route("/api/v1/telegram/test", api.telegram_test, methods=["POST"]),
    Route("/api/v1/logs", api.logs),
    Route("/api/v1/events", signed_in(live.stream)),
    Mount("/static", StaticFiles(directory=str(Path(__file__).parent / "static")), name="static"),
]


def create_app(settings: Settings | None = None) -> Starlette:
    settings = settings or load_settings()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette):
        state = app.state
        state.heartbeats.start()
        state.events.start()
        state.directory.start()
        refresher = asyncio.create_task(state.catalog.keep_fresh()) \
            if isinstance(state.catalog, DailyMaster) else None
        try:
            yield
        finally:
            if refresher:
                refresher.cancel()
            await state.heartbeats.stop()
            await state.events.stop()
            await state.directory.stop()
            await state.producer.stop()

    app = Starlette(routes=ROUTES, lifespan=lifespan,
                    exception_handlers={404: pages.not_found, 405: pages.not_found})
    app.state.settings = settings
    app.state.engine = sql.engine(settings.sql_url)
    app.state.token_key = webhook_token_key(settings)     # read once, off the request path
    app.state.producer = gateway.AlertProducer(settings.bootstrap)
    app.state.catalog = catalog(settings)
    app.state.workers_topic = registry.topic_name(settings.namespace, registry.WORKERS)
    app.state.heartbeats = TopicFollower(settings.bootstrap, [app.state.workers_topic])
    app.state.events = live.EventHub(settings.bootstrap,
                                     registry.topic_name(settings.namespace, registry.EVENTS))
    app.state.directory = LinkDirectory(settings.bootstrap, settings.namespace)
    app.state.throttle = Throttle()
    app.state.templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
    app.state.templates.env.filters["inr"] = money.inr
    app.add_middleware(SessionMiddleware, secret_key=session_secret(settings),
                       session_cookie="pinewire_session", same_site="lax",
                       https_only=settings.base_url.startswith("https://"))
    app.add_middleware(SecurityHeaders)
    app.add_middleware(HookFastPath)
    app.add_middleware(AccessLog)
    return app
