"""Retries, throttling and idempotent placement on top of any :class:`Broker` (strategy.md §5)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
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
from broker.feed_parse import to_ist_aware

T = TypeVar("T")

#: How much earlier than the moment a placement was sent an order-book row's time may be
#: and still count as that placement: order-book times are whole seconds (truncated), and
#: the broker's clock is not ours.
CLOCK_SKEW = timedelta(seconds=5)

#: Price types whose ``price`` is a limit the order was placed with (compared in the look-up).
#: A MARKET order has none, and the real server stores it with ``price`` = the last price at
#: placement (openalgo.md); an SL-M order has none either.
_LIMIT_PRICED = frozenset({"LIMIT", "SL"})

#: prices closer than this (rupees) are the same price
_PRICE_EPS = 1e-6

#: How long (on the gateway's clock) a placement attempt with an unknown outcome is watched
#: for in the order book (:meth:`BrokerGateway.late_placements`) before it counts as never placed.
UNSETTLED_HORIZON = timedelta(minutes=30)


@dataclass(frozen=True, slots=True)
class Unsettled:
    """One placement attempt whose outcome is unknown (time-out, 5xx): ``sent_at`` on the gateway's clock."""

    request: OrderRequest
    sent_at: datetime


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
      in the order book before any retry, so a retry never creates a second
      order; and once more after the last attempt fails, so an order placed
      by that attempt is still returned. What the look-up matches, and why,
      is in :meth:`_find_placed`.
    * A lost attempt stays watched for: if it reaches the order book after
      all (even after a retry placed the order again), :meth:`late_placements`
      hands it to the caller's next order-book poll, so no order of ours is
      ever left untracked.
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
        strategy: str | None = None,
        clock_skew: timedelta = CLOCK_SKEW,
    ) -> None:
        """``now`` is the clock order-book times are compared with (the broker's time base: wall
        clock live, the data's time in replay). ``strategy`` is the tag our orders carry (default:
        the broker's ``strategy`` attribute, as :class:`~broker.openalgo_rest.OpenAlgoClient` has;
        None: not compared). ``clock_skew``: see :data:`CLOCK_SKEW`."""
        self.broker = broker
        self._now = now
        self._strategy = strategy if strategy is not None else _strategy_of(broker)
        self._clock_skew = clock_skew
        self._attempts = attempts
        self._delay = delay
        self._sleep = sleep
        self._throttle = Throttle(orders_per_second, sleep, monotonic)
        self._read_throttle = Throttle(reads_per_second, sleep, monotonic)
        #: every orderid this gateway returned for a placement (placed or found by a look-up)
        self._known: set[str] = set()
        #: lost placement attempts not yet found in the order book (see :meth:`late_placements`)
        self._unsettled: list[Unsettled] = []
        self._known_lock = threading.Lock()

    # --- orders ----------------------------------------------------------------------
    def place_order(self, request: OrderRequest, on_lost: Callable[[datetime], None] | None = None) -> str:
        """Place once, whatever the retries. Raises the last :class:`BrokerError`.

        ``on_lost(sent_at)`` is called for each attempt whose answer is lost
        (time-out, 5xx), so the caller can journal it: such an attempt may
        still reach the broker, later (see :meth:`late_placements`).
        """
        #: when the first attempt was sent: no order the look-up takes can be older
        sent_at: datetime | None = None
        #: this placement's attempts whose outcome is unknown (then look before sending again),
        #: also in ``self._unsettled``
        lost: list[Unsettled] = []

        def attempt() -> str:
            nonlocal sent_at
            if lost and sent_at is not None:
                found = self._find_placed(request, sent_at)
                if found is not None:
                    self._settled(lost)
                    logger.warning("placement of {} {} found in the order book as {}", request.action, request.symbol, found)
                    return found
            self._throttle.wait()
            now = self._now()
            if sent_at is None:
                sent_at = now
            try:
                orderid = self.broker.place_order(request)
            except BrokerError as exc:
                if exc.retryable:
                    lost.append(Unsettled(request, now))
                    with self._known_lock:
                        self._unsettled.append(lost[-1])
                    if on_lost is not None:
                        on_lost(now)
                raise
            self._remember(orderid)
            return orderid

        try:
            return self._retry(attempt, f"place {request.action} {request.symbol}")
        except BrokerError:
            # The last attempt may itself have placed the order: look once more.
            found = self._find_placed_quietly(request, sent_at) if lost and sent_at is not None else None
            if found is None:
                raise
            self._settled(lost)
            logger.warning("placement of {} {} found in the order book as {}", request.action, request.symbol, found)
            return found

    def late_placements(
        self, book: list[OrderSnapshot], mine: Callable[[str], bool]
    ) -> list[tuple[OrderSnapshot, OrderRequest]]:
        """Orders of ``book`` that are attempts this gateway lost (time-out, 5xx) and found nowhere since.

        A lost attempt can reach the broker's books after every look-up of
        its placement, even after a retry placed it again: then the account
        holds an order nobody tracks. Each attempt on a symbol for which
        ``mine(symbol)`` holds is matched as in :meth:`_find_placed`; a match
        is returned once, with the request, and becomes known. Attempts older
        than :data:`UNSETTLED_HORIZON` are dropped (logged): never placed.
        """
        now = self._now()
        found: list[tuple[OrderSnapshot, OrderRequest]] = []
        with self._known_lock:
            for lost in [u for u in self._unsettled if mine(u.request.symbol)]:
                rows = placements(book, lost.request, lost.sent_at, self._clock_skew, self._strategy, self._known)
                if rows:
                    self._known.add(rows[0].orderid)
                    self._unsettled.remove(lost)
                    found.append((rows[0], lost.request))
                elif now - lost.sent_at > UNSETTLED_HORIZON:
                    self._unsettled.remove(lost)
                    logger.info("the lost placement of {} {} sent at {} never reached the order book",
                                lost.request.action, lost.request.symbol, lost.sent_at)
        return found

    def has_unsettled(self, mine: Callable[[str], bool]) -> bool:
        """Whether a lost attempt on a symbol for which ``mine(symbol)`` holds is still watched for."""
        with self._known_lock:
            return any(mine(u.request.symbol) for u in self._unsettled)

    def _settled(self, lost: list[Unsettled]) -> None:
        """A look-up found the order of one of these lost attempts: that one is settled."""
        with self._known_lock:
            if lost and lost[0] in self._unsettled:
                self._unsettled.remove(lost.pop(0))

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

    def _find_placed_quietly(self, request: OrderRequest, sent_at: datetime) -> str | None:
        try:
            return self._find_placed(request, sent_at)
        except BrokerError as exc:
            logger.error("order book unavailable to confirm {} {}: {}", request.action, request.symbol, exc)
            return None

    def _find_placed(self, request: OrderRequest, sent_at: datetime) -> str | None:
        """The orderid of the order-book row that is ``request``'s placement, or None.

        ``sent_at`` is this gateway's clock (``now``) just before the first attempt went out.

        The book lists every order of the account (every strategy's, earlier runs'), so a row
        counts only if all of these hold:

        * the same symbol, exchange, product, action, quantity and price type;
        * the same limit ``price`` for LIMIT and SL orders, and the same ``trigger_price`` for
          every type but MARKET. Never the price of a MARKET order (nor of an SL-M one): it has
          none, and the real server stores MARKET orders with ``price`` = the last price at
          placement (openalgo.md), so matching it would miss our order and the retry would place
          it twice (a doubled exit);
        * the same strategy tag, when both the row and this gateway have one;
        * its time is no earlier than ``sent_at`` less the clock skew allowance: an identical
          order placed before our request is not ours. A row without a time cannot be told from
          such an older order, so it is not taken (logged);
        * its orderid is not one this gateway already returned (placed, or found by an earlier
          look-up): two identical placements in a row never get the same order.

        If several rows qualify, the one nearest in time to ``sent_at`` is taken (the first listed
        on a tie) and the others are logged. The orderid taken is remembered at once, under the
        lock, so no later look-up can take it again.
        """
        book = self.broker.order_book()
        with self._known_lock:
            fresh = placements(book, request, sent_at, self._clock_skew, self._strategy, self._known)
            if not fresh:
                return None
            chosen = fresh[0]
            self._known.add(chosen.orderid)
        if len(fresh) > 1:
            logger.warning(
                "{} orders match the lost placement of {} {} sent at {}: took {} ({}), not {}",
                len(fresh),
                request.action,
                request.symbol,
                sent_at,
                chosen.orderid,
                chosen.timestamp,
                ", ".join(f"{row.orderid} ({row.timestamp})" for row in fresh[1:]),
            )
        return chosen.orderid

def same_terms(row: OrderSnapshot, request: OrderRequest, strategy: str | None) -> bool:
    """Whether the order-book ``row`` has ``request``'s terms (see :meth:`BrokerGateway._find_placed`):
    symbol, exchange, product, action, quantity, price type; the limit price of LIMIT and SL orders,
    the trigger of all but MARKET, never a MARKET order's price; the strategy tag where both have one."""
    pricetype = str(row.pricetype).upper()
    if not (
        row.symbol == request.symbol
        and row.exchange == request.exchange
        and row.product == request.product
        and row.action == request.action
        and row.quantity == request.quantity
        and pricetype == request.pricetype
    ):
        return False
    if pricetype in _LIMIT_PRICED and abs(row.price - request.price) > _PRICE_EPS:
        return False
    if pricetype != "MARKET" and abs(row.trigger_price - request.trigger_price) > _PRICE_EPS:
        return False
    return not (row.strategy and strategy and row.strategy != strategy)


def placements(
    book: list[OrderSnapshot],
    request: OrderRequest,
    sent_at: datetime,
    clock_skew: timedelta,
    strategy: str | None,
    exclude: set[str] | frozenset[str],
) -> list[OrderSnapshot]:
    """The rows of ``book`` that can be ``request``'s placement sent at ``sent_at``, nearest in time first.

    A row qualifies with :func:`same_terms`, a time no earlier than
    ``sent_at`` less ``clock_skew`` (a row without a time cannot be told from
    an older identical order: not taken, logged), and an orderid not in
    ``exclude`` (orders already known to be others). Ties keep book order.
    Used by the gateway's look-up and by the settling of intents at a restart.
    """
    sent = to_ist_aware(sent_at)
    earliest = sent - clock_skew
    found: list[tuple[OrderSnapshot, datetime]] = []
    for row in book:
        if row.orderid in exclude or not same_terms(row, request, strategy):
            continue
        if row.timestamp is None:
            logger.warning(
                "order {} matches the lost placement of {} {} but has no time: not taken (it may be older)",
                row.orderid,
                request.action,
                request.symbol,
            )
            continue
        when = to_ist_aware(row.timestamp)
        if when >= earliest:
            found.append((row, when))
    found.sort(key=lambda pair: abs(pair[1] - sent))  # stable: the first listed on a tie
    return [row for row, _ in found]


def _strategy_of(broker: Broker) -> str | None:
    """The broker's ``strategy`` tag if it has one (the OpenAlgo client), else None."""
    tag = getattr(broker, "strategy", None)
    return tag if isinstance(tag, str) and tag else None
