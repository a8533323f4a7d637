"""BrokerGateway: retries, idempotent placement, cancel after a lost answer, throttling.

The broker is a small scripted fake: each call pops the next step of its
method's script (default: behave normally). Time is fake throughout: the
sleeps are recorded, never slept.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import pytest
from loguru import logger

from broker.base import (
    AuthError,
    BrokerError,
    NotFound,
    OrderNotCancellable,
    OrderRejected,
    OrderRequest,
    OrderSnapshot,
    PositionRow,
    RateLimited,
    ServerError,
    TransportError,
)
from broker.gateway import CLOCK_SKEW, UNSETTLED_HORIZON, BrokerGateway
from messages.base import IST

NOW = datetime(2021, 6, 11, 10, 0, tzinfo=IST)
CE = "NIFTY17JUN2115700CE"
PE = "NIFTY17JUN2115700PE"

ENTRY = OrderRequest(symbol=CE, action="SELL", quantity=75, pricetype="SL", price=96.95, trigger_price=99.95)
#: closing the short: a MARKET BUY, sent with price 0
EXIT = OrderRequest(symbol=CE, action="BUY", quantity=75, pricetype="MARKET")
#: the last price the real server stores a MARKET order with (openalgo.md)
LTP = 101.35

#: script step: the broker records the order, then the answer is lost
LOST_REPLY = "lost reply"


class FakeBroker:
    """Implements the Broker calls over a list of orders, with scripted failures.

    ``scripts[method]`` is a list of steps, one per call: a :class:`BrokerError`
    instance is raised before anything happens; :data:`LOST_REPLY` (place and
    cancel only) does the work and then raises :class:`TransportError`; ``None``
    behaves normally. An empty script behaves normally.

    A placement is stamped ``place_time``. With ``ltp`` set, a MARKET order is
    stored with ``price`` = ``ltp``, as the real OpenAlgo server stores it.
    """

    def __init__(self, monotonic: Callable[[], float] = lambda: 0.0) -> None:
        self.monotonic = monotonic
        self.orders: list[OrderSnapshot] = []
        self.calls: list[str] = []
        #: the fake monotonic time of every call, in call order
        self.call_times: list[float] = []
        self.scripts: dict[str, list[object]] = {}
        self.positions = [PositionRow(symbol=CE, quantity=-75, average_price=99.95)]
        self.place_time = NOW
        self.ltp: float | None = None
        self._seq = 0

    def _step(self, method: str) -> object:
        self.calls.append(method)
        self.call_times.append(self.monotonic())
        script = self.scripts.get(method)
        step = script.pop(0) if script else None
        if isinstance(step, BrokerError):
            raise step
        return step

    def add_row(
        self,
        request: OrderRequest,
        timestamp: datetime | None,
        status: str = "trigger pending",
        price: float | None = None,
        strategy: str | None = None,
    ) -> str:
        """A row for ``request`` (stored with ``price`` if given); its orderid."""
        self._seq += 1
        orderid = f"B{self._seq}"
        self.orders.append(
            OrderSnapshot(
                orderid=orderid,
                symbol=request.symbol,
                action=request.action,
                quantity=request.quantity,
                pricetype=request.pricetype,
                price=request.price if price is None else price,
                trigger_price=request.trigger_price,
                status=status,
                exchange=request.exchange,
                product=request.product,
                timestamp=timestamp,
                strategy=strategy,
            )
        )
        return orderid

    def set_status(self, orderid: str, status: str) -> None:
        for i, row in enumerate(self.orders):
            if row.orderid == orderid:
                self.orders[i] = row.model_copy(update={"status": status})
                return
        raise NotFound(orderid)

    def _row(self, orderid: str) -> OrderSnapshot:
        for row in self.orders:
            if row.orderid == orderid:
                return row
        raise NotFound(orderid)

    # --- Broker -------------------------------------------------------------------
    def place_order(self, request: OrderRequest) -> str:
        step = self._step("place")
        stored = self.ltp if request.pricetype == "MARKET" and self.ltp is not None else None
        orderid = self.add_row(request, self.place_time, price=stored)
        if step == LOST_REPLY:
            raise TransportError("read timed out")
        return orderid

    def modify_order(self, orderid: str, placed: OrderRequest, quantity: int, price: float, trigger_price: float) -> str:
        self._step("modify")
        self._row(orderid)
        return orderid

    def cancel_order(self, orderid: str) -> None:
        step = self._step("cancel")
        row = self._row(orderid)
        if row.status not in ("open", "trigger pending"):
            raise OrderNotCancellable(f"order {orderid} is already {row.status}", row.status)
        self.set_status(orderid, "cancelled")
        if step == LOST_REPLY:
            raise TransportError("read timed out")

    def order_status(self, orderid: str) -> OrderSnapshot:
        self._step("status")
        return self._row(orderid)

    def order_book(self) -> list[OrderSnapshot]:
        self._step("book")
        return list(self.orders)

    def position_book(self) -> list[PositionRow]:
        self._step("positions")
        return list(self.positions)


class FakeTime:
    """A monotonic clock and a sleep that records the delay and moves the clock."""

    def __init__(self, start: float = 1000.0) -> None:
        self.clock = start
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.clock

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.clock += seconds


def make(per_second: float | None = None, strategy: str | None = None) -> tuple[BrokerGateway, FakeBroker, FakeTime]:
    """A gateway whose clock says :data:`NOW`, over a fresh :class:`FakeBroker`."""
    fake_time = FakeTime()
    broker = FakeBroker(fake_time.monotonic)
    gateway = BrokerGateway(
        broker,
        lambda: NOW,
        attempts=3,
        delay=2.0,
        orders_per_second=per_second,
        sleep=fake_time.sleep,
        monotonic=fake_time.monotonic,
        strategy=strategy,
    )
    return gateway, broker, fake_time


RETRYABLE = [
    pytest.param(lambda: TransportError("connection reset"), id="transport"),
    pytest.param(lambda: ServerError("502 bad gateway"), id="5xx"),
    pytest.param(lambda: RateLimited("10 per 1 second"), id="429"),
]
NEVER_RETRIED = [
    pytest.param(lambda: OrderRejected("quantity not a multiple of lot size"), id="reject"),
    pytest.param(lambda: OrderNotCancellable("order is complete", "complete"), id="not-cancellable"),
    pytest.param(lambda: AuthError("invalid api key"), id="auth"),
    pytest.param(lambda: NotFound("order not found"), id="not-found"),
]


# --- plain calls ---------------------------------------------------------------------


def test_a_clean_placement_is_one_call_and_no_sleep() -> None:
    gateway, broker, fake_time = make()
    assert gateway.place_order(ENTRY) == "B1"
    assert broker.calls == ["place"]
    assert fake_time.sleeps == []


def test_reads_pass_through() -> None:
    gateway, broker, _ = make()
    orderid = gateway.place_order(ENTRY)
    assert gateway.order_status(orderid).status == "trigger pending"
    assert [r.orderid for r in gateway.order_book()] == ["B1"]
    assert gateway.position_book() == [PositionRow(symbol=CE, quantity=-75, average_price=99.95)]
    assert broker.calls == ["place", "status", "book", "positions"]


# --- retries -------------------------------------------------------------------------


@pytest.mark.parametrize("error", RETRYABLE)
def test_retryable_errors_are_retried_three_times_two_seconds_apart(error: Callable[[], BrokerError]) -> None:
    gateway, broker, fake_time = make()
    errors = [error(), error(), error()]
    broker.scripts["modify"] = list(errors)
    with pytest.raises(type(errors[0])) as info:
        gateway.modify_order("B9", ENTRY, ENTRY.quantity, ENTRY.price, ENTRY.trigger_price)
    assert info.value is errors[2]  # the last error is the one raised
    assert broker.calls == ["modify"] * 3
    assert fake_time.sleeps == [2.0, 2.0]


def test_the_defaults_are_three_attempts_two_seconds_apart() -> None:
    # strategy.md section 5: 3 attempts ("cannot be placed after 3 attempts"), 2 s apart
    broker = FakeBroker()
    sleeps: list[float] = []
    gateway = BrokerGateway(broker, lambda: NOW, orders_per_second=None, sleep=sleeps.append, monotonic=lambda: 0.0)
    broker.scripts["positions"] = [ServerError("500"), ServerError("500"), ServerError("500"), None]
    with pytest.raises(ServerError):
        gateway.position_book()
    assert broker.calls == ["positions"] * 3
    assert sleeps == [2.0, 2.0]


@pytest.mark.parametrize("error", RETRYABLE)
def test_a_retryable_error_then_success_returns_the_result(error: Callable[[], BrokerError]) -> None:
    gateway, broker, fake_time = make()
    broker.add_row(ENTRY, NOW)
    broker.scripts["modify"] = [error(), error()]
    assert gateway.modify_order("B1", ENTRY, ENTRY.quantity, ENTRY.price, ENTRY.trigger_price) == "B1"
    assert broker.calls == ["modify"] * 3
    assert fake_time.sleeps == [2.0, 2.0]


@pytest.mark.parametrize("error", NEVER_RETRIED)
@pytest.mark.parametrize("method", ["place", "modify", "cancel", "status"])
def test_rejects_auth_and_not_found_are_never_retried(error: Callable[[], BrokerError], method: str) -> None:
    gateway, broker, fake_time = make()
    broker.add_row(ENTRY, NOW)
    raised = error()
    broker.scripts[method] = [raised]
    call = {
        "place": lambda: gateway.place_order(ENTRY),
        "modify": lambda: gateway.modify_order("B1", ENTRY, ENTRY.quantity, ENTRY.price, ENTRY.trigger_price),
        "cancel": lambda: gateway.cancel_order("B1"),
        "status": lambda: gateway.order_status("B1"),
    }[method]
    with pytest.raises(BrokerError) as info:
        call()
    assert info.value is raised
    assert broker.calls == [method]
    assert fake_time.sleeps == []
    assert len(broker.orders) == 1  # nothing placed


@pytest.mark.parametrize("method", ["book", "positions", "status"])
def test_reads_are_retried(method: str) -> None:
    gateway, broker, fake_time = make()
    broker.add_row(ENTRY, NOW)
    broker.scripts[method] = [RateLimited("10 per 1 second"), ServerError("500")]
    call = {"book": gateway.order_book, "positions": gateway.position_book, "status": lambda: gateway.order_status("B1")}[method]
    assert call()  # a non-empty answer
    assert broker.calls == [method] * 3
    assert fake_time.sleeps == [2.0, 2.0]


def test_a_reject_after_a_retry_stops_the_retries() -> None:
    gateway, broker, fake_time = make()
    broker.add_row(ENTRY, NOW)
    reject = OrderRejected("price out of band")
    broker.scripts["modify"] = [ServerError("500"), reject]
    with pytest.raises(OrderRejected) as info:
        gateway.modify_order("B1", ENTRY, ENTRY.quantity, ENTRY.price, ENTRY.trigger_price)
    assert info.value is reject
    assert broker.calls == ["modify", "modify"]
    assert fake_time.sleeps == [2.0]


# --- idempotent placement ------------------------------------------------------------


@pytest.mark.parametrize("error", RETRYABLE)
def test_a_placement_that_fails_without_placing_is_retried_and_placed_once(error: Callable[[], BrokerError]) -> None:
    gateway, broker, fake_time = make()
    broker.scripts["place"] = [error()]
    assert gateway.place_order(ENTRY) == "B1"
    assert len(broker.orders) == 1
    # the order book is looked up before the retry
    assert broker.calls == ["place", "book", "place"]
    assert fake_time.sleeps == [2.0]


def test_a_placement_timeout_where_the_order_was_placed_gives_exactly_one_order() -> None:
    gateway, broker, fake_time = make()
    broker.scripts["place"] = [LOST_REPLY]
    assert gateway.place_order(ENTRY) == "B1"
    assert [row.orderid for row in broker.orders] == ["B1"]
    assert broker.calls == ["place", "book"]  # found: no second placement
    assert fake_time.sleeps == [2.0]


def test_two_lost_replies_in_a_row_still_give_exactly_one_order() -> None:
    gateway, broker, _ = make()
    broker.scripts["place"] = [TransportError("connect timeout"), LOST_REPLY]
    assert gateway.place_order(ENTRY) == "B1"
    assert len(broker.orders) == 1
    assert broker.calls == ["place", "book", "place", "book"]


def test_a_placement_that_never_gets_through_raises_after_three_attempts() -> None:
    gateway, broker, fake_time = make()
    last = TransportError("connection refused")
    broker.scripts["place"] = [TransportError("connection refused"), TransportError("connection refused"), last]
    with pytest.raises(TransportError) as info:
        gateway.place_order(ENTRY)
    assert info.value is last
    assert broker.orders == []
    # a last look in the book after the final failure, then the error
    assert broker.calls == ["place", "book", "place", "book", "place", "book"]
    assert fake_time.sleeps == [2.0, 2.0]


def test_an_order_placed_by_the_last_failing_attempt_is_found_and_returned() -> None:
    gateway, broker, fake_time = make()
    broker.scripts["place"] = [TransportError("connect timeout"), TransportError("connect timeout"), LOST_REPLY]
    assert gateway.place_order(ENTRY) == "B1"
    assert [row.orderid for row in broker.orders] == ["B1"]
    assert broker.calls == ["place", "book", "place", "book", "place", "book"]
    assert fake_time.sleeps == [2.0, 2.0]


def test_a_failing_lookup_is_retried_and_never_places_blindly() -> None:
    gateway, broker, _ = make()
    broker.scripts["place"] = [LOST_REPLY]
    broker.scripts["book"] = [TransportError("read timed out")]
    assert gateway.place_order(ENTRY) == "B1"
    assert len(broker.orders) == 1
    assert broker.calls == ["place", "book", "book"]


def ce(symbol: str) -> bool:
    return symbol.endswith("CE")


def test_an_attempt_that_reaches_the_book_after_its_retry_is_handed_to_the_next_poll() -> None:
    """The doubled order under load: the lost attempt lands after the look-up, the retry places B1;
    the lost one (B2) must not stay untracked at the broker."""
    gateway, broker, _ = make()
    broker.scripts["place"] = [TransportError("read timed out")]  # not in the book yet
    assert gateway.place_order(ENTRY) == "B1"
    assert gateway.has_unsettled(ce) and not gateway.has_unsettled(lambda symbol: False)
    late = broker.add_row(ENTRY, NOW)  # the lost attempt, late
    [(row, request)] = gateway.late_placements(broker.order_book(), ce)
    assert (row.orderid, request) == (late, ENTRY)
    assert gateway.late_placements(broker.order_book(), ce) == [] and not gateway.has_unsettled(ce)


def test_a_lost_attempt_found_by_the_lookup_is_settled() -> None:
    gateway, broker, _ = make()
    broker.scripts["place"] = [LOST_REPLY]
    assert gateway.place_order(ENTRY) == "B1"
    assert not gateway.has_unsettled(ce)


def test_a_lost_attempt_is_watched_for_only_so_long() -> None:
    now = [NOW]
    broker = FakeBroker()
    gateway = BrokerGateway(broker, lambda: now[0], attempts=1, delay=0.0, orders_per_second=None, sleep=lambda _s: None)
    broker.scripts["place"] = [TransportError("read timed out")]
    with pytest.raises(TransportError):
        gateway.place_order(ENTRY)
    assert gateway.late_placements([], ce) == [] and gateway.has_unsettled(ce)
    now[0] = NOW + UNSETTLED_HORIZON + timedelta(seconds=1)
    assert gateway.late_placements([], ce) == [] and not gateway.has_unsettled(ce)


def test_a_reject_on_the_first_attempt_does_not_look_up_the_book() -> None:
    gateway, broker, _ = make()
    broker.add_row(ENTRY, NOW)  # an identical unknown order exists
    broker.scripts["place"] = [OrderRejected("margin")]
    with pytest.raises(OrderRejected):
        gateway.place_order(ENTRY)
    assert broker.calls == ["place"]


def test_the_lookup_skips_orders_the_gateway_already_knows() -> None:
    gateway, broker, _ = make()
    first = gateway.place_order(ENTRY)
    broker.calls.clear()
    broker.scripts["place"] = [TransportError("connect timeout")]  # not placed
    second = gateway.place_order(ENTRY)
    assert (first, second) == ("B1", "B2")
    assert broker.calls == ["place", "book", "place"]
    assert len(broker.orders) == 2


def test_an_order_found_by_the_lookup_becomes_known() -> None:
    gateway, broker, _ = make()
    broker.scripts["place"] = [LOST_REPLY, TransportError("connect timeout")]
    assert gateway.place_order(ENTRY) == "B1"  # found in the book
    # the same terms again, failing without placing: B1 must not be taken for it
    assert gateway.place_order(ENTRY) == "B2"
    assert len(broker.orders) == 2


def test_the_lookup_skips_rows_older_than_the_request() -> None:
    gateway, broker, _ = make()
    broker.add_row(ENTRY, NOW - timedelta(hours=1))  # e.g. before a restart
    broker.scripts["place"] = [TransportError("connect timeout")]
    assert gateway.place_order(ENTRY) == "B2"
    assert broker.calls == ["place", "book", "place"]


@pytest.mark.parametrize("request_", [ENTRY, EXIT], ids=["SL", "MARKET"])
def test_an_identical_order_placed_shortly_before_the_request_is_not_taken(request_: OrderRequest) -> None:
    # identical terms, 30 s before we sent ours (another strategy, an earlier run…): not ours
    gateway, broker, _ = make()
    broker.add_row(request_, NOW - timedelta(seconds=30))
    broker.scripts["place"] = [TransportError("connect timeout")]  # not placed
    assert gateway.place_order(request_) == "B2"
    assert broker.calls == ["place", "book", "place"]
    assert len(broker.orders) == 2


def test_an_older_identical_order_is_not_taken_for_ours() -> None:
    gateway, broker, _ = make()
    broker.add_row(ENTRY, NOW - timedelta(seconds=30))  # B1: not ours
    broker.scripts["place"] = [LOST_REPLY]  # B2: ours, answer lost
    assert gateway.place_order(ENTRY) == "B2"
    assert broker.calls == ["place", "book"]
    assert len(broker.orders) == 2


def test_the_lookup_allows_for_clock_skew() -> None:
    # the broker's clock (whole seconds, its own clock) may put our order a little before the request
    gateway, broker, _ = make()
    broker.place_time = NOW - CLOCK_SKEW + timedelta(seconds=1)
    broker.scripts["place"] = [LOST_REPLY]
    assert gateway.place_order(ENTRY) == "B1"
    assert broker.calls == ["place", "book"]
    assert len(broker.orders) == 1


def test_the_lookup_does_not_take_a_row_without_a_time() -> None:
    # it cannot be told from an older identical order
    gateway, broker, _ = make()
    broker.add_row(ENTRY, None)
    broker.scripts["place"] = [TransportError("connect timeout")]
    assert gateway.place_order(ENTRY) == "B2"
    assert broker.calls == ["place", "book", "place"]


def test_of_several_matching_rows_the_nearest_in_time_is_taken_and_logged() -> None:
    gateway, broker, _ = make()
    broker.add_row(ENTRY, NOW + timedelta(seconds=40))  # B1: identical, someone else's, later
    broker.place_time = NOW + timedelta(seconds=1)
    broker.scripts["place"] = [LOST_REPLY]  # B2: ours
    messages: list[str] = []
    sink = logger.add(lambda message: messages.append(str(message)), level="WARNING")
    try:
        assert gateway.place_order(ENTRY) == "B2"
    finally:
        logger.remove(sink)
    assert broker.calls == ["place", "book"]
    assert any("2 orders match" in m and "took B2" in m and "B1" in m for m in messages), messages


@pytest.mark.parametrize(
    "other",
    [
        ENTRY.model_copy(update={"symbol": PE}),
        ENTRY.model_copy(update={"action": "BUY"}),
        ENTRY.model_copy(update={"quantity": 150}),
        ENTRY.model_copy(update={"pricetype": "SL-M", "price": 0.0}),
        ENTRY.model_copy(update={"trigger_price": 99.9}),
        ENTRY.model_copy(update={"price": 96.9}),
        ENTRY.model_copy(update={"exchange": "BFO"}),
        ENTRY.model_copy(update={"product": "NRML"}),
    ],
    ids=["symbol", "action", "quantity", "pricetype", "trigger", "price", "exchange", "product"],
)
def test_the_lookup_skips_rows_with_other_terms(other: OrderRequest) -> None:
    gateway, broker, _ = make()
    broker.add_row(other, NOW)
    broker.scripts["place"] = [TransportError("read timed out")]
    assert gateway.place_order(ENTRY) == "B2"
    assert broker.calls == ["place", "book", "place"]


def test_the_lookup_matches_a_filled_order_too() -> None:
    gateway, broker, _ = make()
    broker.add_row(ENTRY, NOW, status="complete")  # placed and filled while we waited
    broker.scripts["place"] = [TransportError("read timed out")]
    assert gateway.place_order(ENTRY) == "B1"


# --- MARKET orders: the real server stores them with price = the last price ------------


@pytest.mark.parametrize(
    "script",
    [[LOST_REPLY], [TransportError("connect timeout"), TransportError("connect timeout"), LOST_REPLY]],
    ids=["first-attempt", "last-attempt"],
)
def test_a_timed_out_market_order_stored_at_the_last_price_is_found_not_placed_again(script: list[object]) -> None:
    gateway, broker, _ = make()
    broker.ltp = LTP
    broker.scripts["place"] = list(script)
    assert gateway.place_order(EXIT) == "B1"
    assert len(broker.orders) == 1  # one exit: no doubled BUY
    assert broker.orders[0].price == LTP  # stored with the last price, not the 0 we sent
    assert broker.calls.count("place") == len(script)


@pytest.mark.parametrize(
    "second",
    [TransportError("connect timeout"), LOST_REPLY],
    ids=["second-not-placed", "second-lost-too"],
)
def test_two_identical_market_exits_in_a_row_never_get_the_same_orderid(second: object) -> None:
    gateway, broker, _ = make()
    broker.ltp = LTP
    broker.scripts["place"] = [LOST_REPLY, second]
    first = gateway.place_order(EXIT)  # found by the look-up
    broker.ltp = LTP + 2.5  # the second exit is stored at a later price
    assert (first, gateway.place_order(EXIT)) == ("B1", "B2")
    assert len(broker.orders) == 2


def test_a_market_order_is_matched_whatever_its_stored_price() -> None:
    gateway, broker, _ = make()
    broker.add_row(EXIT, NOW, status="complete", price=LTP + 40.0)
    broker.scripts["place"] = [TransportError("read timed out")]
    assert gateway.place_order(EXIT) == "B1"
    assert broker.calls == ["place", "book"]


# --- LIMIT and SL orders still match on price and trigger --------------------------------

LIMIT_EXIT = OrderRequest(symbol=CE, action="BUY", quantity=75, pricetype="LIMIT", price=101.0)


@pytest.mark.parametrize(
    ("request_", "stored"),
    [(LIMIT_EXIT, {"price": 101.05}), (ENTRY, {"price": 97.0}), (ENTRY, {"trigger_price": 100.0})],
    ids=["limit-price", "sl-price", "sl-trigger"],
)
def test_limit_and_sl_orders_with_another_price_are_not_taken(request_: OrderRequest, stored: dict[str, float]) -> None:
    # regression guard (the old look-up did this too): only MARKET orders are matched without a price
    gateway, broker, _ = make()
    broker.ltp = LTP
    broker.add_row(request_.model_copy(update=stored), NOW)
    broker.scripts["place"] = [TransportError("read timed out")]
    assert gateway.place_order(request_) == "B2"
    assert broker.calls == ["place", "book", "place"]


@pytest.mark.parametrize("request_", [LIMIT_EXIT, ENTRY], ids=["limit", "sl"])
def test_limit_and_sl_orders_with_the_same_price_are_found(request_: OrderRequest) -> None:
    gateway, broker, _ = make()
    broker.ltp = LTP  # MARKET orders only are stored at the last price
    broker.scripts["place"] = [LOST_REPLY]
    assert gateway.place_order(request_) == "B1"
    assert broker.calls == ["place", "book"]


# --- strategy tag ------------------------------------------------------------------------


def test_a_row_of_another_strategy_is_not_taken() -> None:
    gateway, broker, _ = make(strategy="baseline_v1")
    broker.add_row(ENTRY, NOW, strategy="someone_else")
    broker.scripts["place"] = [TransportError("read timed out")]
    assert gateway.place_order(ENTRY) == "B2"
    assert broker.calls == ["place", "book", "place"]


@pytest.mark.parametrize("tag", ["baseline_v1", None], ids=["same-tag", "untagged-row"])
def test_a_row_of_our_strategy_or_untagged_is_taken(tag: str | None) -> None:
    gateway, broker, _ = make(strategy="baseline_v1")
    broker.add_row(ENTRY, NOW, strategy=tag)
    broker.scripts["place"] = [TransportError("read timed out")]
    assert gateway.place_order(ENTRY) == "B1"


def test_the_strategy_defaults_to_the_brokers() -> None:
    broker = FakeBroker()
    broker.strategy = "baseline_v1"  # type: ignore[attr-defined]  # as OpenAlgoClient has
    gateway = BrokerGateway(broker, lambda: NOW, orders_per_second=None, sleep=lambda _s: None)
    broker.add_row(ENTRY, NOW, strategy="someone_else")
    broker.scripts["place"] = [TransportError("read timed out")]
    assert gateway.place_order(ENTRY) == "B2"


# --- cancel ------------------------------------------------------------------------


def test_cancel_retried_after_a_timeout_that_in_fact_cancelled_succeeds() -> None:
    gateway, broker, fake_time = make()
    broker.add_row(ENTRY, NOW)
    broker.scripts["cancel"] = [LOST_REPLY]
    gateway.cancel_order("B1")  # no exception
    assert broker.calls == ["cancel", "cancel"]
    assert broker.orders[0].status == "cancelled"
    assert fake_time.sleeps == [2.0]


def test_cancel_retried_after_a_timeout_that_did_not_cancel() -> None:
    gateway, broker, _ = make()
    broker.add_row(ENTRY, NOW)
    broker.scripts["cancel"] = [ServerError("503")]
    gateway.cancel_order("B1")
    assert broker.calls == ["cancel", "cancel"]
    assert broker.orders[0].status == "cancelled"


def test_cancel_of_an_order_already_cancelled_before_we_asked_raises() -> None:
    gateway, broker, _ = make()
    broker.add_row(ENTRY, NOW, status="cancelled")
    with pytest.raises(OrderNotCancellable) as info:
        gateway.cancel_order("B1")
    assert info.value.status == "cancelled"
    assert broker.calls == ["cancel"]


def test_cancel_after_a_timeout_that_finds_the_order_filled_raises() -> None:
    gateway, broker, _ = make()
    broker.add_row(ENTRY, NOW)
    # the cancel is lost and the order fills meanwhile
    broker.scripts["cancel"] = [TransportError("read timed out")]
    broker.set_status("B1", "complete")
    with pytest.raises(OrderNotCancellable) as info:
        gateway.cancel_order("B1")
    assert info.value.status == "complete"
    assert broker.calls == ["cancel", "cancel"]


# --- throttle ----------------------------------------------------------------------


def test_order_calls_are_spaced_by_the_throttle() -> None:
    gateway, broker, fake_time = make(per_second=8.0)
    gateway.place_order(ENTRY)
    gateway.place_order(ENTRY.model_copy(update={"symbol": PE}))
    gateway.modify_order("B1", ENTRY, ENTRY.quantity, ENTRY.price, ENTRY.trigger_price)
    gateway.cancel_order("B2")
    assert broker.calls == ["place", "place", "modify", "cancel"]
    assert broker.call_times == [1000.0, 1000.125, 1000.25, 1000.375]
    assert fake_time.sleeps == [0.125, 0.125, 0.125]


def test_the_throttle_does_not_delay_calls_already_far_apart() -> None:
    gateway, broker, fake_time = make(per_second=8.0)
    gateway.place_order(ENTRY)
    fake_time.clock += 0.5
    gateway.place_order(ENTRY)
    fake_time.clock += 0.2
    gateway.cancel_order("B1")
    assert fake_time.sleeps == []


def test_the_throttle_reserves_slots_for_calls_made_at_one_instant() -> None:
    # a clock that does not move while "sleeping": each call must wait one gap longer
    broker = FakeBroker()
    sleeps: list[float] = []
    gateway = BrokerGateway(broker, lambda: NOW, orders_per_second=10.0, sleep=sleeps.append, monotonic=lambda: 500.0)
    for _ in range(4):
        gateway.place_order(ENTRY)
    assert sleeps == pytest.approx([0.1, 0.2, 0.3])
    assert len(broker.orders) == 4


def test_reads_are_not_throttled() -> None:
    gateway, broker, fake_time = make(per_second=8.0)
    gateway.place_order(ENTRY)
    gateway.order_book()
    gateway.order_status("B1")
    gateway.position_book()
    assert fake_time.sleeps == []


def test_no_throttle_when_disabled() -> None:
    gateway, broker, fake_time = make(per_second=None)
    for _ in range(5):
        gateway.place_order(ENTRY)
    assert fake_time.sleeps == []
    assert len(broker.orders) == 5


def test_retry_delay_and_throttle_together() -> None:
    gateway, broker, fake_time = make(per_second=8.0)
    broker.scripts["place"] = [TransportError("connect timeout")]
    assert gateway.place_order(ENTRY) == "B1"
    # the 2 s retry wait already spaces the second call: no throttle sleep on top
    assert fake_time.sleeps == [2.0]
