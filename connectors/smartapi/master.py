"""Angel One's instrument master (OpenAPIScripMaster.json): load from a file or URL, cached
per day; look up by symbol or token; resolve an option signal to a contract.

Master fields: token, symbol, name, expiry (DDMMMYYYY), strike (paise: rupees x 100, -1 for
non-options), lotsize, instrumenttype (OPTIDX, OPTSTK, FUTIDX, FUTSTK, AMXIDX, ""), exch_seg,
tick_size (paise).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import httpx

from schemas import option_chain

OPTION_TYPES = ("OPTIDX", "OPTSTK")


class InstrumentError(ValueError):
    pass


@dataclass(frozen=True)
class Contract:
    token: str
    symbol: str
    name: str
    exchange: str
    instrument_type: str
    lot_size: int
    tick_size_paise: int
    expiry: date | None = None
    strike_paise: int | None = None

    @property
    def right(self) -> str | None:
        return self.symbol[-2:] if self.instrument_type in OPTION_TYPES else None


def _contract(row: dict) -> Contract:
    strike = Decimal(row.get("strike") or "-1")
    expiry = row.get("expiry") or ""
    return Contract(
        token=str(row["token"]), symbol=row["symbol"], name=row.get("name", ""),
        exchange=row.get("exch_seg", ""), instrument_type=row.get("instrumenttype", ""),
        lot_size=int(Decimal(row.get("lotsize") or "1")),
        tick_size_paise=int(Decimal(row.get("tick_size") or "0")),
        expiry=datetime.strptime(expiry, "%d%b%Y").date() if expiry else None,
        strike_paise=int(strike) if strike > 0 else None)


class InstrumentMaster:
    def __init__(self, rows: list[dict]):
        self.by_token_: dict[str, Contract] = {}
        self.by_symbol: dict[tuple[str, str], Contract] = {}
        self.options: dict[tuple[str, str], list[Contract]] = {}   # (underlying, CE|PE)
        for row in rows:
            c = _contract(row)
            self.by_token_[c.token] = c
            self.by_symbol[(c.exchange, c.symbol.upper())] = c
            if c.instrument_type == "AMXIDX":
                self.by_symbol.setdefault((c.exchange, c.name.upper()), c)
            if c.exchange in ("NSE", "BSE") and c.symbol.upper().endswith("-EQ"):
                self.by_symbol.setdefault((c.exchange, c.symbol.upper()[:-3]), c)
            if c.instrument_type in OPTION_TYPES and c.expiry and c.strike_paise:
                self.options.setdefault((c.name.upper(), c.right), []).append(c)

    @classmethod
    def load(cls, source: str, cache_dir: Path, today: date | None = None) -> "InstrumentMaster":
        """A path, or a URL fetched at most once a day (kept in cache_dir)."""
        if not source.startswith(("http://", "https://")):
            return cls(json.loads(Path(source).read_text()))
        today = today or date.today()
        cached = cache_dir / f"OpenAPIScripMaster-{today.isoformat()}.json"
        if not cached.exists():
            response = httpx.get(source, timeout=60, follow_redirects=True)
            response.raise_for_status()
            cache_dir.mkdir(parents=True, exist_ok=True)
            tmp = cached.with_suffix(".tmp")
            tmp.write_bytes(response.content)
            tmp.replace(cached)
        return cls(json.loads(cached.read_text()))

    def by_token(self, token: str) -> Contract | None:
        return self.by_token_.get(token)

    def equities(self) -> list[str]:
        """Every NSE equity, as "NSE:SBIN-EQ"."""
        return sorted(f"NSE:{c.symbol}" for c in self.by_token_.values()
                      if c.exchange == "NSE" and c.symbol.upper().endswith("-EQ"))

    def lookup(self, symbol: str, exchange: str = "NSE") -> Contract | None:
        symbol = symbol.strip().upper()
        if ":" in symbol:
            exchange, symbol = symbol.split(":", 1)
        return self.by_symbol.get((exchange.upper() or "NSE", symbol))

    def resolve_option(self, underlying: str, right: str, price_paise: int,
                       today: date) -> Contract:
        """The nearest expiry (today or later), at the money: the strike nearest the
        underlying's price on that expiry's strike grid (the lower one on a tie;
        schemas/option_chain.py)."""
        name = underlying.strip().upper().removesuffix("-EQ")
        if ":" in name:
            name = name.split(":", 1)[1]
        chain = [c for c in self.options.get((name, right), []) if c.expiry >= today]
        if not chain:
            raise InstrumentError(f"no {right} options on {name} expiring on or after {today}")
        expiry = option_chain.expiry("current_week", [c.expiry for c in chain], today)
        strikes = sorted((c for c in chain if c.expiry == expiry), key=lambda c: c.strike_paise)
        return strikes[option_chain.atm_index([c.strike_paise for c in strikes], price_paise)]
