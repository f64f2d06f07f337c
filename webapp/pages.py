"""The trader dashboard: server-rendered pages that work without JavaScript (only the live
updates and the copy buttons need it). Every handler: who is asking, what they asked, one call
into webapp/views.py or queries.py, one page."""
from __future__ import annotations

import asyncio
import csv
import io
import time
from datetime import date, datetime
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from agents.risk import IST
from connectors.credentials import AccountError
from schemas.money import signed_rupees
from webapp import charts, links, pnl, queries, users, views
from webapp.auth import (client_address, csrf_ok, csrf_token, current_user, login_throttled,
                         sign_in, signed_in)
from webapp.live import last_prices, position_view


def rupees(paise: int | None) -> str | None:
    """Paise as rupees with two decimals (the templates' `inr` adds ₹ and the grouping)."""
    return None if paise is None else signed_rupees(paise)


def ist(ms: int | None) -> str:
    return "" if not ms else datetime.fromtimestamp(ms / 1000, IST).strftime("%Y-%m-%d %H:%M:%S")


async def render(request: Request, template: str, status: int = 200, **context) -> Response:
    user = await current_user(request)
    bot = await views.bot_view(request.app.state, user) if user else None
    return request.app.state.templates.TemplateResponse(
        request, template, {"user": user, "bot": bot, "csrf": csrf_token(request), "ist": ist,
                            "rupees": rupees,
                            "path": request.url.path, **context}, status_code=status)


PROBLEMS = {403: "Not allowed", 404: "Not found", 405: "Not found"}


async def problem(request: Request, status: int, words: str) -> Response:
    """A refusal in the site's layout, with its navigation: 404 (not there, or not yours —
    the same answer), 403."""
    return await render(request, "problem.html", status,
                        title=PROBLEMS.get(status, "Something went wrong"), words=words)


async def not_found(request: Request, exc) -> Response:
    """Starlette's 404 and 405 (no such page) as the site's page, or JSON to the API."""
    if request.url.path.startswith("/api/"):
        return JSONResponse({"error": "no such endpoint"}, exc.status_code)
    return await problem(request, exc.status_code, "There is no such page.")


def back(path: str, **message) -> RedirectResponse:
    return RedirectResponse(f"{path}?{urlencode(message)}" if message else path, 303)


# -- signing in ----------------------------------------------------------------------------
async def login(request: Request) -> Response:
    if request.method == "GET":
        return await render(request, "login.html", next=request.query_params.get("next", ""),
                            message=request.query_params.get("message"))
    form = await request.form()
    if not csrf_ok(request, form):
        return await render(request, "login.html", 403, error="The form expired; try again.")
    username = str(form.get("username", "")).strip().lower()
    wait = login_throttled(request, username)
    if wait:
        return await render(request, "login.html", 429, username=username,
                            error=f"Too many failed sign-ins: try again in {wait} s.")
    user = await asyncio.to_thread(users.authenticate, request.app.state.engine, username,
                                   str(form.get("password", "")))
    if user is None:
        request.app.state.throttle.failed(f"user:{username}", f"ip:{client_address(request)}")
        return await render(request, "login.html", 401, username=username,
                            error="Wrong username or password.")
    request.app.state.throttle.succeeded(f"user:{username}")
    sign_in(request, user)
    target = str(form.get("next") or "/live")
    return back(target if target.startswith("/") and not target.startswith("//") else "/live")


async def logout(request: Request) -> Response:
    """Signing out ends every session of the user on the server, not only this cookie."""
    form = await request.form()
    if csrf_ok(request, form):
        user = await current_user(request)
        if user is not None:
            await asyncio.to_thread(users.end_sessions, request.app.state.engine, user["id"])
        request.session.clear()
    return back("/login", message="signed out")


async def register(request: Request) -> Response:
    state = request.app.state
    count = await asyncio.to_thread(users.user_count, state.engine)
    me = await current_user(request)
    allowed = count == 0 or state.settings.registration == "open" or (me and me["is_admin"])
    if not allowed:
        return await render(request, "register.html", 403, closed=True)
    page = dict(first=count == 0, adding=me is not None)     # the page's title and words
    if request.method == "GET":
        return await render(request, "register.html", **page,
                            values={"code": request.query_params.get("code", "")})
    form = await request.form()
    if not csrf_ok(request, form):
        return await render(request, "register.html", 403, error="The form expired; try again.")
    fields = {k: str(form.get(k, "")) for k in ("username", "first_name", "last_name", "code")}
    first = page["first"]
    if form.get("password") != form.get("password2"):
        return await render(request, "register.html", 422, values=fields, **page,
                            errors={"password2": "The two passwords differ."})
    names = dict(first_name=fields["first_name"], last_name=fields["last_name"])
    try:
        if first:     # a new install: only whoever holds the setup code becomes the admin
            user = await asyncio.to_thread(users.add_first_user, state.engine, fields["code"],
                                           fields["username"], str(form.get("password", "")),
                                           **names)
        else:
            user = await asyncio.to_thread(users.add_user, state.engine, fields["username"],
                                           str(form.get("password", "")), **names)
    except users.SetupCodeError as exc:
        return await render(request, "register.html", 403, values=fields, **page,
                            errors={"code": str(exc)})
    except users.UserError as exc:
        field = "password" if "password" in str(exc) else "username"
        return await render(request, "register.html", 422, values=fields, **page,
                            errors={field: str(exc)})
    if me is None:
        sign_in(request, user)
    return back("/live" if me is None else "/admin", message=f"user {user['username']} added")


@signed_in
async def password(request: Request) -> Response:
    if request.method == "GET":
        return await render(request, "password.html")
    form, user = await request.form(), await current_user(request)
    eng = request.app.state.engine
    if await asyncio.to_thread(users.authenticate, eng, user["username"],
                               str(form.get("current", ""))) is None:
        return await render(request, "password.html", 422,
                            errors={"current": "That is not your current password."})
    if form.get("password") != form.get("password2"):
        return await render(request, "password.html", 422,
                            errors={"password2": "The two passwords differ."})
    try:
        await asyncio.to_thread(users.set_password, eng, user["id"], str(form.get("password")))
    except users.UserError as exc:
        return await render(request, "password.html", 422, errors={"password": str(exc)})
    sign_in(request, await asyncio.to_thread(users.user_by_id, eng, user["id"]))
    return back("/live", message="password changed; other sessions are signed out")


# -- bot -----------------------------------------------------------------------------------
@signed_in
async def bot(request: Request) -> Response:
    form, user = await request.form(), await current_user(request)
    everyone = form.get("scope") == "all"
    try:
        await views.set_bot(request.app.state, user, form.get("running") == "1", everyone=everyone)
    except PermissionError as exc:
        return await problem(request, 403, str(exc))
    return back(str(form.get("back") or "/live"))


# -- links ---------------------------------------------------------------------------------
def _form_settings(form) -> tuple[dict, str, str]:
    data = {k: form.get(k) for k in links.DEFAULTS if k in form}
    for flag in ("reverse", "reverse_on_sl", "option_shorts", "enabled"):
        data[flag] = form.get(flag) == "on"
    data["paper"] = form.get("mode", "paper") == "paper"
    return views.settings_from(data, rupees_given=True), str(form.get("name", "")), \
        str(form.get("strategy", ""))


@signed_in
async def links_page(request: Request) -> Response:
    state, user = request.app.state, await current_user(request)
    rows = await views.my_links(state, user)
    return await render(request, "links.html", links=[views.link_view(state, r) for r in rows],
                        message=request.query_params.get("message"))


async def _link_form(request: Request, row: dict | None, status=200,
                     refused: links.LinkError | ValueError | None = None, **context) -> Response:
    """The link form; after a refusal, its words with the form's names of the settings, beside
    the field it is about."""
    state, user = request.app.state, await current_user(request)
    if isinstance(refused, links.LinkError):
        context.update(error=refused.said(links.LABELS), error_field=refused.setting)
    elif refused is not None:
        context.update(error=str(refused))
    return await render(request, "link_form.html", status, link=row, labels=links.LABELS,
                        accounts=await views.my_accounts(state, user), defaults=links.DEFAULTS,
                        choices={"side": links.SIDES, "product": links.PRODUCTS,
                                 "broker_stop": links.BROKER_STOPS,
                                 "eod": links.EOD_POLICIES, "kind": links.KINDS,
                                 "scan_action": ("", "BUY", "SELL"),
                                 "costs": links.COST_PLANS}, **context)


@signed_in
async def link_new(request: Request) -> Response:
    if request.method == "GET":
        return await _link_form(request, None)
    form, user = await request.form(), await current_user(request)
    settings, name, strategy = _form_settings(form)
    try:
        row = await views.create_link(request.app.state, user, name, strategy, settings)
    except (links.LinkError, ValueError) as exc:
        return await _link_form(request, None, 422, exc, values=dict(form))
    return back("/links", message=f"link {row['name']} created")


@signed_in
async def link_edit(request: Request) -> Response:
    state, user = request.app.state, await current_user(request)
    try:
        row = await views.my_link(state, user, request.path_params["link_id"])
    except views.NotFound:
        return await problem(request, 404, "No such link.")
    if request.method == "GET":
        return await _link_form(request, row, values=views.form_values(row))
    form = await request.form()
    settings, _, strategy = _form_settings(form)
    try:
        await views.update_link(state, user, row["id"], settings, strategy=strategy)
    except (links.LinkError, ValueError) as exc:
        return await _link_form(request, row, 422, exc, values=dict(form))
    return back("/links", message=f"link {row['name']} saved")


@signed_in
async def link_action(request: Request) -> Response:
    """enable, disable, rotate, delete."""
    state, user = request.app.state, await current_user(request)
    link_id, action = request.path_params["link_id"], request.path_params["action"]
    try:
        if action in ("enable", "disable"):
            await views.update_link(state, user, link_id, {"enabled": action == "enable"})
        elif action == "rotate":
            await views.rotate_link(state, user, link_id)
        elif action == "delete":
            await views.delete_link(state, user, link_id)
        else:
            return await problem(request, 404, "Unknown action.")
    except views.NotFound:
        return await problem(request, 404, "No such link.")
    except links.LinkError as exc:
        return back("/links", message=str(exc))
    return back("/links", message=f"done: {action}")


# -- accounts ------------------------------------------------------------------------------
@signed_in
async def accounts_page(request: Request) -> Response:
    state, user = request.app.state, await current_user(request)
    if request.method == "POST":
        form = await request.form()
        try:
            await views.create_account(state, user, dict(form))
        except AccountError as exc:
            return await render(request, "accounts.html", 422, error=str(exc),
                                accounts=await views.account_views(state, user),
                                values={k: form.get(k, "") for k in ("name", "client_code",
                                                                     "broker", "redirect_uri")})
        return back("/accounts", message="account saved; its credentials are encrypted")
    return await render(request, "accounts.html", accounts=await views.account_views(state, user),
                        message=request.query_params.get("message"))


@signed_in
async def broker_login_page(request: Request) -> Response:
    """On to the broker's own login page (Kite, Upstox)."""
    state, user = request.app.state, await current_user(request)
    try:
        url = await views.broker_login_page(state, user, request.path_params["account_id"])
    except views.NotFound:
        return await problem(request, 404, "No such account.")
    except AccountError as exc:
        return back("/accounts", message=str(exc))
    return RedirectResponse(url, status_code=302)


@signed_in
async def account_action(request: Request) -> Response:
    """test, edit, delete, login (the address a broker's login page sent the owner to)."""
    state, user = request.app.state, await current_user(request)
    account_id, action = request.path_params["account_id"], request.path_params["action"]
    form = await request.form()
    try:
        if action == "test":
            result = await views.test_account(state, user, account_id)
            return back("/accounts", message=("Connection OK: " if result["ok"] else
                                              "Connection failed: ") + result["message"])
        if action == "edit":
            data = {k: v for k, v in form.items() if k != "csrf" and v != ""}
            await views.update_account(state, user, account_id, data)
            return back("/accounts", message="account saved")
        if action == "delete":
            await views.delete_account(state, user, account_id)
            return back("/accounts", message="account deleted")
        if action == "login":
            done = await views.complete_broker_login(state, user, account_id,
                                                     str(form.get("redirect", "")))
            return back("/accounts", message=f"logged in; the session lasts until "
                                             f"{done['session_ends']}")
    except views.NotFound:
        return await problem(request, 404, "No such account.")
    except (AccountError, links.LinkError) as exc:
        return back("/accounts", message=str(exc))
    return await problem(request, 404, "Unknown action.")


# -- live, history, logs -------------------------------------------------------------------
@signed_in
async def live_page(request: Request) -> Response:
    state, user = request.app.state, await current_user(request)
    drawn_ms = int(time.time() * 1000)    # the rows are the ledger's as of this time or later
    rows = await views.db(queries.positions, state.engine, user["id"], "open")
    prices = last_prices(state)
    recent = await views.db(queries.logs, state.engine, user["id"], "warning", None, 10)
    today = await views.db(pnl.report, state.engine, state.settings, pnl.today(), user["id"],
                           prices=prices)
    return await render(request, "live.html", positions=[position_view(r, prices) for r in rows],
                        recent=recent, drawn_ms=drawn_ms, today=today,
                        message=request.query_params.get("message"))


@signed_in
async def position_page(request: Request) -> Response:
    state, user = request.app.state, await current_user(request)
    pid = request.path_params["position_id"]
    row = await views.db(queries.position, state.engine, user["id"], pid)
    if row is None:
        return await problem(request, 404, "No such position.")
    steps = await views.db(queries.timeline, state.engine, user["id"], pid)
    path = await views.db(queries.position_path, state.engine, user["id"], pid)
    return await render(request, "position.html", position=position_view(row, last_prices(state)),
                        steps=steps, chart=charts.position(row, path, ist),
                        message=request.query_params.get("message"))


def order_filters(params) -> dict:
    def day(key):
        try:
            return date.fromisoformat(params.get(key)) if params.get(key) else None
        except ValueError:
            return None
    return dict(day_from=day("from"), day_to=day("to"), link_id=params.get("link") or None,
                symbol=params.get("symbol") or None, status=params.get("status") or None)


CSV_COLUMNS = ("created_at", "client_order_id", "position_id", "link_id", "symbol", "purpose",
               "side", "quantity", "order_price", "filled_qty", "fill_price", "status", "paper",
               "reason", "text", "position_state", "realized_pnl")


def iso_ist(ms: int) -> str:
    """ISO 8601 with the zone: 2026-12-07T09:15:02.250+05:30."""
    return datetime.fromtimestamp(ms / 1000, IST).isoformat(timespec="milliseconds")


def orders_csv(rows: list[dict]) -> str:
    """Prices and P&L in rupees with two decimals (no symbol: a spreadsheet reads them)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for r in rows:
        writer.writerow([iso_ist(r["created_at_ms"]), r["client_order_id"], r["position_id"],
                         r["link_id"], r["symbol"], r["purpose"], r["side"], r["quantity"],
                         rupees(r["reference_price_paise"]) or "", r["filled_qty"],
                         rupees(r["fill_price_paise"]) or "", r["status"],
                         "paper" if r["paper"] else "live",
                         r["reason"] or "", r["text"] or "", r["position_state"] or "",
                         rupees(r["realized_pnl_paise"] if r["purpose"] == "EXIT" else None)
                         or ""])
    return out.getvalue()


@signed_in
async def orders_page(request: Request) -> Response:
    state, user = request.app.state, await current_user(request)
    filters = order_filters(request.query_params)
    rows = await views.db(queries.orders, state.engine, user["id"], **filters)
    if request.url.path.endswith(".csv"):
        return Response(orders_csv(rows), media_type="text/csv", headers={
            "Content-Disposition": 'attachment; filename="pinewire-orders.csv"'})
    closes = await views.db(queries.realized_closes, state.engine, user["id"])
    days = queries.realized_by_day(closes)
    return await render(request, "orders.html", orders=rows, query=request.url.query,
                        days=days, equity=charts.equity(closes, ist), per_day=charts.bars(
                            "pnl-per-day", "Realized P&L per day",
                            [(day, paise, signed_rupees(paise)) for day, paise in reversed(days)]),
                        links=await views.my_links(state, user),
                        params=dict(request.query_params),
                        message=request.query_params.get("message"))


@signed_in
async def orders_delete(request: Request) -> Response:
    state, user = request.app.state, await current_user(request)
    form = await request.form()
    if form.get("confirm") != "yes":
        return back("/orders", message="nothing deleted: tick the confirmation box")
    filters = order_filters(form)
    count = await views.db(queries.delete_history, state.engine, user["id"], **filters)
    await views.db(queries.user_log, state.engine, user["id"],
                   f"deleted the history of {count} closed position(s) "
                   f"({', '.join(f'{k}={v}' for k, v in filters.items() if v) or 'all'})")
    return back("/orders", message=f"deleted {count} closed position(s) and their orders")


@signed_in
async def logs_page(request: Request) -> Response:
    state, user = request.app.state, await current_user(request)
    level = request.query_params.get("level", "info")
    link_id = request.query_params.get("link") or None
    entries = await views.db(queries.logs, state.engine, user["id"], level, link_id)
    return await render(request, "logs.html", entries=entries, level=level, link_id=link_id,
                        links=await views.my_links(state, user))


@signed_in(admin=True)
async def admin_page(request: Request) -> Response:
    state = request.app.state
    return await render(request, "admin.html", bots=await views.every_bot(state),
                        users=await views.db(users.list_users, state.engine),
                        message=request.query_params.get("message"))


async def home(request: Request) -> Response:
    """Live for a trader signed in; on a new install (no user yet) the first user's setup."""
    if await current_user(request):
        return back("/live")
    if await asyncio.to_thread(users.user_count, request.app.state.engine) == 0:
        return back("/register")
    return back("/login")
