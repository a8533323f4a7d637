"""What the simulator records about orders beyond the matching broker's snapshots.

The :class:`~broker.simulated.SimulatedBroker` knows an order's symbol,
action, quantity, prices and status; an OpenAlgo server also reports the
order's exchange, product and strategy, the time it was placed, a trade book
and per-symbol P&L. :class:`OrderLedger` is the one owner of that extra
state: the :class:`OrderMeta` of every order placed through REST, the trade
rows of completed fills and per-symbol :class:`FillTotals`. It is written on
the server's thread and may be read from any thread (its lock guards it).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from broker.base import OrderSnapshot


@dataclass
class OrderMeta:
    """What the simulator keeps about an order beyond the broker's snapshot."""

    exchange: str = "NFO"
    product: str = "MIS"
    strategy: str = ""
    placed_at: datetime | None = None


@dataclass
class FillTotals:
    """Per-symbol trade aggregates (contracts, rupees) for P&L."""

    buy_qty: int = 0
    buy_value: float = 0.0
    sell_qty: int = 0
    sell_value: float = 0.0


class OrderLedger:
    """Order metadata, trade rows and per-symbol fill totals; ``now`` stamps fills that carry no time."""

    def __init__(self, now: Callable[[], datetime]) -> None:
        self._now = now
        self._lock = threading.RLock()
        self._meta: dict[str, OrderMeta] = {}
        self._trades: list[dict[str, Any]] = []
        self._totals: dict[str, FillTotals] = {}

    def remember(self, orderid: str, meta: OrderMeta) -> None:
        """Record the metadata of an order the broker accepted."""
        with self._lock:
            self._meta[orderid] = meta

    def meta(self, orderid: str) -> OrderMeta:
        """The order's metadata (defaults for an order not placed through REST)."""
        with self._lock:
            return self._meta.get(orderid) or OrderMeta()

    def symbol_meta(self, symbol: str, orders: Iterable[OrderSnapshot], default_exchange: str) -> OrderMeta:
        """Exchange and product of a symbol's position: those of its first order in ``orders``."""
        with self._lock:
            for snap in orders:
                if snap.symbol == symbol and snap.orderid in self._meta:
                    return self._meta[snap.orderid]
        return OrderMeta(exchange=default_exchange)

    def book_fill(self, s: OrderSnapshot) -> None:
        """Add a completed order's fill to the trade rows and its symbol's totals."""
        with self._lock:
            meta = self._meta.get(s.orderid) or OrderMeta()
            totals = self._totals.setdefault(s.symbol, FillTotals())
            value = s.filled_quantity * s.average_price
            if s.action == "BUY":
                totals.buy_qty += s.filled_quantity
                totals.buy_value += value
            else:
                totals.sell_qty += s.filled_quantity
                totals.sell_value += value
            self._trades.append(
                {
                    "action": s.action,
                    "average_price": s.average_price,
                    "exchange": meta.exchange,
                    "orderid": s.orderid,
                    "product": meta.product,
                    "quantity": s.filled_quantity,
                    "symbol": s.symbol,
                    "time": s.timestamp or self._now(),
                    "trade_value": round(value, 2),
                }
            )

    def trades(self) -> list[dict[str, Any]]:
        """Trade rows in fill order (``time`` a datetime)."""
        with self._lock:
            return list(self._trades)

    def totals(self) -> dict[str, FillTotals]:
        """Fill totals by symbol (a copy of the mapping; the totals themselves are live)."""
        with self._lock:
            return dict(self._totals)
