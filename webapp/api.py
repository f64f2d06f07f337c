"""The JSON API (/api/v1): the dashboard's data and actions for automation, with the same rules.
Bearer tokens (POST /api/v1/tokens, or `pinewire user token`); errors are {"error": "..."}."""
from __future__ import annotations

import asyncio
import json
from datetime import date

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from agents.strategies.base import StrategyError
from connectors.credentials import AccountError
from connectors.telegram import TelegramError
from webapp import commands, links, queries, users, views
from webapp import settings_views as sv
from webapp.auth import bearer, client_address, current_user, login_throttled, signed_in
from webapp.live import last_prices, position_view
from webapp.pages import order_filters, orders_csv


def error(message: str, status: int) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


async def body(request: Request) -> dict:
    try:
        data = json.loads(await request.body() or b"{}")
    except ValueError:
        raise ValueError("the body is not JSON") from None
    if not isinstance(data, dict):
        raise ValueError("the body must be a JSON object")
    return data


def handles_errors(handler):
    """The rules' errors as JSON with the right status."""
    async def guarded(request: Request) -> Response:
        try:
            return await handler(request)
        except views.NotFound as exc:
            return error(str(exc), 404)
        except PermissionError as exc:
            return error(str(exc), 403)
        except links.LinkError as exc:     # the settings called by the API's field names
            return JSONResponse({"error": exc.said({}), "field": exc.setting},
                                409 if "already exists" in exc.template else 422)
        except (AccountError, users.UserError, StrategyError, TelegramError) as exc:
            return error(str(exc), 409 if "already exists" in str(exc) or "taken" in str(exc)
                         else 422)
        except ValueError as exc:
            return error(str(exc), 400)
    guarded.__name__ = handler.__name__
    return guarded


@handles_errors
async def tokens(request: Request) -> Response:
    """POST {"username", "password"} -> {"token"}; DELETE with the token revokes it."""
    eng = request.app.state.engine
    if request.method == "DELETE":
        user, token = await current_user(request), bearer(request)
        if user is None or not await asyncio.to_thread(users.revoke_token, eng, user["id"], token):
            return error("no such token", 401)
        return JSONResponse({"revoked": True})
    data = await body(request)
    username = str(data.get("username", "")).strip().lower()
    wait = login_throttled(request, username)
    if wait:
        return JSONResponse({"error": f"too many failed sign-ins: try again in {wait} s"},
                            status_code=429, headers={"Retry-After": str(wait)})
    user = await asyncio.to_thread(users.authenticate, eng, username, str(data.get("password", "")))
    if user is None:
        request.app.state.throttle.failed(f"user:{username}", f"ip:{client_address(request)}")
        return error("wrong username or password", 401)
    token = await asyncio.to_thread(users.new_token, eng, user["id"], str(data.get("label", "api")))
    return JSONResponse({"token": token}, status_code=201)


@signed_in
@handles_errors
async def links_collection(request: Request) -> Response:
    state, user = request.app.state, await current_user(request)
    if request.method == "GET":
        return JSONResponse([views.link_view(state, r) for r in await views.my_links(state, user)])
    data = await body(request)
    row = await views.create_link(state, user, str(data.get("name", "")),
                                  str(data.get("strategy", "")),
                                  views.settings_from(data, rupees_given=False))
    return JSONResponse(views.link_view(state, row), status_code=201)


@signed_in
@handles_errors
async def link_item(request: Request) -> Response:
    state, user = request.app.state, await current_user(request)
    link_id = request.path_params["link_id"]
    if request.method == "GET":
        return JSONResponse(views.link_view(state, await views.my_link(state, user, link_id)))
    if request.method == "DELETE":
        await views.delete_link(state, user, link_id)
        return Response(status_code=204)
    data = await body(request)
    unknown = set(data) - set(links.DEFAULTS) - {"strategy"}
    if unknown:
        return error(f"these fields cannot be changed: {', '.join(sorted(unknown))}", 422)
    row = await views.update_link(state, user, link_id,
                                  views.settings_from(data, rupees_given=False),
                                  strategy=data.get("strategy"))
    return JSONResponse(views.link_view(state, row))


@signed_in
@handles_errors
async def link_rotate(request: Request) -> Response:
    state, user = request.app.state, await current_user(request)
    row = await views.rotate_link(state, user, request.path_params["link_id"])
    return JSONResponse(views.link_view(state, row))


@signed_in
@handles_errors
async def accounts_collection(request: Request) -> Response:
    state, user = request.app.state, await current_user(request)
    if request.method == "GET":
        return JSONResponse(await views.account_views(state, user))
    row = await views.create_account(state, user, await body(request))
    return JSONResponse(views.account_view(row), status_code=201)


@signed_in
@handles_errors
async def account_test(request: Request) -> Response:
    state, user = request.app.state, await current_user(request)
    return JSONResponse(await views.test_account(state, user, request.path_params["account_id"]))


@signed_in
@handles_errors
async def account_login(request: Request) -> Response:
    """GET: {"url"} of the broker's login page (Kite, Upstox); POST {"redirect"}: the address
    that page sent the owner to (or the code in it) completes the day's login."""
    state, user = request.app.state, await current_user(request)
    account_id = request.path_params["account_id"]
    if request.method == "GET":
        return JSONResponse({"url": await views.broker_login_page(state, user, account_id)})
    pasted = str((await body(request)).get("redirect") or "")
    return JSONResponse(await views.complete_broker_login(state, user, account_id, pasted))


@signed_in
@handles_errors
async def positions(request: Request) -> Response:
    state, user = request.app.state, await current_user(request)
    which = request.query_params.get("state", "open")
    if which not in ("open", "closed"):
        return error("state must be open or closed", 400)
    rows = await views.db(queries.positions, state.engine, user["id"], which)
    prices = last_prices(state)
    return JSONResponse([position_view(r, prices) for r in rows])


def answered(found: dict) -> Response:
    """A command's answer: 200 once every partition answered, 202 while some have not, 422
    when the one position it was about refused it (the reason in "error")."""
    body = {**found, "summary": commands.summary(found)}
    refused = [p for p in found["positions"] if p["outcome"] == "REFUSED"]
    if found["done"] and found["position_id"] and refused:
        return JSONResponse({"error": refused[0]["reason"], **body}, status_code=422)
    return JSONResponse(body, status_code=200 if found["done"] else 202)


async def command(request: Request, kind: str, **what) -> Response:
    state, user = request.app.state, await current_user(request)
    try:
        return answered(await commands.run(state.engine, state.settings, user, kind,
                                           origin="api", deliver=state.producer.send, **what))
    except commands.NotSent as exc:
        return error(str(exc), 503)


@signed_in
@handles_errors
async def position_item(request: Request) -> Response:
    """GET: one position; PATCH {"stop", "target", "trail", "trail_from_now"}: its levels."""
    state, user = request.app.state, await current_user(request)
    position_id = request.path_params["position_id"]
    if request.method == "PATCH":
        return await command(request, "ADJUST", position_id=position_id,
                             levels=commands.levels_from(await body(request)))
    row = await views.db(queries.position, state.engine, user["id"], position_id)
    if row is None:
        raise views.NotFound("no such position")
    return JSONResponse(position_view(row, last_prices(state)))


@signed_in
@handles_errors
async def position_close(request: Request) -> Response:
    return await command(request, "CLOSE", position_id=request.path_params["position_id"])


@signed_in
@handles_errors
async def positions_close(request: Request) -> Response:
    """{"link_id"} or {"account_id"}: close all of that one; {"all": true}: every position."""
    data = await body(request)
    scope = {k: str(data[k]) for k in ("link_id", "account_id") if data.get(k)}
    if not scope and data.get("all") is not True:
        return error('give {"all": true} to close every open position, or a link_id or an '
                     'account_id', 422)
    return await command(request, "CLOSE_ALL", scope=scope)


@signed_in
@handles_errors
async def command_item(request: Request) -> Response:
    state, user = request.app.state, await current_user(request)
    found = await views.db(commands.answer, state.engine, user["id"],
                           request.path_params["command_id"])
    if found is None:
        raise views.NotFound("no such command")
    return JSONResponse({**found, "summary": commands.summary(found)})


@signed_in
@handles_errors
async def orders(request: Request) -> Response:
    state, user = request.app.state, await current_user(request)
    if request.method == "DELETE":
        before = request.query_params.get("before")
        if not before:
            return error("give ?before=YYYY-MM-DD: closed history before that day is deleted", 400)
        day_to = date.fromordinal(date.fromisoformat(before).toordinal() - 1)
        count = await views.db(queries.delete_history, state.engine, user["id"], day_from=None,
                               day_to=day_to, link_id=None, symbol=None, status=None)
        await views.db(queries.user_log, state.engine, user["id"],
                       f"deleted the history of {count} closed position(s) before {before}")
        return JSONResponse({"deleted_positions": count})
    rows = await views.db(queries.orders, state.engine, user["id"],
                          **order_filters(request.query_params))
    if request.query_params.get("format") == "csv":
        return Response(orders_csv(rows), media_type="text/csv")
    return JSONResponse(rows)


@signed_in
@handles_errors
async def bot(request: Request) -> Response:
    state, user = request.app.state, await current_user(request)
    if request.method == "PUT":
        data = await body(request)
        if not isinstance(data.get("running"), bool):
            return error('give {"running": true} or {"running": false}', 422)
        return JSONResponse(await views.set_bot(state, user, data["running"],
                                                everyone=bool(data.get("everyone"))))
    return JSONResponse(await views.bot_view(state, user))


@signed_in
@handles_errors
async def logs(request: Request) -> Response:
    state, user = request.app.state, await current_user(request)
    entries = await views.db(queries.logs, state.engine, user["id"],
                             request.query_params.get("level", "info"),
                             request.query_params.get("link") or None)
    return JSONResponse(entries)


def _path(summary: str, *methods: str) -> dict:
    return {m: {"summary": summary, "responses": {"200": {"description": "OK"}}}
            for m in methods}


# -- strategies, universes, Telegram (webapp/settings_views.py) ------------------------------
def _symbols(data: dict, *, required: bool) -> list[str] | None:
    symbols = data.get("symbols")
    if symbols is None and not required:
        return None
    if not (isinstance(symbols, list) and all(isinstance(x, str) for x in symbols)):
        raise StrategyError('symbols must be a list of names such as ["SBIN", "INFY"]')
    return symbols


@signed_in
@handles_errors
async def strategies_collection(request: Request) -> Response:
    """GET: the attached strategies; POST {"link_id", "name", "params", "symbols": [..] or
    "universe"} attaches one (replacing the link's)."""
    state, user = request.app.state, await current_user(request)
    if request.method == "GET":
        return JSONResponse(await sv.my_attachments(state, user))
    data = await body(request)
    return JSONResponse(await sv.attach(state, user, str(data.get("link_id", "")),
                                        str(data.get("name", "")), data.get("params") or {},
                                        _symbols(data, required=False), data.get("universe")),
                        status_code=201)


@signed_in
@handles_errors
async def strategy_item(request: Request) -> Response:
    """DELETE: detach the link's strategy."""
    state, user = request.app.state, await current_user(request)
    return JSONResponse(await sv.detach(state, user, request.path_params["link_id"]))


@signed_in
@handles_errors
async def universes_collection(request: Request) -> Response:
    """GET: the user's universes; POST {"name", "symbols": [..]} creates or replaces one."""
    state, user = request.app.state, await current_user(request)
    if request.method == "GET":
        return JSONResponse(await sv.my_universes(state, user))
    data = await body(request)
    return JSONResponse(await sv.add_universe(state, user, str(data.get("name", "")),
                                              _symbols(data, required=True)), status_code=201)


@signed_in
@handles_errors
async def telegram_setting(request: Request) -> Response:
    """GET: {"chat_id", "alert_ignored"} or null (never the bot token); PUT {"bot_token",
    "chat_id", "alert_ignored"} (both or neither of the first two); DELETE: no more messages."""
    state, user = request.app.state, await current_user(request)
    if request.method == "PUT":
        data = await body(request)
        return JSONResponse(await sv.set_telegram(state, user, data.get("bot_token"),
                                                  data.get("chat_id"),
                                                  bool(data.get("alert_ignored"))))
    if request.method == "DELETE":
        return JSONResponse({"off": await sv.telegram_off(state, user)})
    return JSONResponse(await sv.telegram_view(state, user))


@signed_in
@handles_errors
async def telegram_test(request: Request) -> Response:
    state, user = request.app.state, await current_user(request)
    return JSONResponse({"message": await sv.telegram_test(state, user)})


OPENAPI = {
    "openapi": "3.1.0",
    "info": {"title": "pinewire", "version": "1"},
    "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
    "security": [{"bearer": []}],
    "paths": {
        "/api/v1/tokens": _path("a bearer token for a username and password; DELETE revokes",
                                "post", "delete"),
        "/api/v1/links": _path("the user's webhook links; POST creates one", "get", "post"),
        "/api/v1/links/{id}": _path("one link: read, change settings, delete (a setting "
                                    'refused: 422 {"error", "field"})', "get", "patch",
                                    "delete"),
        "/api/v1/links/{id}/rotate": _path("a new webhook token", "post"),
        "/api/v1/accounts": _path("broker accounts (masked); POST adds one", "get", "post"),
        "/api/v1/accounts/{id}/test": _path("log in and fetch the profile", "post"),
        "/api/v1/positions": _path("?state=open|closed", "get"),
        "/api/v1/positions/{id}": _path('one position; PATCH {"stop", "target" (rupees or '
                                        '"off"), "trail" (percent or "off"), '
                                        '"trail_from_now"} sets its levels', "get", "patch"),
        "/api/v1/positions/{id}/close": _path("close it now at market (a pending entry is "
                                              "cancelled)", "post"),
        "/api/v1/positions/close": _path('close all: {"link_id"}, {"account_id"} or '
                                         '{"all": true}', "post"),
        "/api/v1/commands/{id}": _path("a close or adjust command and its answers", "get"),
        "/api/v1/orders": _path("orders (?format=csv); DELETE ?before=DATE deletes closed "
                                "history", "get", "delete"),
        "/api/v1/bot": _path('{"running": bool}', "get", "put"),
        "/api/v1/strategies": _path('attached strategies; POST {"link_id", "name", "params", '
                                    '"symbols": [..] or "universe"} attaches one', "get",
                                    "post"),
        "/api/v1/strategies/{link_id}": _path("detach the link's strategy", "delete"),
        "/api/v1/universes": _path('universes; POST {"name", "symbols": [..]} creates or '
                                   'replaces one', "get", "post"),
        "/api/v1/telegram": _path('{"chat_id", "alert_ignored"} (never the bot token); PUT '
                                  '{"bot_token", "chat_id", "alert_ignored"}; DELETE stops the '
                                  'messages', "get", "put", "delete"),
        "/api/v1/telegram/test": _path("send a test message now", "post"),
        "/api/v1/logs": _path("the user's log (?level=info|warning|error&link=ID)", "get"),
        "/api/v1/events": _path("Server-Sent Events: the user's events and prices", "get"),
    },
}


async def openapi(request: Request) -> Response:
    return JSONResponse(OPENAPI)
