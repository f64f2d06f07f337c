"""The Upstox simulator's accounts, OAuth codes, sessions, feed codes and instruments; orders,
prices, faults and rate limits are the simulated exchange's (SimState), keyed by user id and
instrument key."""
from __future__ import annotations

import secrets
from dataclasses import dataclass

from connectors.smartapi.simulator.state import Order, SimState
from connectors.upstox.ratelimit import LIMITS
from schemas.instruments import CATALOG

STATUS = {"open pending": "open pending", "open": "open", "complete": "complete",
          "cancelled": "cancelled", "rejected": "rejected", "trigger pending": "trigger pending"}
PRODUCTS = {"I", "D", "MTF", "CO"}
ORDER_TYPES = {"MARKET", "LIMIT", "SL", "SL-M"}
REJECT_TEXT = "Insufficient funds: required margin 95417.84, available 74251.80"


@dataclass
class UpstoxAccount:
    user_id: str
    api_key: str
    api_secret: str
    redirect_uri: str = "http://127.0.0.1:1/upstox/redirect"


@dataclass(frozen=True)
class Instrument:
    instrument_key: str
    exchange_token: str
    trading_symbol: str
    segment: str
    exchange: str
    lot_size: int
    tick_size: float
    last_price_paise: int

    def row(self) -> dict:
        return {"segment": self.segment, "name": self.trading_symbol, "exchange": self.exchange,
                "isin": self.instrument_key.split("|")[1], "instrument_type": "EQ"
                if self.segment == "NSE_EQ" else "INDEX", "instrument_key": self.instrument_key,
                "lot_size": self.lot_size, "freeze_quantity": 100000.0,
                "exchange_token": self.exchange_token, "tick_size": self.tick_size,
                "trading_symbol": self.trading_symbol, "short_name": self.trading_symbol,
                "security_type": "NORMAL"}


def instruments() -> list[Instrument]:
    rows = []
    for inst in CATALOG.values():
        if inst.symbol.endswith("-EQ"):
            isin = f"INE{int(inst.token):06d}A01"       # an ISIN's shape, one per instrument
            rows.append(Instrument(f"NSE_EQ|{isin}", inst.token, inst.symbol[:-3], "NSE_EQ",
                                   "NSE", inst.lot_size, inst.tick_size_paise,
                                   inst.reference_paise))
        else:
            rows.append(Instrument(f"NSE_INDEX|{inst.symbol}", "", inst.symbol, "NSE_INDEX",
                                   "NSE", 0, 0.0, inst.reference_paise))
    return rows


class UpstoxSim:
    def __init__(self, accounts: list[UpstoxAccount], enforce_rate_limits: bool = True):
        self.accounts = {a.api_key: a for a in accounts}
        self.instruments = {i.instrument_key: i for i in instruments()}
        self.exchange = SimState([], {k: i.last_price_paise for k, i in self.instruments.items()},
                                 enforce_rate_limits, limits=LIMITS)
        self.exchange.faults.reject_text = REJECT_TEXT
        self.codes: dict[str, str] = {}                   # OAuth code -> api key
        self.sessions: dict[str, tuple[str, bool]] = {}   # access token -> (api key, valid)
        self.feed_codes: dict[str, str] = {}              # a feed's one-time code -> user id
        self.volumes: dict[str, int] = {}

    def dialog(self, api_key: str, redirect_uri: str) -> str | None:
        account = self.accounts.get(api_key)
        if account is None or redirect_uri != account.redirect_uri:
            return None
        code = secrets.token_hex(3)                       # Upstox's codes are short
        self.codes[code] = api_key
        return f"{account.redirect_uri}?code={code}"

    def token(self, form: dict) -> str | None:
        account = self.accounts.get(form.get("client_id", ""))
        if account is None or self.codes.get(form.get("code", "")) != account.api_key or \
                form.get("client_secret") != account.api_secret or \
                form.get("redirect_uri") != account.redirect_uri or \
                form.get("grant_type") != "authorization_code":
            return None
        del self.codes[form["code"]]
        token = secrets.token_hex(24)
        self.sessions[token] = (account.api_key, True)
        return token

    def user(self, authorization: str | None) -> UpstoxAccount | None:
        if not authorization or not authorization.startswith("Bearer "):
            return None
        faults = self.exchange.faults
        if faults.expire_sessions:
            faults.expire_sessions = False
            self.sessions = {t: (k, False) for t, (k, _) in self.sessions.items()}
        key, valid = self.sessions.get(authorization[len("Bearer "):], ("", False))
        return self.accounts[key] if valid else None

    def feed_code(self, user_id: str) -> str:
        code = secrets.token_hex(12)
        self.feed_codes[code] = user_id
        return code

    @property
    def prices(self) -> dict[str, int]:
        return self.exchange.prices

    def set_price(self, key: str, paise: int) -> None:
        self.volumes[key] = self.volumes.get(key, 0) + 100
        self.exchange.set_price(key, paise)


def order_row(order: Order, sim: UpstoxSim) -> dict:
    p, qty = order.params, int(order.params["quantity"])
    inst = sim.instruments[p["symboltoken"]]
    return {
        "exchange": inst.exchange, "product": p.get("producttype"),
        "price": float(p.get("price") or 0), "quantity": qty,
        "status": STATUS.get(order.status, order.status), "guid": order.uniqueorderid,
        "tag": p.get("ordertag") or None, "instrument_token": inst.instrument_key,
        "placed_by": order.client_code, "tradingsymbol": inst.trading_symbol,
        "trading_symbol": inst.trading_symbol, "order_type": p.get("ordertype"),
        "validity": p.get("validity", "DAY"), "trigger_price": 0.0, "disclosed_quantity": 0,
        "transaction_type": p.get("transactiontype"), "average_price": order.averageprice,
        "filled_quantity": order.filledshares,
        "pending_quantity": qty - order.filledshares if order.status in (
            "open", "open pending", "trigger pending") else 0,
        "status_message": order.text or None, "status_message_raw": order.text or None,
        "exchange_order_id": order.uniqueorderid[:16], "parent_order_id": None,
        "order_id": order.orderid, "variety": "SIMPLE", "order_timestamp": order.updatetime,
        "exchange_timestamp": order.updatetime, "is_amo": False,
        "order_request_id": "1", "order_ref_id": order.uniqueorderid[:8],
    }
