"""A simulated broker with OpenAlgo's order semantics, for replay and tests."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from broker.base import (
    NotFound,
    OrderListener,
    OrderNotCancellable,
    OrderRejected,
    OrderRequest,
    OrderSnapshot,
    PositionRow,
)
from broker.matching import Fill, FillModel, MatchingEngine, SimOrder
from strategy.prices import EPS


@dataclass(slots=True)
class _Position:
    quantity: int = 0
    average_price: float = 0.0


class SimulatedBroker:
    """Implements :class:`broker.base.Broker` over a :class:`MatchingEngine`.

    Ticks come in through :meth:`on_tick`; every order state change is pushed
    to the listener (like OpenAlgo's order updates) after the lock is
    released, in placement order. Validation mirrors a real broker's RMS:
    quantity a multiple of the lot size, prices on the tick grid, a stop-limit's
    limit on the far side of its trigger, and a stop trigger that has not been
    crossed by the last trade (else :class:`OrderRejected`). With
    ``fill_model="openalgo-sandbox"`` orders fill as OpenAlgo's sandbox fills
    them (:mod:`broker.matching`), and, as there, the last two checks are not
    made: a stop whose trigger is already crossed fills at once.

    Orderids are ``YYMMDD`` + an 8-digit sequence, so a replay gives the same
    ids run after run.
    """

    def __init__(
        self,
        now: Callable[[], datetime],
        lot_size: int,
        tick_size: float = 0.05,
        symbols: set[str] | None = None,
        fill_model: FillModel = "exchange",
    ) -> None:
        self._now = now
        self.lot_size = lot_size
        self.tick_size = tick_size
        self.symbols = symbols
        self.engine = MatchingEngine(fill_model, tick_size)
        self._positions: dict[str, _Position] = {}
        self._lock = threading.RLock()
        self._seq = 0
        self._listener: OrderListener | None = None

    def set_listener(self, listener: OrderListener | None) -> None:
        """Receive an :class:`OrderSnapshot` on every order state change."""
        self._listener = listener

    # --- Broker interface ------------------------------------------------------
    def place_order(self, request: OrderRequest) -> str:
        with self._lock:
            self._validate(request)
            now = self._now()
            self._seq += 1
            orderid = f"{now:%y%m%d}{self._seq:08d}"
            order = SimOrder(
                orderid=orderid,
                symbol=request.symbol,
                action=request.action,
                quantity=request.quantity,
                pricetype=request.pricetype,
                price=request.price,
                trigger_price=request.trigger_price,
                status="open",
                placed_at=now,
                updated_at=now,
            )
            self.engine.add(order)
            snapshots = [order.snapshot()]
            fills = self.engine.fill_at_placement(order)
            self._book(fills)
            snapshots += [order.snapshot() for _ in fills]
        self._notify(snapshots)
        return orderid

    def modify_order(self, orderid: str, placed: OrderRequest, quantity: int, price: float, trigger_price: float) -> str:
        """Only quantity, price and trigger price change, as at OpenAlgo (``placed`` is not needed here:
        the order's other terms are the broker's own)."""
        with self._lock:
            order = self._get(orderid)
            if not order.working:
                raise OrderNotCancellable(f"order {orderid} is {order.status}", order.status)
            request = OrderRequest(
                symbol=order.symbol,
                action=order.action,
                quantity=quantity,
                pricetype=order.pricetype,
                price=price,
                trigger_price=trigger_price,
            )
            self._validate(request, triggered=order.status == "open" and order.pricetype == "SL")
            order.quantity = request.quantity
            order.price = request.price
            order.trigger_price = request.trigger_price
            # new terms meet the market afresh: a now-marketable limit fills at the next trade
            order.resting = False
            order.updated_at = self._now()
            snapshot = order.snapshot()
        self._notify([snapshot])
        return orderid

    def cancel_order(self, orderid: str) -> None:
        with self._lock:
            order = self._get(orderid)
            if not order.working:
                raise OrderNotCancellable(f"order {orderid} is already {order.status}", order.status)
            self.engine.cancel(order, self._now())
            snapshot = order.snapshot()
        self._notify([snapshot])

    def order_status(self, orderid: str) -> OrderSnapshot:
        with self._lock:
            return self._get(orderid).snapshot()

    def order_book(self) -> list[OrderSnapshot]:
        with self._lock:
            return [o.snapshot() for o in self.engine.orders.values()]

    def position_book(self) -> list[PositionRow]:
        with self._lock:
            return [
                PositionRow(symbol=s, quantity=p.quantity, average_price=round(p.average_price, 2))
                for s, p in self._positions.items()
            ]

    # --- market data -------------------------------------------------------------
    def on_tick(self, symbol: str, price: float, now: datetime) -> None:
        """Match one trade of ``symbol`` at ``price`` rupees."""
        with self._lock:
            changed, fills = self.engine.on_tick(symbol, price, now)
            self._book(fills)
            snapshots = [o.snapshot() for o in changed]
        self._notify(snapshots)

    def fill_market_orders(self) -> None:
        """At the end of the data: fill working MARKET orders at the last price."""
        with self._lock:
            changed, fills = self.engine.fill_market_orders(self._now())
            self._book(fills)
            snapshots = [o.snapshot() for o in changed]
        self._notify(snapshots)

    # --- internals ---------------------------------------------------------------
    def _get(self, orderid: str) -> SimOrder:
        order = self.engine.orders.get(orderid)
        if order is None:
            raise NotFound(f"order {orderid} not found")
        return order

    def _on_grid(self, price: float) -> bool:
        steps = price / self.tick_size
        return abs(steps - round(steps)) < 1e-6

    def _validate(self, r: OrderRequest, triggered: bool = False) -> None:
        if self.symbols is not None and r.symbol not in self.symbols:
            raise OrderRejected(f"symbol {r.symbol} not found")
        if r.quantity % self.lot_size:
            raise OrderRejected(f"quantity {r.quantity} is not a multiple of the lot size {self.lot_size}")
        for name, value in (("price", r.price), ("trigger_price", r.trigger_price)):
            if not self._on_grid(value):
                raise OrderRejected(f"{name} {value} is not a multiple of the tick size {self.tick_size}")
        sell = r.action == "SELL"
        if r.pricetype in ("LIMIT", "SL") and r.price <= 0:
            raise OrderRejected(f"{r.pricetype} order needs a price")
        if r.pricetype in ("SL", "SL-M"):
            if r.trigger_price <= 0:
                raise OrderRejected(f"{r.pricetype} order needs a trigger_price")
            if self.engine.fill_model == "openalgo-sandbox":
                return  # the sandbox checks neither the limit's side nor the trigger against the last price
            if r.pricetype == "SL" and (r.price > r.trigger_price + EPS if sell else r.price < r.trigger_price - EPS):
                side = "below" if sell else "above"
                raise OrderRejected(f"limit price must be at or {side} the trigger price for a {r.action} stop")
            last = self.engine.last_price.get(r.symbol)
            if not triggered and last is not None and (r.trigger_price >= last if sell else r.trigger_price <= last):
                side = "lower" if sell else "higher"
                raise OrderRejected(f"trigger price for a {r.action} stop must be {side} than the last price {last}")

    def _book(self, fills: list[Fill]) -> None:
        for fill in fills:
            pos = self._positions.setdefault(fill.order.symbol, _Position())
            signed = fill.quantity if fill.order.action == "BUY" else -fill.quantity
            new_qty = pos.quantity + signed
            if pos.quantity == 0 or (pos.quantity > 0) == (signed > 0):
                total = abs(pos.quantity) + fill.quantity
                pos.average_price = (pos.average_price * abs(pos.quantity) + fill.price * fill.quantity) / total
            elif new_qty != 0 and (new_qty > 0) != (pos.quantity > 0):
                pos.average_price = fill.price
            pos.quantity = new_qty
            if new_qty == 0:
                pos.average_price = 0.0

    def _notify(self, snapshots: list[OrderSnapshot]) -> None:
        listener = self._listener
        if listener is None:
            return
        for snapshot in snapshots:
            listener(snapshot)
