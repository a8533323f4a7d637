"""Retries, throttling and idempotent placement on top of any :class:`Broker` (strategy.md §5)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TypeVar

from loguru import logger
from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_fixed

from broker.base import (
    Broker,
    BrokerError,
    OrderNotCancellable,
    OrderRequest,
    OrderSnapshot,
    PositionRow,
)

T = TypeVar("T")

#: How far back an order-book row may be to count as "our" unknown placement.
LOOKUP_WINDOW = timedelta(seconds=120)


def _retryable(exc: BaseException) -> bool:
    return isinstance(exc, BrokerError) and exc.retryable


class Throttle:
    """Spaces calls at least ``1 / per_second`` seconds apart (shared by all threads)."""

    def __init__(self, per_second: float | None, sleep: Callable[[float], None], monotonic: Callable[[], float]):
        self._gap = 1.0 / per_second if per_second else 0.0
        self._sleep = sleep
        self._monotonic = monotonic
        self._next = 0.0
        self._lock = threading.Lock()

    def wait(self) -> None:
        if not self._gap:
            return
        with self._lock:
            now = self._monotonic()
            delay = self._next - now
            self._next = max(now, self._next) + self._gap
        if delay > 0:
            self._sleep(delay)


class BrokerGateway:
    """The only way actors reach a broker.

    * Transport errors, 5xx and 429 are retried ``attempts`` times,
      ``delay`` seconds apart; rejects (400), 403 and 404 never are.
    * A placement whose outcome is unknown (any retryable error) is looked up
      in the order book — same symbol, action, price type, trigger, price and
      quantity, not an order this gateway already knows, placed within
      :data:`LOOKUP_WINDOW` — before any retry, so a retry never creates a
      second order; and once more after the last attempt fails, so an order
      placed by that attempt is still returned.
    * A cancel retried after an unknown outcome that finds the order already
      cancelled counts as done.
    * Order calls are throttled to ``orders_per_second`` (below the server's
      10/s limit), reads to ``reads_per_second``; ``None`` disables a throttle
      (replay).
    """

    def __init__(
        self,
        broker: Broker,
        now: Callable[[], datetime],
        attempts: int = 3,
        delay: float = 2.0,
        orders_per_second: float | None = 8.0,
        reads_per_second: float | None = None,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.broker = broker
        self._now = now
        self._attempts = attempts
        self._delay = delay
        self._sleep = sleep
        self._throttle = Throttle(orders_per_second, sleep, monotonic)
        self._read_throttle = Throttle(reads_per_second, sleep, monotonic)
        self._known: set[str] = set()
        self._known_lock = threading.Lock()

    # --- orders ----------------------------------------------------------------------
    def place_order(self, request: OrderRequest) -> str:
        """Place once, whatever the retries. Raises the last :class:`BrokerError`."""
        unknown = False

        def attempt() -> str:
            nonlocal unknown
            if unknown:
                found = self._find_placed(request)
                if found is not None:
                    logger.warning("placement of {} {} found in the order book as {}", request.action, request.symbol, found)
                    return found
            self._throttle.wait()
            try:
                orderid = self.broker.place_order(request)
            except BrokerError as exc:
                unknown = unknown or exc.retryable
                raise
            return orderid

        try:
            orderid = self._retry(attempt, f"place {request.action} {request.symbol}")
        except BrokerError:
            # The last attempt may itself have placed the order: look once more.
            found = self._find_placed_quietly(request) if unknown else None
            if found is None:
                raise
            logger.warning("placement of {} {} found in the order book as {}", request.action, request.symbol, found)
            orderid = found
        self._remember(orderid)
        return orderid

    def modify_order(self, orderid: str, placed: OrderRequest, quantity: int, price: float, trigger_price: float) -> str:
        """New quantity, price and trigger price for the order placed as ``placed`` (nothing else can
        change: see :meth:`Broker.modify_order`). Safe to repeat: the same terms twice are the same order."""

        def attempt() -> str:
            self._throttle.wait()
            return self.broker.modify_order(orderid, placed, quantity, price, trigger_price)

        return self._retry(attempt, f"modify {orderid}")

    def cancel_order(self, orderid: str) -> None:
        """Cancel; :class:`OrderNotCancellable` if the order was already final before we asked."""
        tried = False

        def attempt() -> None:
            nonlocal tried
            self._throttle.wait()
            try:
                self.broker.cancel_order(orderid)
            except OrderNotCancellable as exc:
                if tried and exc.status == "cancelled":
                    return
                raise
            except BrokerError as exc:
                tried = tried or exc.retryable
                raise

        self._retry(attempt, f"cancel {orderid}")

    # --- reads -------------------------------------------------------------------------
    def order_status(self, orderid: str) -> OrderSnapshot:
        return self.read(lambda: self.broker.order_status(orderid), f"orderstatus {orderid}")

    def order_book(self) -> list[OrderSnapshot]:
        return self.read(self.broker.order_book, "orderbook")

    def position_book(self) -> list[PositionRow]:
        return self.read(self.broker.position_book, "positionbook")

    def read(self, fn: Callable[[], T], what: str) -> T:
        """Any call that changes nothing at the broker (e.g. history): throttled, retried like the others."""

        def attempt() -> T:
            self._read_throttle.wait()
            return fn()

        return self._retry(attempt, what)

    # --- internals -------------------------------------------------------------------
    def _retry(self, fn: Callable[[], T], what: str) -> T:
        def log_retry(state) -> None:  # noqa: ANN001 - tenacity's RetryCallState
            logger.warning("{} failed ({}); attempt {} of {}", what, state.outcome.exception(), state.attempt_number, self._attempts)

        retrying = Retrying(
            stop=stop_after_attempt(self._attempts),
            wait=wait_fixed(self._delay),
            retry=retry_if_exception(_retryable),
            sleep=self._sleep,
            before_sleep=log_retry,
            reraise=True,
        )
        return retrying(fn)

    def _remember(self, orderid: str) -> None:
        with self._known_lock:
            self._known.add(orderid)

    def _find_placed_quietly(self, request: OrderRequest) -> str | None:
        try:
            return self._find_placed(request)
        except BrokerError as exc:
            logger.error("order book unavailable to confirm {} {}: {}", request.action, request.symbol, exc)
            return None

    def _find_placed(self, request: OrderRequest) -> str | None:
        """The orderid of an order matching ``request`` that we did not know of, or None."""
        book = self.broker.order_book()
        cutoff = self._now() - LOOKUP_WINDOW
        with self._known_lock:
            known = set(self._known)
        for row in book:
            if row.orderid in known:
                continue
            if row.timestamp is not None and row.timestamp.tzinfo is not None and row.timestamp < cutoff:
                continue
            if (
                row.symbol == request.symbol
                and row.action == request.action
                and row.quantity == request.quantity
                and str(row.pricetype) == request.pricetype
                and abs(row.trigger_price - request.trigger_price) < 1e-6
                and abs(row.price - request.price) < 1e-6
            ):
                return row.orderid
        return None
