"""Parse a TradingView alert body into one normalized signal, or say exactly what is wrong.

The body is parsed from raw bytes whatever the Content-Type: TradingView sends JSON as
text/plain as soon as the message has a trailing newline.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from schemas.money import rupees_to_paise

MAX_BODY_BYTES = 16 * 1024
MAX_QUANTITY = 10_000_000      # units or lots in one alert; more is a typo, not an order

OPTION_ACTIONS = ("BUY_CALL", "BUY_PUT", "SELL_CALL", "SELL_PUT")  # name the underlying
ACTIONS = ("BUY", "SELL", "EXIT") + OPTION_ACTIONS
_ACTION_ALIASES = {"CLOSE": "EXIT", "FLAT": "EXIT", "LONG": "BUY", "SHORT": "SELL"}
_SYMBOL_FIELDS = ("symbol", "ticker", "tradingsymbol")
_ACTION_FIELDS = ("action", "side", "order_action")
_QUANTITY_FIELDS = ("qty", "quantity", "contracts")
_PRICE_FIELDS = ("price", "close")
# A payload carrying one of these identifies its own firing: duplicates are judged over 24 h.
OWN_ID_FIELDS = ("timestamp", "time", "timenow", "order_id", "alert_id", "id")
_SECRET_FIELDS = ("passphrase", "secret", "token", "password")
_PLACEHOLDER = re.compile(r"\{\{\s*[^{}]*\}\}")


class PayloadError(ValueError):
    """The body cannot become an alert; the message says why, for the sender."""


@dataclass(frozen=True)
class Signal:
    action: str
    symbol: str
    exchange: str
    strategy: str | None
    quantity: int | None
    price_paise: int | None
    own_id: str | None
    payload: dict  # the parsed body with secrets removed


def parse(body: bytes) -> Signal:
    data = json_object(body)
    _reject_placeholders(data)

    action = _action(_first(data, _ACTION_FIELDS, "action"))
    raw_symbol = _first(data, _SYMBOL_FIELDS, "symbol")
    symbol, exchange = symbol_of(raw_symbol, data.get("exchange"))
    strategy = data.get("strategy")
    if strategy is not None and not isinstance(strategy, str):
        raise PayloadError("field 'strategy' must be a string")
    payload = {k: _plain(v) for k, v in data.items() if k not in _SECRET_FIELDS}
    own_id = next((str(data[f]) for f in OWN_ID_FIELDS if data.get(f) not in (None, "")), None)
    return Signal(
        action=action,
        symbol=symbol,
        exchange=exchange,
        strategy=strategy.strip() if isinstance(strategy, str) and strategy.strip() else None,
        quantity=_quantity(data),
        price_paise=_price(data),
        own_id=own_id,
        payload=payload,
    )


def json_object(body: bytes) -> dict:
    """The body as a JSON object with lower-case keys (numbers as Decimal), or PayloadError."""
    if len(body) > MAX_BODY_BYTES:
        raise PayloadError(f"body is {len(body)} bytes; the limit is {MAX_BODY_BYTES}")
    try:
        text = body.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise PayloadError("body is not UTF-8 text") from None
    if not text:
        raise PayloadError("body is empty; expected a JSON object such as "
                           '{"strategy":"st","symbol":"RELIANCE","action":"BUY"}')
    try:
        data = json.loads(text, parse_float=Decimal)
    except json.JSONDecodeError as exc:
        raise PayloadError(f"body is not valid JSON ({exc.msg} at line {exc.lineno} "
                           f"column {exc.colno})") from None
    if not isinstance(data, dict):
        raise PayloadError(f"body must be a JSON object, not {type(data).__name__}")
    return {str(k).strip().lower(): v for k, v in data.items()}


def _reject_placeholders(data: dict) -> None:
    for key, value in data.items():
        if isinstance(value, str) and (match := _PLACEHOLDER.search(value)):
            raise PayloadError(f"field '{key}' still holds the placeholder {match.group(0)}: "
                               "TradingView did not replace it; check the alert message")


def _first(data: dict, fields: tuple[str, ...], what: str) -> Any:
    for field in fields:
        if data.get(field) not in (None, ""):
            return data[field]
    raise PayloadError(f"missing {what}: give one of {', '.join(fields)}")


def _action(value: Any) -> str:
    if not isinstance(value, str):
        raise PayloadError("field 'action' must be a string")
    action = value.strip().upper().replace("-", "_").replace(" ", "_")
    action = _ACTION_ALIASES.get(action, action)
    if action not in ACTIONS:
        raise PayloadError(f"unknown action {value!r}; expected one of {', '.join(ACTIONS)}")
    return action


def symbol_of(value: Any, exchange: Any) -> tuple[str, str]:
    if not isinstance(value, str):
        raise PayloadError("field 'symbol' must be a string")
    symbol = value.strip().upper()
    exch = exchange.strip().upper() if isinstance(exchange, str) and exchange.strip() else "NSE"
    if ":" in symbol:
        exch, symbol = (part.strip() for part in symbol.split(":", 1))
    if not symbol or not re.fullmatch(r"[A-Z0-9&_.\- ]{1,40}", symbol):
        raise PayloadError(f"symbol {value!r} is not a valid trading symbol")
    return symbol, exch


def _quantity(data: dict) -> int | None:
    raw = next((data[f] for f in _QUANTITY_FIELDS if data.get(f) not in (None, "")), None)
    if raw is None:
        return None
    try:
        qty = Decimal(str(raw))
        whole = qty.is_finite() and qty == qty.to_integral_value() and qty > 0
    except ArithmeticError:
        raise PayloadError(f"quantity {str(raw)[:40]!r} is not a number") from None
    if not whole:
        raise PayloadError(f"quantity {str(raw)[:40]!r} must be a positive whole number")
    if qty > MAX_QUANTITY:
        raise PayloadError(f"quantity {str(raw)[:40]!r} is more than {MAX_QUANTITY:,}")
    return int(qty)


def _price(data: dict) -> int | None:
    raw = next((data[f] for f in _PRICE_FIELDS if data.get(f) not in (None, "")), None)
    if raw is None:
        return None
    try:
        return rupees_to_paise(raw)
    except ValueError as exc:
        raise PayloadError(f"price: {exc}") from None


def _plain(value: Any) -> Any:
    return str(value) if isinstance(value, Decimal) else value
