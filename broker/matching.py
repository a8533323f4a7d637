"""A matching engine for MARKET, LIMIT, SL and SL-M orders against a tick stream.

Pure: no locks, no clock; the caller passes times in. Used by the simulated
broker (replay) and by the OpenAlgo-compatible simulator.

Rules (one tick = one trade print at ``price``):

* ``SL`` SELL triggers when price ≤ trigger, ``SL`` BUY when price ≥ trigger;
  ``SL-M`` likewise. A triggered ``SL-M`` fills at the tick price.
* A triggered ``SL`` becomes a limit order at its ``price``; a ``LIMIT`` is
  one from the start. A limit order that is marketable on the first tick it
  meets (SELL: price ≥ limit, BUY: price ≤ limit) fills at the tick price;
  otherwise it rests and later fills at its limit price when a tick reaches it.
* ``MARKET`` fills at the next tick of its symbol.
* Fills are for the whole quantity.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from broker.base import OrderSnapshot

WORKING = ("trigger pending", "open")


@dataclass(slots=True)
class SimOrder:
    """An order inside the engine. ``status`` uses OpenAlgo's words."""

    orderid: str
    symbol: str
    action: str
    quantity: int
    pricetype: str
    price: float
    trigger_price: float
    status: str
    placed_at: datetime
    updated_at: datetime
    filled_quantity: int = 0
    average_price: float = 0.0
    #: a limit order that has met at least one tick without filling
    resting: bool = False

    @property
    def working(self) -> bool:
        return self.status in WORKING

    def snapshot(self) -> OrderSnapshot:
        """The broker's view of this order."""
        return OrderSnapshot(
            orderid=self.orderid,
            symbol=self.symbol,
            action=self.action,  # type: ignore[arg-type]
            quantity=self.quantity,
            pricetype=self.pricetype,
            price=self.price,
            trigger_price=self.trigger_price,
            status=self.status,
            filled_quantity=self.filled_quantity,
            average_price=self.average_price,
            timestamp=self.updated_at,
        )


@dataclass(frozen=True, slots=True)
class Fill:
    """``quantity`` contracts of ``order`` traded at ``price`` rupees."""

    order: SimOrder
    quantity: int
    price: float


class MatchingEngine:
    """Holds working orders per symbol and matches them against ticks."""

    def __init__(self) -> None:
        self.orders: dict[str, SimOrder] = {}
        self._working: dict[str, list[SimOrder]] = {}
        self.last_price: dict[str, float] = {}

    def add(self, order: SimOrder) -> None:
        """Accept a new working order (validated by the caller)."""
        self.orders[order.orderid] = order
        order.status = "trigger pending" if order.pricetype in ("SL", "SL-M") else "open"
        self._working.setdefault(order.symbol, []).append(order)

    def cancel(self, order: SimOrder, now: datetime) -> None:
        """Cancel a working order."""
        order.status = "cancelled"
        order.updated_at = now
        self._working[order.symbol].remove(order)

    def on_tick(self, symbol: str, price: float, now: datetime) -> tuple[list[SimOrder], list[Fill]]:
        """Match one trade. Returns (orders whose status changed, fills), in placement order."""
        self.last_price[symbol] = price
        working = self._working.get(symbol)
        if not working:
            return [], []
        changed: list[SimOrder] = []
        fills: list[Fill] = []
        for order in list(working):
            fill_price = self._match(order, price)
            if fill_price is None:
                if order.status == "open" and order.pricetype == "SL" and not order.resting:
                    changed.append(order)
                    order.updated_at = now
                if order.status == "open":
                    order.resting = True
                continue
            order.status = "complete"
            order.updated_at = now
            order.filled_quantity = order.quantity
            order.average_price = fill_price
            working.remove(order)
            changed.append(order)
            fills.append(Fill(order, order.quantity, fill_price))
        return changed, fills

    def fill_market_orders(self, now: datetime) -> tuple[list[SimOrder], list[Fill]]:
        """Fill every working MARKET order at its symbol's last price (end of data)."""
        changed: list[SimOrder] = []
        fills: list[Fill] = []
        for symbol, working in self._working.items():
            last = self.last_price.get(symbol)
            for order in [o for o in working if o.pricetype == "MARKET"]:
                if last is None:
                    continue
                order.status, order.updated_at = "complete", now
                order.filled_quantity, order.average_price = order.quantity, last
                working.remove(order)
                changed.append(order)
                fills.append(Fill(order, order.quantity, last))
        return changed, fills

    @staticmethod
    def _match(order: SimOrder, price: float) -> float | None:
        """The fill price of ``order`` on a trade at ``price``, or None (may trigger it)."""
        sell = order.action == "SELL"
        kind = order.pricetype
        if kind == "MARKET":
            return price
        if order.status == "trigger pending":
            crossed = price <= order.trigger_price if sell else price >= order.trigger_price
            if not crossed:
                return None
            if kind == "SL-M":
                return price
            order.status = "open"
        marketable = price >= order.price if sell else price <= order.price
        if not marketable:
            return None
        return order.price if order.resting else price
