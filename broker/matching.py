"""A matching engine for MARKET, LIMIT, SL and SL-M orders against a tick stream.

Pure: no locks, no clock; the caller passes times in. Used by the simulated
broker (replay) and by the OpenAlgo-compatible simulator. Two fill models:

``exchange`` (the default; replay always uses it) — rules, one tick = one
trade print at ``price``:

* ``SL`` SELL triggers when price ≤ trigger, ``SL`` BUY when price ≥ trigger;
  ``SL-M`` likewise. A triggered ``SL-M`` fills at the tick price.
* A triggered ``SL`` becomes a limit order at its ``price``; a ``LIMIT`` is
  one from the start. A limit order that is marketable on the first tick it
  meets (SELL: price ≥ limit, BUY: price ≤ limit) fills at the tick price;
  otherwise it rests and later fills at its limit price when a tick reaches it.
* ``MARKET`` fills at the next tick of its symbol.
* Fills are for the whole quantity.

``openalgo-sandbox`` — as OpenAlgo's analyzer-mode sandbox fills (v2.0.2.1,
``sandbox/execution_engine.py`` and ``order_manager.py``; openalgo.md, "Observed
on the real server"):

* At placement, against the symbol's last price: a ``MARKET`` order fills at
  once at the ask (BUY) or the bid (SELL), one tick from the last price; a
  marketable ``LIMIT`` fills at the last price; an ``SL``/``SL-M`` whose
  trigger is already crossed (a BUY stop below the last price) fills at once
  at the last price (an ``SL`` only if its limit is met too, else it rests
  open). With no last price yet, the order waits for the next tick.
* On a tick: ``MARKET`` fills at the tick price; a resting ``LIMIT`` fills at
  its limit price; a triggered ``SL`` fills at the tick price (not at its
  limit) when its limit is met — an open ``SL`` checks trigger and limit again
  on every tick; ``SL-M`` fills at the tick price.
* Fills are for the whole quantity.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from broker.base import OrderSnapshot

WORKING = ("trigger pending", "open")

FillModel = Literal["exchange", "openalgo-sandbox"]
#: The fill models, the default first.
FILL_MODELS: tuple[FillModel, ...] = ("exchange", "openalgo-sandbox")


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
    """Holds working orders per symbol and matches them against ticks (module doc: the fill models).

    ``tick_size`` (rupees) puts the sandbox model's bid and ask one tick from the last price.
    Raises ValueError for an unknown ``fill_model``.
    """

    def __init__(self, fill_model: FillModel = "exchange", tick_size: float = 0.05) -> None:
        if fill_model not in FILL_MODELS:
            raise ValueError(f"unknown fill model {fill_model!r}; expected one of {', '.join(FILL_MODELS)}")
        self.fill_model = fill_model
        self.tick_size = tick_size
        self.orders: dict[str, SimOrder] = {}
        self._working: dict[str, list[SimOrder]] = {}
        self.last_price: dict[str, float] = {}

    def add(self, order: SimOrder) -> None:
        """Accept a new working order (validated by the caller)."""
        self.orders[order.orderid] = order
        order.status = "trigger pending" if order.pricetype in ("SL", "SL-M") else "open"
        self._working.setdefault(order.symbol, []).append(order)

    def fill_at_placement(self, order: SimOrder) -> list[Fill]:
        """Right after :meth:`add`: the sandbox model fills a marketable order at once (module doc).

        Returns its fill, or ``[]`` (always, in the exchange model).
        """
        last = self.last_price.get(order.symbol)
        if self.fill_model != "openalgo-sandbox" or last is None:
            return []
        if order.pricetype == "MARKET":
            price = last + self.tick_size if order.action == "BUY" else max(self.tick_size, last - self.tick_size)
        else:
            price = self._match_sandbox(order, last)
        return [] if price is None else [self._fill(order, round(price, 2), order.placed_at)]

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
        match = self._match if self.fill_model == "exchange" else self._match_sandbox
        for order in list(working):
            was = order.status
            fill_price = match(order, price)
            if fill_price is None:
                if order.status != was:  # a stop-limit triggered and now rests as a limit
                    changed.append(order)
                    order.updated_at = now
                if order.status == "open":
                    order.resting = True
                continue
            changed.append(order)
            fills.append(self._fill(order, fill_price, now))
        return changed, fills

    def _fill(self, order: SimOrder, price: float, now: datetime) -> Fill:
        """Complete ``order`` at ``price`` (whole quantity) and take it off the working list."""
        order.status = "complete"
        order.updated_at = now
        order.filled_quantity = order.quantity
        order.average_price = price
        self._working[order.symbol].remove(order)
        return Fill(order, order.quantity, price)

    def fill_market_orders(self, now: datetime) -> tuple[list[SimOrder], list[Fill]]:
        """Fill every working MARKET order at its symbol's last price (end of data)."""
        changed: list[SimOrder] = []
        fills: list[Fill] = []
        for symbol, working in self._working.items():
            last = self.last_price.get(symbol)
            for order in [o for o in working if o.pricetype == "MARKET"]:
                if last is None:
                    continue
                changed.append(order)
                fills.append(self._fill(order, last, now))
        return changed, fills

    @staticmethod
    def _match(order: SimOrder, price: float) -> float | None:
        """The exchange model's fill price of ``order`` on a trade at ``price``, or None (may trigger it)."""
        kind = order.pricetype
        if kind == "MARKET":
            return price
        if order.status == "trigger pending":
            if not _triggered(order, price):
                return None
            if kind == "SL-M":
                return price
            order.status = "open"
        if not _limit_met(order, price):
            return None
        return order.price if order.resting else price

    @staticmethod
    def _match_sandbox(order: SimOrder, price: float) -> float | None:
        """The sandbox model's fill price of ``order`` on a trade at ``price``, or None (may trigger it)."""
        kind = order.pricetype
        if kind == "MARKET":
            return price
        if kind == "LIMIT":
            if not _limit_met(order, price):
                return None
            return order.price if order.resting else price
        if not _triggered(order, price):
            return None
        if kind == "SL-M":
            return price
        if not _limit_met(order, price):
            order.status = "open"  # triggered, its limit not met: rests open, checks both again on every tick
            return None
        return price


def _triggered(order: SimOrder, price: float) -> bool:
    """A trade at ``price`` reaches the stop's trigger (BUY at or above it, SELL at or below)."""
    return price >= order.trigger_price if order.action == "BUY" else price <= order.trigger_price


def _limit_met(order: SimOrder, price: float) -> bool:
    """A trade at ``price`` is within the limit (BUY at or below it, SELL at or above)."""
    return price <= order.price if order.action == "BUY" else price >= order.price
