"""Paper broker: MARKET orders fill in full at the latest tick (the alert's price when no tick
has been seen) moved against the trader by the link's slippage, rounded to the paisa against
the trader too."""
from __future__ import annotations

from connectors.broker import rejection
from schemas import ids
from schemas.records import Fill, OrderIntent


def slipped(price_paise: int, side: str, slippage_bps: int) -> int:
    num = price_paise * (10_000 + (slippage_bps if side == "BUY" else -slippage_bps))
    return -(-num // 10_000) if side == "BUY" else num // 10_000


class PaperBroker:
    async def execute(self, intent: OrderIntent, last_price_paise: int | None, now_ms: int,
                      maybe_placed: bool = False) -> list[Fill]:
        price = last_price_paise or intent.reference_price_paise
        common = dict(fill_id=ids.fill_id(intent.client_order_id), position_id=intent.position_id,
                      client_order_id=intent.client_order_id, token=intent.token,
                      side=intent.side, at_ms=now_ms, broker_order_id=f"PAPER-{intent.client_order_id}")
        if price is None:
            return [rejection(intent, "no price yet for this instrument: no tick seen "
                                           "and the alert carried no price", now_ms)]
        if intent.quantity <= 0:
            return [rejection(intent, "nothing to fill", now_ms)]
        return [Fill(status="FILLED", quantity=intent.quantity,
                     price_paise=slipped(price, intent.side, intent.slippage_bps), **common)]
