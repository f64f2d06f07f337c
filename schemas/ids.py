"""Deterministic identifiers: the same inputs always give the same id (replays are certain)."""
from __future__ import annotations

import hashlib
import json
import re


def digest(*parts: object, length: int = 16) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(str(part).encode())
        h.update(b"\x1f")
    return h.hexdigest()[:length]


def canonical_json(payload: dict) -> str:
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)


def dedupe_key(link_id: str, payload: dict) -> str:
    return digest("dedupe", link_id, canonical_json(payload), length=32)


def alert_id(dedupe: str, received_at_ns: int) -> str:
    return digest("alert", dedupe, received_at_ns, length=24)


def position_id(alert: str) -> str:
    return digest("position", alert)


# E, X: pinewire's orders; P: a broker-side stop rule placed or moved; B: the order that rule
# placed when it triggered
_PURPOSE_LETTER = {"ENTRY": "E", "EXIT": "X", "PROTECT": "P", "BROKER_STOP": "B", "CANCEL": "C"}


def is_client_order_id(text: str) -> bool:
    return bool(re.fullmatch(r"[0-9a-f]{16}[EXPB]\d+", text))


def client_order_id(position: str, purpose: str, attempt: int = 0) -> str:
    """<= 20 characters: 16 of position id, the purpose's letter, the attempt number."""
    return f"{position}{_PURPOSE_LETTER[purpose]}{attempt}"


def fill_id(client_order: str, *what: object) -> str:
    """A fill's id: its order's client order id (unique to the intent, where the brokers'
    own order ids are not: two brokers can number an order alike) and what sets it apart."""
    return digest("fill", client_order, *what)


def event_id(*parts: object) -> str:
    return digest("event", *parts, length=24)
