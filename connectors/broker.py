"""The interface every broker adapter presents to the executor."""
from __future__ import annotations

from typing import Protocol

from schemas.records import Fill, OrderIntent


class Broker(Protocol):
    def execute(self, intent: OrderIntent, last_price_paise: int | None,
                now_ms: int) -> list[Fill]:
        """Place the order; the fills (or the rejection) known now."""
