"""The Kite simulator's accounts, login flow, sessions and instruments. Orders, prices, faults
and rate limits are the simulated exchange's (connectors.smartapi.simulator.state.SimState),
keyed here by user id and instrument token."""
from __future__ import annotations

import hashlib
import itertools
import secrets
import time
from dataclasses import dataclass

from connectors.kite.ratelimit import LIMITS
from connectors.smartapi.simulator.state import Order, SimState
from schemas.instruments import CATALOG

SEGMENTS = {"NSE": 1, "NFO": 2, "CDS": 3, "BSE": 4, "BFO": 5, "BCD": 6, "MCX": 7,
            "INDICES": 9}
INDEX_TOKENS = {"NIFTY 50": (256265, "1001"), "NIFTY BANK": (260105, "1016")}
# Kite's status words for the exchange's order states
STATUS = {"open pending": "OPEN PENDING", "open": "OPEN", "complete": "COMPLETE",
          "cancelled": "CANCELLED", "rejected": "REJECTED", "trigger pending": "TRIGGER PENDING"}
PRODUCTS = {"CNC", "MIS", "NRML", "MTF"}
ORDER_TYPES = {"MARKET", "LIMIT", "SL", "SL-M"}
VARIETIES = {"regular", "amo", "co", "iceberg", "auction"}
REJECT_TEXT = ("Insufficient funds. Required margin is 95417.84 but available margin is "
               "74251.80.")


@dataclass
class KiteAccount:
    user_id: str
    api_key: str
    api_secret: str
    redirect_url: str = "http://127.0.0.1:1/kite/redirect"


@dataclass(frozen=True)
class Instrument:
    instrument_token: int
    exchange_token: str
    tradingsymbol: str
    name: str
    exchange: str
    segment: str
    instrument_type: str
    tick_size: float
    lot_size: int
    last_price_paise: int


def instruments() -> list[Instrument]:
    """The catalog as Kite lists it: equities' instrument token is exchange token << 8 | 1."""
    rows = []
    for inst in CATALOG.values():
        if inst.symbol.endswith("-EQ"):
            rows.append(Instrument(int(inst.token) << 8 | SEGMENTS[inst.exchange], inst.token,
                                   inst.symbol.removesuffix("-EQ"), inst.symbol[:-3],
                                   inst.exchange, inst.exchange, "EQ",
                                   inst.tick_size_paise / 100, inst.lot_size,
                                   inst.reference_paise))
        else:
            name = inst.symbol.upper()
            token, exchange_token = INDEX_TOKENS[name]
            rows.append(Instrument(token, exchange_token, name, name, inst.exchange, "INDICES",
                                   "EQ", 0.0, 0, inst.reference_paise))
    return rows


def checksum(api_key: str, token: str, api_secret: str) -> str:
    return hashlib.sha256((api_key + token + api_secret).encode()).hexdigest()


class KiteSim:
    def __init__(self, accounts: list[KiteAccount], enforce_rate_limits: bool = True):
        self.accounts = {a.api_key: a for a in accounts}
        self.instruments = {i.instrument_token: i for i in instruments()}
        self.by_symbol = {(i.exchange, i.tradingsymbol): i for i in self.instruments.values()}
        prices = {str(i.instrument_token): i.last_price_paise for i in self.instruments.values()}
        self.exchange = SimState([], prices, enforce_rate_limits, limits=LIMITS)
        self.exchange.faults.reject_text = REJECT_TEXT
        self.request_tokens: dict[str, str] = {}       # request token -> api key
        self.sessions: dict[str, tuple[str, bool]] = {}  # access token -> (api key, valid)
        self.volumes: dict[str, int] = {}              # instrument token -> the day's volume
        self.gtts: dict[int, dict] = {}                # trigger id -> the rule, as Kite shows it
        self.gtt_ids = itertools.count(100001)

    # -- login ----------------------------------------------------------------------------
    def login_redirect(self, api_key: str) -> str | None:
        """Where the login page sends the browser once the user has logged in."""
        account = self.accounts.get(api_key)
        if account is None:
            return None
        token = secrets.token_hex(16)          # Kite's tokens are 32 letters and digits
        self.request_tokens[token] = api_key
        sep = "&" if "?" in account.redirect_url else "?"
        return (f"{account.redirect_url}{sep}request_token={token}&action=login&type=login"
                "&status=success")

    def exchange_token(self, api_key: str, request_token: str, check: str) -> str | None:
        """The access token for a request token (used once), or None."""
        account = self.accounts.get(api_key)
        if account is None or self.request_tokens.get(request_token) != api_key or \
                check != checksum(api_key, request_token, account.api_secret):
            return None
        del self.request_tokens[request_token]
        access = secrets.token_hex(16)
        self.sessions[access] = (api_key, True)
        return access

    def user(self, authorization: str | None) -> KiteAccount | None:
        """The account of a valid `token api_key:access_token` header."""
        if not authorization or not authorization.startswith("token "):
            return None
        api_key, _, access = authorization[len("token "):].partition(":")
        return self.user_of(api_key, access)

    def user_of(self, api_key: str, access: str) -> KiteAccount | None:
        faults = self.exchange.faults
        if faults.expire_sessions:
            faults.expire_sessions = False
            self.sessions = {t: (k, False) for t, (k, _) in self.sessions.items()}
        key, valid = self.sessions.get(access, ("", False))
        return self.accounts[key] if valid and key == api_key else None

    # -- orders and prices ----------------------------------------------------------------
    def price(self, instrument_token: int | str) -> int | None:
        return self.exchange.prices.get(str(instrument_token))

    @property
    def prices(self) -> dict[str, int]:
        return self.exchange.prices

    def set_price(self, instrument_token: int | str, paise: int) -> None:
        token = str(instrument_token)
        self.volumes[token] = self.volumes.get(token, 0) + 100
        self.exchange.set_price(token, paise)
        for rule in list(self.gtts.values()):
            if rule["status"] == "active" and str(rule["condition"]["instrument_token"]) == token:
                self._maybe_trigger(rule, paise)

    # -- GTT rules ------------------------------------------------------------------------
    def gtt(self, user_id: str, kind: str, condition: dict, orders: list[dict],
            rule: dict | None = None) -> dict:
        """A new rule (or `rule` changed) as Kite keeps it."""
        inst = self.by_symbol[(condition["exchange"], condition["tradingsymbol"])]
        now = time.strftime("%Y-%m-%d %H:%M:%S")
        rule = rule or {"id": next(self.gtt_ids), "user_id": user_id, "parent_trigger": None,
                        "created_at": now, "expires_at": "", "status": "active", "meta": {}}
        condition = {**condition, "instrument_token": inst.instrument_token}
        rule.update(type=kind, updated_at=now, condition=condition,
                    orders=[{**o, "result": None} for o in orders])
        self.gtts[rule["id"]] = rule
        return rule

    def _maybe_trigger(self, rule: dict, paise: int) -> None:
        values = [round(float(v) * 100) for v in rule["condition"]["trigger_values"]]
        last = round(float(rule["condition"]["last_price"]) * 100)
        if rule["type"] == "two-leg":
            leg = 0 if paise <= values[0] else 1 if paise >= values[1] else None
        else:
            leg = 0 if (paise >= values[0] if last < values[0] else paise <= values[0]) else None
        if leg is None:
            return
        o = rule["orders"][leg]
        inst = self.by_symbol[(o["exchange"], o["tradingsymbol"])]
        order = self.exchange.place(rule["user_id"], {
            "variety": "regular", "quantity": str(o["quantity"]),
            "symboltoken": str(inst.instrument_token), "tradingsymbol": inst.tradingsymbol,
            "exchange": inst.exchange, "ordertype": o["order_type"],
            "transactiontype": o["transaction_type"], "producttype": o["product"],
            "price": str(o["price"]), "validity": "DAY", "ordertag": ""})
        rule["status"] = "triggered"
        o["result"] = {"account_id": rule["user_id"], "exchange": o["exchange"],
                       "tradingsymbol": o["tradingsymbol"], "validity": "DAY",
                       "product": o["product"], "order_type": o["order_type"],
                       "transaction_type": o["transaction_type"], "quantity": o["quantity"],
                       "price": o["price"], "triggered_at": paise / 100,
                       "timestamp": time.strftime("%Y-%m-%d %H:%M:%S"),
                       "order_result": {"status": "success", "order_id": order.orderid,
                                        "rejection_reason": ""}}
        self.exchange.work_soon(order)


def order_row(order: Order, sim: KiteSim) -> dict:
    """An order as Kite's order book and order updates show it."""
    p, qty = order.params, int(order.params["quantity"])
    inst = sim.instruments[int(p["symboltoken"])]
    cancelled = qty - order.filledshares if order.status in ("cancelled", "rejected") else 0
    return {
        "placed_by": order.client_code, "order_id": order.orderid,
        "exchange_order_id": order.uniqueorderid[:16] if order.status != "rejected" else None,
        "parent_order_id": None, "status": STATUS.get(order.status, order.status.upper()),
        "status_message": order.text or None, "status_message_raw": order.text or None,
        "order_timestamp": order.updatetime, "exchange_update_timestamp": order.updatetime,
        "exchange_timestamp": order.updatetime, "variety": p.get("variety"),
        "modified": False, "exchange": inst.exchange, "tradingsymbol": inst.tradingsymbol,
        "instrument_token": inst.instrument_token, "order_type": p.get("ordertype"),
        "transaction_type": p.get("transactiontype"), "validity": p.get("validity", "DAY"),
        "validity_ttl": 0, "product": p.get("producttype"), "quantity": qty,
        "disclosed_quantity": 0, "price": float(p.get("price") or 0), "trigger_price": 0,
        "average_price": order.averageprice, "filled_quantity": order.filledshares,
        "pending_quantity": qty - order.filledshares - cancelled,
        "cancelled_quantity": cancelled, "market_protection": int(p.get("market_protection", 0)),
        "meta": {}, "tag": p.get("ordertag") or None,
        "tags": [p["ordertag"]] if p.get("ordertag") else [], "guid": order.uniqueorderid,
    }
