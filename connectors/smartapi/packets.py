"""SmartWebSocketV2 binary market-data packets, little-endian (smartapi.md):

 0 B mode · 1 B exchange type · 2-26 token (25 bytes, NUL-terminated) · 27 q sequence ·
 35 q exchange time (ms) · 43 q LTP (paise)                                   -> LTP, 51 bytes
 51 q last traded qty · 59 q avg price · 67 q volume · 75 d total buy qty · 83 d total sell qty ·
 91/99/107/115 q open/high/low/close                                          -> Quote, 123 bytes
 123 q last traded time · 131 q OI · 139 q OI change % · 147-346 ten <HqqH best-five entries
 (flag, qty, price, orders) · 347/355/363/371 q upper/lower circuit, 52-week high/low
                                                                              -> SnapQuote, 379
"""
from __future__ import annotations

import struct
from dataclasses import dataclass, field

LTP, QUOTE, SNAP_QUOTE = 1, 2, 3
SIZES = {LTP: 51, QUOTE: 123, SNAP_QUOTE: 379}
EXCHANGE_TYPES = {"NSE": 1, "NFO": 2, "BSE": 3, "BFO": 4, "MCX": 5, "NCX": 7, "CDS": 13}

_HEAD = struct.Struct("<BB25sqqq")
_QUOTE = struct.Struct("<qqqddqqqq")
_SNAP = struct.Struct("<qqq")
_LEVEL = struct.Struct("<HqqH")
_LIMITS = struct.Struct("<qqqq")


class PacketError(ValueError):
    pass


@dataclass(frozen=True)
class MarketPacket:
    mode: int
    exchange_type: int
    token: str
    sequence: int
    exchange_ts_ms: int
    ltp_paise: int
    last_traded_qty: int = 0
    avg_price_paise: int = 0
    volume: int = 0
    total_buy_qty: float = 0.0
    total_sell_qty: float = 0.0
    open_paise: int = 0
    high_paise: int = 0
    low_paise: int = 0
    close_paise: int = 0
    last_traded_ts: int = 0
    open_interest: int = 0
    oi_change_pct: int = 0
    best_five: tuple = field(default_factory=tuple)   # ((flag, qty, price, orders), ...) x10
    upper_circuit: int = 0
    lower_circuit: int = 0
    week52_high: int = 0
    week52_low: int = 0


def encode(p: MarketPacket) -> bytes:
    out = _HEAD.pack(p.mode, p.exchange_type, p.token.encode()[:24], p.sequence,
                     p.exchange_ts_ms, p.ltp_paise)
    if p.mode >= QUOTE:
        out += _QUOTE.pack(p.last_traded_qty, p.avg_price_paise, p.volume, p.total_buy_qty,
                           p.total_sell_qty, p.open_paise, p.high_paise, p.low_paise,
                           p.close_paise)
    if p.mode == SNAP_QUOTE:
        levels = list(p.best_five) + [(0, 0, 0, 0)] * (10 - len(p.best_five))
        out += _SNAP.pack(p.last_traded_ts, p.open_interest, p.oi_change_pct)
        out += b"".join(_LEVEL.pack(*level) for level in levels[:10])
        out += _LIMITS.pack(p.upper_circuit, p.lower_circuit, p.week52_high, p.week52_low)
    return out


def decode(data: bytes) -> MarketPacket:
    """Exactly the fields of the packet's mode; a short or unknown packet is a PacketError."""
    if len(data) < SIZES[LTP]:
        raise PacketError(f"packet of {len(data)} bytes is shorter than an LTP packet")
    mode, exch, token, seq, ts, ltp = _HEAD.unpack_from(data)
    if mode not in SIZES:
        raise PacketError(f"unknown subscription mode {mode}")
    if len(data) < SIZES[mode]:
        raise PacketError(f"mode {mode} packet of {len(data)} bytes; expected {SIZES[mode]}")
    fields = dict(mode=mode, exchange_type=exch, token=token.split(b"\0", 1)[0].decode(),
                  sequence=seq, exchange_ts_ms=ts, ltp_paise=ltp)
    if mode >= QUOTE:
        names = ("last_traded_qty", "avg_price_paise", "volume", "total_buy_qty",
                 "total_sell_qty", "open_paise", "high_paise", "low_paise", "close_paise")
        fields.update(zip(names, _QUOTE.unpack_from(data, 51)))
    if mode == SNAP_QUOTE:
        fields.update(zip(("last_traded_ts", "open_interest", "oi_change_pct"),
                          _SNAP.unpack_from(data, 123)))
        fields["best_five"] = tuple(_LEVEL.unpack_from(data, 147 + 20 * i) for i in range(10))
        fields.update(zip(("upper_circuit", "lower_circuit", "week52_high", "week52_low"),
                          _LIMITS.unpack_from(data, 347)))
    return MarketPacket(**fields)
