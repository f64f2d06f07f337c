"""Startup reconciliation with a broker, decided purely: pinewire's open live positions of one
account against the broker's net quantities and today's order book.

- Flat at the broker, OPEN in pinewire (no order of its own outstanding): closed with reason
  RECONCILED at the price of the broker's order that flattened it (the latest complete order
  on that instrument, on the exit's side, that is not one of pinewire's own entries). With no
  such order in today's book nothing is closed; the report says so.
- Held at the broker but not (or not that much) by pinewire: reported, never traded.
- Less at the broker than pinewire holds, not flat: reported, never traded.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from connectors.order_updates import PIPELINE_TAG, OrderState


@dataclass(frozen=True)
class Held:
    """An open live position as pinewire knows it."""
    position_id: str
    token: str
    symbol: str
    side: str            # LONG | SHORT
    quantity: int        # still held
    state: str = "OPEN"  # only an OPEN position is closed here; others await their orders
    protected: bool = False   # a broker-side stop rule's outcome closes it, not this

@dataclass(frozen=True)
class Close:
    position_id: str
    price_paise: int
    broker_order_id: str
    note: str


@dataclass
class Report:
    closes: list[Close] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)     # what an operator should look at

    @property
    def unknown(self) -> int:
        return sum(line.startswith("unknown") for line in self.lines)


def signed(held: Held) -> int:
    return held.quantity if held.side == "LONG" else -held.quantity


def closing_order(token: str, exit_side: str, orders: list[OrderState],
                  own_entries: set[str]) -> OrderState | None:
    done = [o for o in orders if o.token == token and o.side == exit_side and o.filled > 0
            and o.status == "complete" and o.tag not in own_entries]
    return done[-1] if done else None


def decide(held: list[Held], at_broker: dict[str, int], orders: list[OrderState],
           symbols: dict[str, str] | None = None) -> Report:
    """at_broker: the broker's net quantity per token (long +, short -); symbols: names for
    tokens pinewire does not hold, for the report."""
    report = Report()
    by_token: dict[str, list[Held]] = {}
    for h in held:
        by_token.setdefault(h.token, []).append(h)
    own_entries = {o.tag for o in orders if PIPELINE_TAG.match(o.tag) and o.tag[16] == "E"}
    for token, positions in sorted(by_token.items()):
        expected = sum(signed(h) for h in positions)
        actual = at_broker.get(token, 0)
        name = positions[0].symbol
        if expected == actual:
            continue
        if actual == 0 and any(h.protected for h in positions):
            report.lines.append(f"flat at the broker: {name}, protected by a broker stop rule: "
                                "the rule's order closes the position")
            continue
        if actual == 0 and any(h.state != "OPEN" for h in positions):
            report.lines.append(f"flat at the broker: {name}, with an order of pinewire's "
                                "still outstanding: its outcome closes the position")
            continue
        if actual == 0:
            exit_side = "SELL" if expected > 0 else "BUY"
            order = closing_order(token, exit_side, orders, own_entries)
            if order is None:
                report.lines.append(f"flat at the broker: {name} ({expected:+d} in pinewire), "
                                    "but no closing order in today's order book: left open")
                continue
            price = round(order.average_price * 100)
            for h in positions:
                report.closes.append(Close(h.position_id, price, order.order_id,
                                           f"flat at the broker: closed by its order "
                                           f"{order.order_id} at {order.average_price}"))
            continue
        if actual * expected > 0 and abs(actual) < abs(expected):
            report.lines.append(f"less at the broker: {name} {actual:+d} there, {expected:+d} "
                                "in pinewire: left as it is")
        else:
            report.lines.append(f"unknown at the broker: {name} {actual:+d} there, "
                                f"{expected:+d} in pinewire: never traded by pinewire")
    for token, actual in sorted(at_broker.items()):
        if actual and token not in by_token:
            name = (symbols or {}).get(token, token)
            report.lines.append(f"unknown at the broker: {name} {actual:+d} there, none in "
                                "pinewire: never traded by pinewire")
    return report
