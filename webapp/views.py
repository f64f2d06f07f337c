"""What a signed-in user can do, shared by the pages and the JSON API: one rule per action,
checked here once (ownership) and in pinewire/ (validation). Changes are saved in SQL, then
published for the workers. Blocking calls run in a thread."""
from __future__ import annotations

import asyncio
import logging
import time
from datetime import datetime
from decimal import Decimal

from connectors import credentials
from connectors.credentials import LOGIN_PAGE_BROKERS
from schemas.market_time import IST
from schemas.money import paise_to_rupees
from webapp import accounts, bots, links, users
from webapp.publish import publish_settings

log = logging.getLogger("pinewire.web")
NEVER_LOGGED_IN = "never logged in"     # an account's health before its first login
RUPEE_SETTINGS = ("capital_paise", "daily_loss_paise")   # validated in rupees (the CLI's)
FORM_RUPEES = RUPEE_SETTINGS + ("fee_paise",)              # the form shows and takes rupees


class NotFound(LookupError):
    """Not there, or not the user's: the same answer either way."""


async def _publish(state, **records) -> str | None:
    """Tell the workers (and this process's gateway at once); when Kafka is down the change
    waits for the next `pinewire up`."""
    state.directory.apply(**{k: v for k, v in records.items() if k in ("links", "bots")})
    try:
        await asyncio.wait_for(publish_settings(state.settings, **records), 5)
        return None
    except Exception as exc:  # noqa: BLE001
        log.warning("could not publish a change (%s); it is saved", type(exc).__name__)
        return "saved; the workers get it when Kafka is reachable again"


def webhook_url(state, row: dict) -> str | None:
    token = links.webhook_token(state.token_key, row)
    return f"{state.settings.base_url}/hook/{token}" if token else None


def alert_messages(row: dict) -> dict[str, str]:
    """Ready-to-paste TradingView messages: a strategy alert and an indicator alert."""
    import json
    base = {"strategy": row["strategy"], "symbol": "{{ticker}}", "exchange": "{{exchange}}"}
    return {
        "strategy": json.dumps({**base, "action": "{{strategy.order.action}}",
                                "contracts": "{{strategy.order.contracts}}",
                                "price": "{{strategy.order.price}}", "time": "{{timenow}}"}),
        "indicator": json.dumps({**base, "action": "BUY", "price": "{{close}}",
                                 "time": "{{timenow}}"}),
    }


def link_view(state, row: dict, *, with_secrets: bool = True) -> dict:
    """A link as the API and the pages show it: fields named as in the link record."""
    view = {"id": row["id"], "name": row["name"], "strategy": row["strategy"],
            "version": row["version"], **{k: row[k] for k in links.DEFAULTS}}
    if with_secrets:   # only ever to the link's owner
        view["webhook_url"] = webhook_url(state, row)
        view["alert_messages"] = alert_messages(row)
    return view


def settings_from(data: dict, *, rupees_given: bool) -> dict:
    """Raw link settings from a form (rupees) or the API (paise) for links.validate."""
    out = {k: v for k, v in data.items() if k in links.DEFAULTS}
    if rupees_given:       # the charges too, which links.validate takes in paise
        if str(out.get("fee_paise") or "").strip():
            out["fee_paise"] = _fee_paise(out["fee_paise"])
        return out
    for key in RUPEE_SETTINGS:
        if out.get(key) not in (None, ""):
            try:
                out[key] = str(Decimal(str(out[key])) / 100)
            except ArithmeticError:
                raise links.LinkError("{%s} must be a whole number of paise" % key,
                                      key) from None
    return out


def _fee_paise(rupees) -> int:
    try:
        amount = Decimal(str(rupees).strip())
    except ArithmeticError:
        amount = Decimal(-1)
    if not amount.is_finite() or amount < 0 or amount != amount.quantize(Decimal("0.01")):
        raise links.LinkError("{fee_paise} must be an amount of rupees (0 or more, at most two "
                              "decimals), not {value!r}", "fee_paise", value=rupees)
    return int(amount * 100)


def form_values(row: dict) -> dict:
    """A stored link as its form shows it: amounts in rupees."""
    return {**row, **{k: paise_to_rupees(row[k]) for k in FORM_RUPEES if row.get(k) is not None}}


def db(fn, *args, **kwargs):
    """SQL off the event loop."""
    return asyncio.to_thread(fn, *args, **kwargs)


async def _own_account(state, user: dict, account_id: str | None) -> None:
    if account_id and await db(accounts.account_by_id, state.engine, account_id,
                               user["id"]) is None:
        raise links.LinkError("no such account")


# -- links ---------------------------------------------------------------------------------
async def my_links(state, user: dict) -> list[dict]:
    return await db(links.list_links, state.engine, user["id"])


async def my_link(state, user: dict, link_id: str) -> dict:
    row = await db(links.link_by_id, state.engine, link_id, user["id"])
    if row is None:
        raise NotFound("no such link")
    return row


async def create_link(state, user: dict, name: str, strategy: str, settings: dict) -> dict:
    await _own_account(state, user, settings.get("account_id"))
    row = await asyncio.to_thread(links.add_link, state.engine, name=name, strategy=strategy,
                                  token_key=state.token_key,
                                  user_id=user["id"], **settings)
    await _publish(state, links=[row])
    return row


async def update_link(state, user: dict, link_id: str, settings: dict,
                      strategy: str | None = None) -> dict:
    await my_link(state, user, link_id)
    await _own_account(state, user, settings.get("account_id"))
    row = await asyncio.to_thread(links.set_link, state.engine, link_id, user_id=user["id"],
                                  strategy=strategy, **settings)
    await _publish(state, links=[row])
    return row


async def rotate_link(state, user: dict, link_id: str) -> dict:
    await my_link(state, user, link_id)
    row = await asyncio.to_thread(links.rotate_token, state.engine, link_id,
                                  state.token_key, user["id"])
    await _publish(state, links=[row])
    return row


async def delete_link(state, user: dict, link_id: str) -> None:
    await my_link(state, user, link_id)
    row = await asyncio.to_thread(links.delete_link, state.engine, link_id, user["id"])
    await _publish(state, links=[row])


# -- accounts ------------------------------------------------------------------------------
def account_view(row: dict, session_ends_ms: int | None = None) -> dict:
    """Masked: never a credential, not even in part; the client code shows its last 3. A Kite
    or Upstox account says whether today's login holds."""
    code = row["client_code"]
    daily = row["broker"] in LOGIN_PAGE_BROKERS
    return {"id": row["id"], "name": row["name"], "broker": row["broker"],
            "daily_login": daily,
            "session": _session_words(session_ends_ms) if daily else None,
            "client_code": "•" * max(0, len(code) - 3) + code[-3:],
            "max_open": row["max_open"], "daily_loss_paise": row["daily_loss_paise"],
            "daily_loss": paise_to_rupees(row["daily_loss_paise"])
            if row["daily_loss_paise"] else None,
            "health": row["health"] or ("ok" if row["health_at_ms"] else NEVER_LOGGED_IN),
            "version": row["version"]}


def _session_words(ends_ms: int | None) -> str:
    if ends_ms is None:
        return "not logged in"
    if ends_ms <= time.time() * 1000:
        return "session ended: log in for today"
    ends = datetime.fromtimestamp(ends_ms / 1000, IST)
    return f"session until {ends:%H:%M} IST on {ends:%d %b}"


async def account_views(state, user: dict) -> list[dict]:
    """The user's accounts as pages and the API show them."""
    rows = await my_accounts(state, user)
    ends = await db(accounts.sessions_end, state.engine, state.settings.secret_key, user["id"])
    return [account_view(r, ends.get(r["id"])) for r in rows]


async def my_accounts(state, user: dict) -> list[dict]:
    return await db(accounts.account_rows, state.engine, user["id"])


async def my_account(state, user: dict, account_id: str) -> dict:
    row = await db(accounts.account_by_id, state.engine, account_id, user["id"])
    if row is None:
        raise NotFound("no such account")
    return row


async def create_account(state, user: dict, data: dict) -> dict:
    row = await asyncio.to_thread(
        accounts.add_account, state.engine, state.settings.secret_key,
        name=str(data.get("name", "")).strip(),
        client_code=str(data.get("client_code", "")).strip(),
        broker=str(data.get("broker") or "smartapi"), api_key=str(data.get("api_key", "")),
        pin=str(data.get("pin", "")), totp_secret=str(data.get("totp_secret", "")),
        api_secret=str(data.get("api_secret", "")),
        redirect_uri=str(data.get("redirect_uri", "")).strip(), user_id=user["id"])
    await _publish(state, accounts=[row])
    return row


async def update_account(state, user: dict, account_id: str, data: dict) -> dict:
    await my_account(state, user, account_id)
    changes: dict = {k: data[k] for k in ("max_open", "daily_loss_paise") if k in data}
    if data.get("name"):
        changes["name"] = str(data["name"]).strip()
    secrets_ = {k: str(data[k]) for k in ("api_key", "pin", "totp_secret", "api_secret")
                if data.get(k)}
    if secrets_:
        changes.update(credentials=secrets_, secret_key=state.settings.secret_key)
    row = await asyncio.to_thread(accounts.set_account, state.engine, account_id,
                                  user_id=user["id"], **changes)
    await _publish(state, accounts=[row])
    return row


async def delete_account(state, user: dict, account_id: str) -> None:
    await my_account(state, user, account_id)
    await asyncio.to_thread(accounts.delete_account, state.engine, account_id, user["id"])


async def broker_login_page(state, user: dict, account_id: str) -> str:
    await my_account(state, user, account_id)
    return await asyncio.to_thread(accounts.login_page, state.engine, state.settings, account_id)


async def complete_broker_login(state, user: dict, account_id: str, pasted: str) -> dict:
    """The day's Kite or Upstox login from the address its login page sent the owner to."""
    await my_account(state, user, account_id)
    row, ends_ms = await asyncio.to_thread(accounts.complete_login, state.engine, state.settings,
                                           account_id, pasted)
    await _publish(state, accounts=[row])
    ends = datetime.fromtimestamp(ends_ms / 1000, IST)
    return {**account_view(row, ends_ms), "session_ends": f"{ends:%H:%M} IST on {ends:%d %b}"}


async def test_account(state, user: dict, account_id: str) -> dict:
    """Log in and fetch the profile, as the workers would; the broker's answer in plain words."""
    await my_account(state, user, account_id)
    from connectors.live import probe
    creds = await asyncio.to_thread(credentials.load, state.engine, state.settings.secret_key,
                                    account_id)
    ok, words = await probe(creds, state.settings)
    await db(accounts.record_health, state.engine, account_id, None if ok else words,
             int(time.time() * 1000))
    return {"ok": ok, "message": words}


# -- bot -----------------------------------------------------------------------------------
async def bot_view(state, user: dict) -> dict:
    own = (await db(bots.user_bot, state.engine, user["id"]))["running"]
    everyone = (await db(bots.global_switch, state.engine))["running"]
    return {"running": own and everyone, "own_switch": own, "global_switch": everyone}


async def set_bot(state, user: dict, running: bool, *, everyone: bool = False) -> dict:
    if everyone:
        if not user["is_admin"]:
            raise PermissionError("only the admin can stop or start every bot")
        row = await asyncio.to_thread(bots.set_global, state.engine, running)
    else:
        row = await asyncio.to_thread(bots.set_user_bot, state.engine, user["id"], running)
    await _publish(state, bots=[row])
    return await bot_view(state, user)


def _every_bot(eng) -> list[dict]:
    return [{"username": u["username"], "running": bots.user_bot(eng, u["id"])["running"]}
            for u in users.list_users(eng)]


async def every_bot(state) -> list[dict]:
    """For the admin: each user's bot."""
    return await db(_every_bot, state.engine)
