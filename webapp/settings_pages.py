"""The dashboard's pages for what was the terminal's alone: strategies attached to links,
universes of instruments, and Telegram messages. One call into settings_views.py each; a
refusal is shown on the page in the rules' own words."""
from __future__ import annotations

import json

from starlette.requests import Request
from starlette.responses import Response

from agents.strategies.base import StrategyError
from connectors.credentials import AccountError
from connectors.telegram import TelegramError
from webapp import settings_views as sv
from webapp.auth import current_user, signed_in
from webapp.pages import back, problem, render
from webapp.views import NotFound, my_links

REFUSED = (StrategyError, AccountError, TelegramError)


def symbols_of(text: str) -> list[str]:
    """Symbols written one a line or separated by commas or spaces."""
    return text.replace(",", " ").split()


async def _strategies(request: Request, status: int = 200, **context) -> Response:
    state, user = request.app.state, await current_user(request)
    return await render(request, "strategies.html", status,
                        attachments=await sv.my_attachments(state, user),
                        universes=await sv.my_universes(state, user),
                        links=await my_links(state, user), names=sv.STRATEGY_NAMES,
                        message=request.query_params.get("message"), **context)


@signed_in
async def strategies_page(request: Request) -> Response:
    """GET: attached strategies and universes; POST: attach one to a link."""
    if request.method == "GET":
        return await _strategies(request)
    state, user, form = request.app.state, await current_user(request), await request.form()
    values = {k: str(form.get(k, "")) for k in ("link_id", "name", "params", "symbols",
                                                "universe")}
    try:
        params = json.loads(values["params"] or "{}")
    except ValueError as exc:
        return await _strategies(request, 422, values=values,
                                 error=f"the parameters are not JSON ({exc}); e.g. "
                                       '{"fast": 20, "slow": 50}')
    try:
        row = await sv.attach(state, user, values["link_id"], values["name"], params,
                              symbols_of(values["symbols"]) or None, values["universe"] or None)
    except NotFound:
        return await problem(request, 404, "No such link.")
    except REFUSED as exc:
        return await _strategies(request, 422, values=values, error=str(exc))
    return back("/strategies", message=f"{row['name']} attached to link {row['link']} "
                                       f"({len(row['symbols'])} instrument(s))")


@signed_in
async def strategy_detach(request: Request) -> Response:
    state, user = request.app.state, await current_user(request)
    try:
        row = await sv.detach(state, user, request.path_params["link_id"])
    except NotFound as exc:
        return await problem(request, 404, str(exc))
    return back("/strategies", message=f"{row['name']} detached from link {row['link']}")


@signed_in
async def universe_add(request: Request) -> Response:
    state, user, form = request.app.state, await current_user(request), await request.form()
    values = {"universe_name": str(form.get("name", "")),
              "universe_symbols": str(form.get("symbols", ""))}
    try:
        row = await sv.add_universe(state, user, values["universe_name"],
                                    symbols_of(values["universe_symbols"]))
    except REFUSED as exc:
        return await _strategies(request, 422, values=values, error=str(exc))
    return back("/strategies", message=f"universe {row['name']}: "
                                       f"{len(row['symbols'])} instrument(s)")


@signed_in
async def telegram_page(request: Request) -> Response:
    """GET: the setting (never its bot token); POST action=save|off|test."""
    state, user = request.app.state, await current_user(request)
    if request.method == "GET":
        return await render(request, "telegram.html", telegram=await sv.telegram_view(state, user),
                            message=request.query_params.get("message"))
    form = await request.form()
    try:
        action = form.get("action")
        if action == "off":
            done = await sv.telegram_off(state, user)
            return back("/telegram", message="Telegram messages off" if done else
                        "Telegram messages were not set")
        if action == "test":
            return back("/telegram", message=await sv.telegram_test(state, user))
        await sv.set_telegram(state, user, str(form.get("bot_token", "")).strip() or None,
                              str(form.get("chat_id", "")).strip() or None,
                              form.get("alert_ignored") == "on")
    except REFUSED as exc:
        return await render(request, "telegram.html", 422, error=str(exc),
                            telegram=await sv.telegram_view(state, user),
                            values={"chat_id": form.get("chat_id", "")})
    return back("/telegram", message="Telegram messages saved (the notifier uses them within "
                                     "30 s)")
