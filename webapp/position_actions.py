"""The dashboard's hand on positions: close one, set its levels, flatten everything (with a
typed confirmation). One path with the API, the CLI and Telegram (webapp/commands.py); the
outcome comes back as the page's message."""
from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from webapp import commands, pages, views
from webapp.auth import current_user, signed_in


FLATTEN_WORD = "FLATTEN"     # typed into the Live page's form to close every position


async def _run(request: Request, page: str, kind: str, **what) -> Response:
    state, user = request.app.state, await current_user(request)
    try:
        found = await commands.run(state.engine, state.settings, user, kind,
                                   origin="dashboard", deliver=state.producer.send, **what)
    except views.NotFound:
        return await pages.problem(request, 404, "No such position.")
    except commands.NotSent as exc:
        return pages.back(page, message=str(exc))
    return pages.back(page, message=commands.summary(found))


@signed_in
async def close(request: Request) -> Response:
    pid = request.path_params["position_id"]
    return await _run(request, f"/positions/{pid}", "CLOSE", position_id=pid)


@signed_in
async def set_levels(request: Request) -> Response:
    pid = request.path_params["position_id"]
    form = await request.form()
    try:
        levels = commands.levels_from({k: form.get(k) for k in ("stop", "target", "trail")} |
                                      {"trail_from_now": form.get("trail_from_now") == "on"})
    except ValueError as exc:
        return pages.back(f"/positions/{pid}", message=str(exc))
    return await _run(request, f"/positions/{pid}", "ADJUST", position_id=pid, levels=levels)


@signed_in
async def close_all(request: Request) -> Response:
    form = await request.form()
    if str(form.get("confirm", "")).strip().upper() != FLATTEN_WORD:
        return pages.back("/live", message=f"nothing closed: type {FLATTEN_WORD} to close every "
                                     "open position")
    return await _run(request, "/live", "CLOSE_ALL", scope={})
