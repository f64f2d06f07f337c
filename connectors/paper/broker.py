"""Paper broker: a simulated exchange that fills MARKET orders against the tick stream.

- An exit on a level (stop, target, trail, end of day) fills at the tick that triggered it (the
  intent's reference price); an entry, and an exit on a signal, at the instrument's last tick
  when that tick is fresh. Both are moved against the trader by the link's slippage, rounded to
  the paisa against the trader too. Fills are decided by the tick stream, not by how fast the
  pipeline runs.
- With no fresh price the order rests in the book and fills at the next tick of its instrument.
  An order resting longer than the fill timeout fills at the alert's price when it carried one
  (the fill says so), or is rejected with the reason.
- `partial:F` fills the fraction F now and the rest at the next tick (the live brokers' partial
  fills, rehearsed on paper).

The book is a mapping token -> resting orders that the caller keeps in a changelog-backed table.
"""
from __future__ import annotations

from decimal import Decimal
from typing import Mapping, MutableMapping

from connectors.broker import rejection
from schemas import ids
from schemas.records import Fill, OrderIntent


def slipped(price_paise: int, side: str, slippage_bps: int) -> int:
    num = price_paise * (10_000 + (slippage_bps if side == "BUY" else -slippage_bps))
    return -(-num // 10_000) if side == "BUY" else num // 10_000


def fill_now(quantity: int, paper_fill: str) -> int:
    """How much of an order fills at once: all of it, or the fraction F of `partial:F`
    (at least one unit)."""
    if not paper_fill.startswith("partial:"):
        return quantity
    fraction = Decimal(paper_fill.removeprefix("partial:"))
    return min(quantity, max(1, int(quantity * fraction)))


def _triggered(intent: OrderIntent) -> bool:
    """An exit on a level (stop, target, trail, end of day), not on a signal."""
    return intent.purpose == "EXIT" and intent.reason != "SIGNAL"


def _price(intent: OrderIntent, last_price_paise: int | None) -> int | None:
    """An exit on a level fills at the tick that triggered it; the rest at the last tick."""
    return (intent.reference_price_paise if _triggered(intent) else None) or last_price_paise


def fill_at_once(book: Mapping, intent: OrderIntent, now_ms: int) -> Fill | None:
    """The fill of an exit on a level that fills whole, with nothing of its entry resting in
    `book` to cancel: what PaperBroker.execute() would answer, whenever it ran (the triggering
    tick's price), so it is decided where the exit is and goes out with the order, which no
    executor then handles. None: execute() decides (an entry or a signal's exit fills at the
    last tick when the executor takes it)."""
    if not _triggered(intent) or intent.quantity <= 0 or \
            _resting(book, intent.token, intent.cancel_client_order_id):
        return None
    price = intent.reference_price_paise
    if not price or fill_now(intent.quantity, intent.paper_fill) < intent.quantity:
        return None
    return _fill(intent.asdict(), intent.quantity, intent.quantity, price, now_ms)


def _resting(book: Mapping, token: str, client_order_id: str | None) -> dict | None:
    return next((r for r in book.get(token) or ()
                 if r["order"]["client_order_id"] == client_order_id), None) \
        if client_order_id else None


def _fill(intent: dict, quantity: int, filled_after: int, price: int, now_ms: int,
          text: str | None = None) -> Fill:
    """A fill id per cumulative quantity: the same increment is the same fill on replay."""
    return Fill(fill_id=ids.fill_id(intent["client_order_id"], filled_after),
                position_id=intent["position_id"], client_order_id=intent["client_order_id"],
                token=intent["token"], side=intent["side"], at_ms=now_ms, status="FILLED",
                quantity=quantity, price_paise=slipped(price, intent["side"],
                                                       intent["slippage_bps"]),
                broker_order_id=f"PAPER-{intent['client_order_id']}", text=text,
                order_filled=filled_after)


class PaperBroker:
    def __init__(self, book: MutableMapping, fill_timeout_ms: int):
        self.book, self.fill_timeout_ms = book, fill_timeout_ms

    async def execute(self, intent: OrderIntent, last_price_paise: int | None, now_ms: int,
                      maybe_placed: bool = False) -> list[Fill]:
        return self.answer(intent, last_price_paise, now_ms)

    def answer(self, intent: OrderIntent, last_price_paise: int | None, now_ms: int
               ) -> list[Fill]:
        """The order's fills now (a rest fills later, on_tick). last_price_paise: the
        instrument's last tick if fresh, else None."""
        if intent.purpose == "CANCEL":
            return self.cancel(intent.token, intent.cancel_client_order_id, now_ms,
                               "cancelled by the trader")
        if intent.quantity <= 0:
            return [rejection(intent, "nothing to fill", now_ms)]
        fills = self.cancel(intent.token, intent.cancel_client_order_id, now_ms)
        order = intent.asdict()
        price = _price(intent, last_price_paise)
        now_qty = fill_now(intent.quantity, intent.paper_fill) if price else 0
        if now_qty:
            fills.append(_fill(order, now_qty, now_qty, price, now_ms))
        if now_qty < intent.quantity:
            self._rest(intent.token, dict(order=order, filled=now_qty, placed_at_ms=now_ms))
        return fills

    def on_tick(self, token: str, price_paise: int, now_ms: int) -> list[Fill]:
        """Fill every order resting on this instrument at this tick."""
        resting = self.book.get(token)
        if not resting:
            return []
        del self.book[token]
        return [_fill(r["order"], r["order"]["quantity"] - r["filled"], r["order"]["quantity"],
                      price_paise, now_ms) for r in resting]

    def expired(self, now_ms: int) -> list[tuple[str, str]]:
        """(token, client order id) of orders resting past the fill timeout."""
        return [(token, r["order"]["client_order_id"]) for token, resting in self.book.items()
                for r in resting or () if now_ms - r["placed_at_ms"] >= self.fill_timeout_ms]

    def expire(self, token: str, client_order_id: str, now_ms: int) -> list[Fill]:
        """A resting order that got no tick in time: the alert's price, or a rejection."""
        mine = _resting(self.book, token, client_order_id)
        if mine is None:
            return []   # filled or cancelled meanwhile
        self._remove(token, client_order_id)
        order, waited_s = mine["order"], self.fill_timeout_ms / 1000
        price = order.get("reference_price_paise")
        if price:
            return [_fill(order, order["quantity"] - mine["filled"], order["quantity"], price,
                          now_ms, text=f"no tick within {waited_s:g}s: filled at the alert's "
                                       "price")]
        return [rejection(OrderIntent(**order), f"no tick within {waited_s:g}s and the alert "
                                                "carried no price", now_ms)]

    def cancel(self, token: str, client_order_id: str | None, now_ms: int,
               why: str = "cancelled: the exit was sent before the rest filled") -> list[Fill]:
        """Cancel what rests of an order (an entry whose exit triggered, or that the trader
        cancelled): its rejection."""
        mine = _resting(self.book, token, client_order_id)
        if mine is None:
            return []
        self._remove(token, client_order_id)
        return [rejection(OrderIntent(**mine["order"]), why, now_ms)]

    def _rest(self, token: str, entry: dict) -> None:
        resting = [r for r in self.book.get(token) or ()
                   if r["order"]["client_order_id"] != entry["order"]["client_order_id"]]
        self.book[token] = resting + [entry]

    def _remove(self, token: str, client_order_id: str) -> None:
        left = [r for r in self.book.get(token) or ()
                if r["order"]["client_order_id"] != client_order_id]
        if left:
            self.book[token] = left
        else:
            del self.book[token]
