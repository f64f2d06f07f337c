"""Parse a ChartInk scanner alert: one POST names every stock the scan found, with the price
each triggered at. ChartInk's alert webhook sends

    {"stocks": "SBIN,RELIANCE", "trigger_prices": "801.5,1402.1", "triggered_at": "2:34 pm",
     "scan_name": "...", "scan_url": "...", "alert_name": "...", "webhook_url": "..."}

A scan says which stocks, not what to do: each stock becomes a signal of the link's action (BUY
or SELL). A stock whose name or price is not valid is refused alone; the others go on.
"""
from __future__ import annotations

from dataclasses import dataclass

from schemas.money import rupees_to_paise
from schemas.tradingview import PayloadError, Signal, json_object, symbol_of

KEPT = ("scan_name", "alert_name", "triggered_at", "scan_url")   # recorded with each alert


@dataclass(frozen=True)
class Refused:
    stock: str
    reason: str


def parse(body: bytes, action: str) -> tuple[list[Signal], list[Refused]]:
    data = json_object(body)
    stocks = data.get("stocks")
    if not isinstance(stocks, str) or not stocks.strip():
        raise PayloadError('missing stocks: ChartInk sends "stocks": "SBIN,RELIANCE" with '
                           '"trigger_prices": "801.5,1402.1"')
    names = [name.strip() for name in stocks.split(",")]
    raw_prices = data.get("trigger_prices")
    prices = [p.strip() for p in str(raw_prices).split(",")] \
        if raw_prices not in (None, "") else [""] * len(names)
    if len(prices) != len(names):
        raise PayloadError(f"{len(names)} stocks but {len(prices)} trigger prices")
    common = {k: str(data[k]) for k in KEPT if data.get(k) not in (None, "")}
    signals, refused = [], []
    for name, price in zip(names, prices):
        try:
            symbol, exchange = symbol_of(name, None)
        except PayloadError as exc:
            refused.append(Refused(name, str(exc)))
            continue
        try:
            paise = rupees_to_paise(price) if price else None
        except ValueError as exc:
            refused.append(Refused(name, f"trigger price: {exc}"))
            continue
        signals.append(Signal(action=action, symbol=symbol, exchange=exchange, strategy=None,
                              quantity=None, price_paise=paise, own_id=None,
                              payload={**common, "stock": symbol, "trigger_price": price}))
    return signals, refused
