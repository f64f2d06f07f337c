"""The simulated broker's state: accounts, sessions, orders, prices, faults, rate limits."""
from __future__ import annotations

import asyncio
import itertools
import secrets
import time
from collections import deque
from dataclasses import dataclass
from datetime import datetime

import pyotp

# Requests allowed per window, per client code (smartapi.md, current documentation).
RATE_LIMITS = {
    "order": ((9, 1.0), (500, 60.0), (1000, 3600.0)),
    "book": ((1, 1.0),),
    "login": ((1, 1.0),),
    "token": ((1, 1.0),),
    "profile": ((3, 1.0),),
    "ltp": ((10, 1.0),),
    "candles": ((3, 1.0), (180, 60.0)),
    "rules": ((1, 1.0),),
}


@dataclass
class Account:
    client_code: str
    pin: str
    totp_secret: str
    api_key: str


@dataclass
class Session:
    client_code: str
    jwt: str
    refresh: str
    feed: str
    valid: bool = True


@dataclass
class Faults:
    """What goes wrong next. Counters count down as they fire."""
    place_5xx: int = 0                 # placeOrder answers an HTML 502 without placing
    place_timeout: int = 0             # placeOrder places, then answers too late
    timeout_s: float = 3.0
    rate_limit: int = 0                # order calls answer the real 403 rate-limit page
    reject: int = 0                    # next orders are rejected by the RMS
    reject_text: str = "RMS:Margin Exceeds,Required:0, Available:0"
    partial_qty: int = 0               # next orders fill only this many, the rest is cancelled
    partial_count: int = 0
    partial_open_count: int = 0        # ... or the rest stays open until cancelled
    partial_later_count: int = 0       # ... or the rest fills at the instrument's next price
    expire_sessions: bool = False      # every live access token now answers AG8001
    expiry_shape: str = "alternate"    # 'alternate' {"success":false,...} or 'envelope'
    drop_streams: int = 0              # market-data sockets to drop
    refuse_streams: bool = False       # Kite, Upstox: sockets refuse new connections (403)

    def take(self, name: str) -> bool:
        value = getattr(self, name)
        if value > 0:
            setattr(self, name, value - 1)
            return True
        return False


@dataclass
class Order:
    orderid: str
    uniqueorderid: str
    client_code: str
    params: dict
    status: str
    filledshares: int = 0
    averageprice: float = 0.0
    text: str = ""
    updatetime: str = ""
    fate: str = "fill"   # decided at placement: fill | reject | partial | partial_open | partial_later
    fill_qty: int = 0

    def row(self) -> dict:
        p = self.params
        qty = int(p.get("quantity", 0))
        return {
            "variety": p.get("variety"), "ordertype": p.get("ordertype"),
            "producttype": p.get("producttype"), "duration": p.get("duration"),
            "price": float(p.get("price") or 0), "triggerprice": 0.0, "quantity": str(qty),
            "disclosedquantity": "0", "squareoff": 0.0, "stoploss": 0.0, "trailingstoploss": 0.0,
            "tradingsymbol": p.get("tradingsymbol"), "transactiontype": p.get("transactiontype"),
            "exchange": p.get("exchange"), "symboltoken": p.get("symboltoken"),
            "ordertag": p.get("ordertag", ""), "instrumenttype": "", "strikeprice": -1.0,
            "optiontype": "", "expirydate": "", "lotsize": "1", "cancelsize": str(
                qty - self.filledshares if self.status == "cancelled" else 0),
            "averageprice": self.averageprice, "filledshares": str(self.filledshares),
            "unfilledshares": str(qty - self.filledshares), "orderid": self.orderid,
            "text": self.text, "status": self.status, "orderstatus": self.status,
            "updatetime": self.updatetime, "exchtime": self.updatetime,
            "exchorderupdatetime": self.updatetime, "fillid": "", "filltime": "",
            "parentorderid": "", "uniqueorderid": self.uniqueorderid,
        }


@dataclass
class StopRule:
    """A broker-side stop rule as the simulated exchange keeps it (each simulator shows it in
    its broker's shape): once the price reaches its trigger — from above when the trigger was
    below the price at placement, from below otherwise — it places its order, untagged."""
    rule_id: str
    client_code: str
    token: str
    order: dict              # the order it places, in SimState.place's fields
    trigger_paise: int
    from_above: bool
    status: str = "active"   # active | triggered | cancelled
    order_id: str | None = None
    created: str = ""

    def reached(self, paise: int) -> bool:
        return paise <= self.trigger_paise if self.from_above else paise >= self.trigger_paise


class RateLimiter:
    def __init__(self, limits: dict = RATE_LIMITS):
        self.limits = limits
        self.calls: dict[tuple[str, str], deque] = {}

    def allow(self, client: str, kind: str, now: float) -> bool:
        calls = self.calls.setdefault((client, kind), deque())
        longest = max(window for _, window in self.limits[kind])
        while calls and now - calls[0] > longest:
            calls.popleft()
        for limit, window in self.limits[kind]:
            if sum(1 for t in calls if now - t < window) >= limit:
                return False
        calls.append(now)
        return True


@dataclass
class Trade:
    orderid: str
    fillid: str
    fillsize: int
    fillprice: float
    filltime: str
    params: dict


class SimState:
    def __init__(self, accounts: list[Account], prices: dict[str, int] | None = None,
                 enforce_rate_limits: bool = True, limits: dict = RATE_LIMITS):
        self.accounts = {a.client_code: a for a in accounts}
        self.sessions: dict[str, Session] = {}          # by jwt
        self.refresh: dict[str, Session] = {}           # by refresh token
        self.orders: dict[str, Order] = {}
        self.trades: list[Trade] = []
        self.prices: dict[str, int] = dict(prices or {})  # token -> LTP in paise
        self.sequence = itertools.count(1)
        self.faults = Faults()
        self.held_answers = 0                            # placeOrder answers held back now
        self.limiter = RateLimiter(limits)
        self.enforce_rate_limits = enforce_rate_limits
        self.refused_logins: dict[str, int] = {}         # client code -> logins refused
        self.order_listeners: set[asyncio.Queue] = set()
        self.order_sockets: dict[str, int] = {}          # client code -> order sockets open
        self.order_sockets_peak: dict[str, int] = {}     # ... most at once since the reset
        self.tick_listeners: set[asyncio.Queue] = set()
        self.stream_drops: set[asyncio.Event] = set()
        # (token, interval) -> [[ISO time, open, high, low, close, volume], ...], oldest first
        self.candles: dict[tuple[str, str], list[list]] = {}
        self.history_calls = 0                           # historical API calls answered
        self.stop_rules: dict[str, StopRule] = {}
        self.rule_ids = itertools.count(1001)

    def order_socket(self, client_code: str, opened: bool) -> None:
        count = self.order_sockets.get(client_code, 0) + (1 if opened else -1)
        self.order_sockets[client_code] = count
        self.order_sockets_peak[client_code] = max(count,
                                                   self.order_sockets_peak.get(client_code, 0))

    # -- auth -------------------------------------------------------------------------------
    def login(self, client_code: str, pin: str, totp: str, api_key: str) -> Session | str:
        account = self.accounts.get(client_code)
        if account is None or account.api_key != api_key:
            return "AB1007"
        if pin != account.pin:
            return "AB1007"
        if not pyotp.TOTP(account.totp_secret).verify(str(totp), valid_window=1):
            return "AB1050"
        return self._new_session(client_code)

    def _new_session(self, client_code: str) -> Session:
        s = Session(client_code, secrets.token_urlsafe(32), secrets.token_urlsafe(32),
                    secrets.token_hex(16))
        self.sessions[s.jwt] = s
        self.refresh[s.refresh] = s
        return s

    def session(self, authorization: str | None) -> Session | None:
        if not authorization or not authorization.startswith("Bearer "):
            return None
        s = self.sessions.get(authorization[len("Bearer "):])
        if s and self.faults.expire_sessions:
            self.faults.expire_sessions = False
            for live in self.sessions.values():
                live.valid = False
        return s

    def renew(self, refresh_token: str) -> Session | None:
        old = self.refresh.get(refresh_token)
        if old is None:
            return None
        new = Session(old.client_code, secrets.token_urlsafe(32), refresh_token,
                      secrets.token_hex(16))
        self.sessions[new.jwt] = new
        return new

    def feed_session(self, client_code: str, feed_token: str, jwt: str, api_key: str) -> bool:
        account = self.accounts.get(client_code)
        jwt = jwt[len("Bearer "):] if jwt.startswith("Bearer ") else jwt
        s = self.sessions.get(jwt)
        return bool(account and account.api_key == api_key and s and s.valid
                    and s.client_code == client_code and s.feed == feed_token)

    # -- orders -----------------------------------------------------------------------------
    def place(self, client_code: str, params: dict) -> Order:
        n = next(self.sequence)
        order = Order(orderid=f"2611{n:011d}", uniqueorderid=secrets.token_hex(16),
                      client_code=client_code, params=dict(params), status="open pending",
                      updatetime=_now(), fill_qty=int(params["quantity"]))
        if self.faults.take("reject"):            # a fault belongs to the order placed next
            order.fate = "reject"
        elif self.faults.take("partial_count"):
            order.fate, order.fill_qty = "partial", min(self.faults.partial_qty, order.fill_qty)
        else:
            for fate in ("partial_open", "partial_later"):
                if self.faults.take(f"{fate}_count"):
                    order.fate, order.fill_qty = fate, min(self.faults.partial_qty,
                                                           order.fill_qty)
                    break
        self.orders[order.orderid] = order
        return order

    def execute(self, order: Order) -> list[Order]:
        """Work a MARKET order against the current price: the states it passes through."""
        qty = int(order.params["quantity"])
        token = order.params.get("symboltoken", "")
        price = self.prices.get(token)
        states = []
        order.status = "open"
        states.append(_copy(order))
        limit = order.params.get("ordertype") == "LIMIT" and float(order.params.get("price") or 0)
        resting = limit and price is not None and (
            limit * 100 < price if order.params.get("transactiontype") == "BUY" else
            limit * 100 > price)
        if order.fate == "reject":
            order.status, order.text = "rejected", self.faults.reject_text
        elif resting:
            return states    # not marketable: it rests, open, until cancelled or modified
        elif price is None:
            order.status, order.text = "rejected", f"No price for token {token}"
        else:
            self._trade(order, order.fill_qty, price)
            order.status = "complete" if order.filledshares == qty else \
                "open" if order.fate in ("partial_open", "partial_later") else "cancelled"
        order.updatetime = _now()
        states.append(_copy(order))
        return states

    def _trade(self, order: Order, qty: int, paise: int) -> None:
        """`qty` more of the order fill at `paise`: a trade, and the order's running totals
        (none when qty is 0: a partial_open order with nothing filled rests whole)."""
        if qty == 0:
            return
        value = order.averageprice * order.filledshares + qty * paise / 100
        order.filledshares += qty
        order.averageprice = round(value / order.filledshares, 2)
        self.trades.append(Trade(order.orderid, f"{len(self.trades) + 1:08d}", qty, paise / 100,
                                 _now(), order.params))

    def _fill_rest(self, token: str, paise: int) -> None:
        """A partial_later order's rest fills at its instrument's next price."""
        for order in list(self.orders.values()):
            if order.fate == "partial_later" and order.status == "open" and \
                    order.params.get("symboltoken") == token:
                self._trade(order, int(order.params["quantity"]) - order.filledshares, paise)
                order.status, order.updatetime = "complete", _now()
                self.publish_order(_copy(order))

    def work_soon(self, order: Order) -> None:
        """A new order: announced, and worked against the price a moment later."""
        self.publish_order(order)
        asyncio.get_running_loop().call_later(0.05, self._work, order)

    def _work(self, order: Order) -> None:
        for state in self.execute(order):
            self.publish_order(state)

    def book(self, client_code: str) -> list[dict]:
        return [o.row() for o in self.orders.values() if o.client_code == client_code]

    def publish_order(self, order: Order) -> None:
        for q in self.order_listeners:
            q.put_nowait(order)

    # -- prices -----------------------------------------------------------------------------
    def set_price(self, token: str, paise: int) -> None:
        self.prices[token] = paise
        self._fill_rest(token, paise)
        for q in self.tick_listeners:
            q.put_nowait((token, paise, int(time.time() * 1000)))
        for rule in list(self.stop_rules.values()):
            if rule.status == "active" and rule.token == token and rule.reached(paise):
                order = self.place(rule.client_code, {**rule.order, "ordertag": ""})
                rule.status, rule.order_id = "triggered", order.orderid
                self.work_soon(order)

    # -- stop rules -------------------------------------------------------------------------
    def add_rule(self, client_code: str, order: dict, trigger_paise: int,
                 id_prefix: str = "") -> StopRule | None:
        """A new rule on order["symboltoken"]; None when the instrument has no price."""
        token = order["symboltoken"]
        if token not in self.prices:
            return None
        rule = StopRule(f"{id_prefix}{next(self.rule_ids)}", client_code, token, dict(order),
                        trigger_paise, trigger_paise < self.prices[token], created=_now())
        self.stop_rules[rule.rule_id] = rule
        return rule

    def own_rule(self, client_code: str, rule_id) -> StopRule | None:
        rule = self.stop_rules.get(str(rule_id))
        return rule if rule and rule.client_code == client_code else None

    def drop_streams(self) -> int:
        dropped = len(self.stream_drops)
        for event in self.stream_drops:
            event.set()
        return dropped


def _copy(order: Order) -> Order:
    return Order(**{**order.__dict__, "params": dict(order.params)})


def _now() -> str:
    return datetime.now().strftime("%d-%b-%Y %H:%M:%S")
