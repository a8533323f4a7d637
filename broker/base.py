"""The broker interface every mode uses, with its typed errors.

The OpenAlgo REST client and the simulated broker both implement
:class:`Broker`; :class:`broker.gateway.BrokerGateway` adds retries and
idempotent placement on top of either.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Protocol

from pydantic import BaseModel, ConfigDict, Field

from messages.base import Action, PriceType
from messages.orders import OrderUpdate


class BrokerError(Exception):
    """A broker call failed. ``retryable`` says whether repeating it is safe."""

    retryable = False


class OrderRejected(BrokerError):
    """The broker refused the request (HTTP 400: validation or business rule). Never retried."""


class OrderNotCancellable(OrderRejected):
    """Cancel or modify of an order that is already final; ``status`` is its status word."""

    def __init__(self, message: str, status: str) -> None:
        super().__init__(message)
        self.status = status


class AuthError(BrokerError):
    """Bad API key or broker session not logged in (HTTP 403)."""


class NotFound(BrokerError):
    """Order or symbol unknown to the broker (HTTP 404)."""


class RateLimited(BrokerError):
    """Too many requests (HTTP 429). Retried after the retry delay."""

    retryable = True


class ServerError(BrokerError):
    """Broker or server failure (HTTP 5xx). Retried."""

    retryable = True


class TransportError(BrokerError):
    """No usable answer: connection refused or dropped, time-out. Retried, but a
    placement whose outcome is unknown is first looked up in the order book."""

    retryable = True


class OrderRequest(BaseModel):
    """An order to place (OpenAlgo ``placeorder``), or the terms an order has after a modify.

    ``quantity`` contracts; ``price`` (limit) and ``trigger_price`` rupees, 0
    where the price type does not use them.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    symbol: str
    action: Action
    quantity: int = Field(gt=0)
    pricetype: PriceType
    price: float = Field(default=0.0, ge=0)
    trigger_price: float = Field(default=0.0, ge=0)
    exchange: str = "NFO"
    product: str = "MIS"

    def modified(self, quantity: int, price: float, trigger_price: float) -> OrderRequest:
        """These terms after a modify: new ``quantity`` (contracts), ``price`` and ``trigger_price``
        (rupees), everything else the same. Raises pydantic's ValidationError for a bad value."""
        return OrderRequest.model_validate(
            self.model_dump() | {"quantity": quantity, "price": price, "trigger_price": trigger_price}
        )


class OrderSnapshot(BaseModel):
    """One order as the broker reports it (order book row, orderstatus, order update).

    ``status`` is an OpenAlgo ``order_status`` word; ``filled_quantity``
    contracts and ``average_price`` rupees are cumulative. ``timestamp`` is the
    order's time as the broker reports it (aware IST; None if absent or
    unreadable); ``strategy`` the strategy tag where the row carries one
    (OpenAlgo's analyzer-mode rows do), else None.
    """

    model_config = ConfigDict(frozen=True)

    orderid: str
    symbol: str
    action: Action
    quantity: int
    pricetype: PriceType | str
    price: float = 0.0
    trigger_price: float = 0.0
    status: str
    filled_quantity: int = 0
    average_price: float = 0.0
    exchange: str = "NFO"
    product: str = "MIS"
    timestamp: datetime | None = None
    strategy: str | None = None

    def as_update(self, now: datetime) -> OrderUpdate:
        """This order's state as the :class:`OrderUpdate` message an OrderActor handles."""
        return OrderUpdate(
            orderid=self.orderid,
            status=self.status,
            filled_quantity=self.filled_quantity,
            average_price=self.average_price,
            symbol=self.symbol,
            quantity=self.quantity,
            time=now,
        )


class PositionRow(BaseModel):
    """One position book row: ``quantity`` signed contracts (short < 0), ``average_price`` rupees."""

    model_config = ConfigDict(frozen=True)

    symbol: str
    exchange: str = "NFO"
    product: str = "MIS"
    quantity: int
    average_price: float = 0.0


OrderListener = Callable[[OrderSnapshot], None]


class Broker(Protocol):
    """The calls the actors make. Implementations are thread-safe.

    Every method raises a :class:`BrokerError` subclass on failure.
    """

    def place_order(self, request: OrderRequest) -> str:
        """Place an order; returns the broker's orderid (string)."""
        ...

    def modify_order(self, orderid: str, placed: OrderRequest, quantity: int, price: float, trigger_price: float) -> str:
        """Change the quantity, price and trigger price of the working order ``orderid``, placed as
        ``placed`` (or last modified to it); returns the orderid.

        Nothing else can change: OpenAlgo's ``modifyorder`` ignores a changed
        price type, action or product and still answers 200 (openalgo.md, what
        the real server does). To change those, cancel and place.
        """
        ...

    def cancel_order(self, orderid: str) -> None:
        """Cancel a working order. :class:`OrderNotCancellable` if it is already final."""
        ...

    def order_status(self, orderid: str) -> OrderSnapshot:
        """The current state of one order. :class:`NotFound` if unknown."""
        ...

    def order_book(self) -> list[OrderSnapshot]:
        """Every order of the day."""
        ...

    def position_book(self) -> list[PositionRow]:
        """Every position of the day, closed ones possibly with quantity 0."""
        ...
