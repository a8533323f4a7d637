"""SimulatedBroker: ids, RMS-like validation, final-order errors, order updates, position book."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from broker.base import (
    BrokerError,
    NotFound,
    OrderNotCancellable,
    OrderRejected,
    OrderRequest,
    OrderSnapshot,
    PositionRow,
)
from broker.simulated import SimulatedBroker
from messages.base import IST

CE = "NIFTY17JUN2115700CE"
PE = "NIFTY17JUN2115700PE"
LOT = 75
T0 = datetime(2021, 6, 11, 10, 0, tzinfo=IST)


class FakeClock:
    """The broker's ``now``; tests move it by hand."""

    def __init__(self, start: datetime = T0) -> None:
        self.time = start

    def __call__(self) -> datetime:
        return self.time

    def advance(self, seconds: float) -> datetime:
        self.time += timedelta(seconds=seconds)
        return self.time


def modify(broker: SimulatedBroker, orderid: str, terms: OrderRequest) -> str:
    """Modify ``orderid`` to the quantity, price and trigger price of ``terms``."""
    return broker.modify_order(orderid, terms, terms.quantity, terms.price, terms.trigger_price)


def make_broker() -> tuple[SimulatedBroker, FakeClock, list[OrderSnapshot]]:
    clock = FakeClock()
    broker = SimulatedBroker(clock, lot_size=LOT, tick_size=0.05, symbols={CE, PE})
    updates: list[OrderSnapshot] = []
    broker.set_listener(updates.append)
    return broker, clock, updates


def req(action: str, pricetype: str, price: float = 0.0, trigger: float = 0.0, qty: int = LOT, symbol: str = CE) -> OrderRequest:
    return OrderRequest(symbol=symbol, action=action, quantity=qty, pricetype=pricetype, price=price, trigger_price=trigger)


def entry(trigger: float = 99.95, qty: int = LOT) -> OrderRequest:
    """The strategy's short entry: SELL SL, limit = trigger - 3."""
    return req("SELL", "SL", price=round(trigger - 3.0, 2), trigger=trigger, qty=qty)


def tick(broker: SimulatedBroker, clock: FakeClock, price: float, symbol: str = CE) -> None:
    broker.on_tick(symbol, price, clock.advance(1))


def trail(updates: list[OrderSnapshot]) -> list[tuple[str, str]]:
    return [(u.orderid, u.status) for u in updates]


# --- order ids -----------------------------------------------------------------------


def test_orderids_are_day_plus_an_eight_digit_sequence() -> None:
    broker, _, _ = make_broker()
    first = broker.place_order(entry())
    second = broker.place_order(req("BUY", "LIMIT", price=50.0, symbol=PE))
    third = broker.place_order(req("BUY", "MARKET"))
    assert [first, second, third] == ["21061100000001", "21061100000002", "21061100000003"]


def test_orderids_repeat_run_after_run() -> None:
    def run() -> list[str]:
        broker, clock, _ = make_broker()
        out = [broker.place_order(entry())]
        tick(broker, clock, 101.0)
        out.append(broker.place_order(req("BUY", "MARKET")))
        return out

    assert run() == run() == ["21061100000001", "21061100000002"]


def test_a_rejected_placement_does_not_use_a_sequence_number() -> None:
    broker, _, _ = make_broker()
    with pytest.raises(OrderRejected):
        broker.place_order(entry(qty=LOT + 1))
    assert broker.place_order(entry()) == "21061100000001"


# --- validation ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("request_", "words"),
    [
        (req("SELL", "SL", price=96.95, trigger=99.95, qty=100), "lot size"),
        (req("SELL", "SL", price=96.95, trigger=99.95, qty=LOT * 2 + 1), "lot size"),
        (req("SELL", "SL", price=96.93, trigger=99.95), "tick size"),
        (req("SELL", "SL", price=96.95, trigger=99.97), "tick size"),
        (req("BUY", "LIMIT", price=100.01), "tick size"),
        (req("SELL", "SL", price=100.0, trigger=99.95), "limit price"),
        (req("BUY", "SL", price=109.95, trigger=110.0), "limit price"),
        (req("SELL", "SL", price=96.95, trigger=99.95, symbol="NIFTY17JUN2199999CE"), "not found"),
        (req("BUY", "LIMIT", price=0.0), "needs a price"),
        (req("SELL", "SL", price=0.0, trigger=99.95), "needs a price"),
        (req("SELL", "SL-M", trigger=0.0), "needs a trigger"),
    ],
)
def test_invalid_requests_are_rejected_without_a_trace(request_: OrderRequest, words: str) -> None:
    broker, _, updates = make_broker()
    with pytest.raises(OrderRejected, match=words) as info:
        broker.place_order(request_)
    assert info.value.retryable is False
    assert broker.order_book() == []
    assert updates == []


@pytest.mark.parametrize(
    "request_",
    [
        req("SELL", "SL", price=99.95, trigger=99.95),  # limit == trigger is allowed
        req("BUY", "SL", price=110.0, trigger=110.0),
        req("BUY", "SL", price=113.0, trigger=110.0),
        req("SELL", "SL", price=96.95, trigger=99.95, qty=LOT * 24),
        req("BUY", "LIMIT", price=100.05),
    ],
)
def test_valid_requests_are_accepted(request_: OrderRequest) -> None:
    broker, _, _ = make_broker()
    orderid = broker.place_order(request_)
    assert broker.order_status(orderid).symbol == CE


def test_symbols_none_accepts_any_symbol() -> None:
    broker = SimulatedBroker(FakeClock(), lot_size=LOT)
    orderid = broker.place_order(req("BUY", "MARKET", symbol="ANYTHING24CE"))
    assert broker.order_status(orderid).status == "open"


@pytest.mark.parametrize(("trigger", "accepted"), [(100.05, False), (100.0, False), (99.95, True)])
@pytest.mark.parametrize("pricetype", ["SL", "SL-M"])
def test_sell_stop_trigger_must_be_below_the_last_price(trigger: float, accepted: bool, pricetype: str) -> None:
    broker, clock, _ = make_broker()
    tick(broker, clock, 100.0)
    request = req("SELL", pricetype, price=round(trigger - 3, 2) if pricetype == "SL" else 0.0, trigger=trigger)
    if accepted:
        assert broker.order_status(broker.place_order(request)).status == "trigger pending"
    else:
        with pytest.raises(OrderRejected, match="lower than the last price"):
            broker.place_order(request)
        assert broker.order_book() == []


@pytest.mark.parametrize(("trigger", "accepted"), [(99.95, False), (100.0, False), (100.05, True)])
@pytest.mark.parametrize("pricetype", ["SL", "SL-M"])
def test_buy_stop_trigger_must_be_above_the_last_price(trigger: float, accepted: bool, pricetype: str) -> None:
    broker, clock, _ = make_broker()
    tick(broker, clock, 100.0)
    request = req("BUY", pricetype, price=round(trigger + 3, 2) if pricetype == "SL" else 0.0, trigger=trigger)
    if accepted:
        assert broker.order_status(broker.place_order(request)).status == "trigger pending"
    else:
        with pytest.raises(OrderRejected, match="higher than the last price"):
            broker.place_order(request)
        assert broker.order_book() == []


def test_stop_trigger_is_checked_against_the_last_price_of_its_own_symbol() -> None:
    broker, clock, _ = make_broker()
    tick(broker, clock, 50.0, symbol=PE)  # another symbol's price is irrelevant
    broker.place_order(entry(99.95))
    tick(broker, clock, 90.0)
    with pytest.raises(OrderRejected):
        broker.place_order(entry(99.95))


# --- order status, modify and cancel ----------------------------------------------


def test_order_status_of_an_unknown_order_is_not_found() -> None:
    broker, _, _ = make_broker()
    with pytest.raises(NotFound):
        broker.order_status("21061199999999")
    with pytest.raises(NotFound):
        broker.cancel_order("21061199999999")
    with pytest.raises(NotFound):
        modify(broker, "21061199999999", entry())


def test_order_status_reports_the_order() -> None:
    broker, _, _ = make_broker()
    orderid = broker.place_order(entry(99.95, qty=150))
    assert broker.order_status(orderid) == OrderSnapshot(
        orderid=orderid,
        symbol=CE,
        action="SELL",
        quantity=150,
        pricetype="SL",
        price=96.95,
        trigger_price=99.95,
        status="trigger pending",
        timestamp=T0,
    )


def test_modify_changes_trigger_price_and_quantity() -> None:
    broker, clock, updates = make_broker()
    orderid = broker.place_order(entry(99.95))
    clock.advance(5)
    assert modify(broker, orderid, entry(98.5, qty=150)) == orderid
    snap = broker.order_status(orderid)
    assert (snap.trigger_price, snap.price, snap.quantity, snap.status, snap.timestamp) == (98.5, 95.5, 150, "trigger pending", clock.time)
    assert trail(updates) == [(orderid, "trigger pending"), (orderid, "trigger pending")]
    assert updates[-1].trigger_price == 98.5
    # the new trigger is the one that matches
    tick(broker, clock, 99.0)
    assert broker.order_status(orderid).status == "trigger pending"
    tick(broker, clock, 98.5)
    assert broker.order_status(orderid).status == "complete"
    assert broker.order_status(orderid).filled_quantity == 150


def test_modify_changes_only_quantity_price_and_trigger() -> None:
    broker, _, _ = make_broker()
    orderid = broker.place_order(entry())
    # whatever the caller believes the order is, only the three terms change (as at OpenAlgo)
    other = req("BUY", "LIMIT", price=97.0, symbol=PE)
    broker.modify_order(orderid, other, LOT * 2, 96.0, 99.0)
    snap = broker.order_status(orderid)
    assert (snap.symbol, snap.action, snap.pricetype, snap.status) == (CE, "SELL", "SL", "trigger pending")
    assert (snap.quantity, snap.price, snap.trigger_price) == (LOT * 2, 96.0, 99.0)


def test_modify_is_validated_like_a_placement() -> None:
    broker, clock, _ = make_broker()
    orderid = broker.place_order(entry(99.95))
    tick(broker, clock, 100.0)
    with pytest.raises(OrderRejected, match="lot size"):
        modify(broker, orderid, entry(99.95, qty=80))
    with pytest.raises(OrderRejected, match="lower than the last price"):
        modify(broker, orderid, entry(100.0))
    snap = broker.order_status(orderid)
    assert (snap.trigger_price, snap.quantity) == (99.95, LOT)


def test_modify_of_a_triggered_sl_skips_the_trigger_check() -> None:
    broker, clock, _ = make_broker()
    orderid = broker.place_order(entry(99.95))  # limit 96.95
    tick(broker, clock, 95.0)  # triggered, rests as a limit
    assert broker.order_status(orderid).status == "open"
    # trigger 99.95 is above the last price 95.0: fine for an order that already triggered
    modify(broker, orderid, req("SELL", "SL", price=94.0, trigger=99.95))
    assert broker.order_status(orderid).status == "open"
    tick(broker, clock, 93.95)  # below the new limit: still resting
    assert broker.order_status(orderid).status == "open"
    tick(broker, clock, 94.0)
    snap = broker.order_status(orderid)
    assert (snap.status, snap.average_price) == ("complete", 94.0)


@pytest.mark.parametrize("final", ["complete", "cancelled"])
def test_modify_and_cancel_of_a_final_order_raise_not_cancellable_with_its_status(final: str) -> None:
    broker, clock, updates = make_broker()
    orderid = broker.place_order(entry(99.95))
    if final == "complete":
        tick(broker, clock, 99.0)
    else:
        broker.cancel_order(orderid)
    seen = len(updates)
    with pytest.raises(OrderNotCancellable) as cancel_info:
        broker.cancel_order(orderid)
    with pytest.raises(OrderNotCancellable) as modify_info:
        modify(broker, orderid, entry(98.0))
    assert cancel_info.value.status == final
    assert modify_info.value.status == final
    assert isinstance(cancel_info.value, OrderRejected)
    assert final in str(cancel_info.value)
    assert broker.order_status(orderid).status == final
    assert len(updates) == seen  # no update for a refused call


def test_cancel_a_working_order() -> None:
    broker, clock, updates = make_broker()
    orderid = broker.place_order(entry(99.95))
    clock.advance(30)
    broker.cancel_order(orderid)
    snap = broker.order_status(orderid)
    assert (snap.status, snap.timestamp, snap.filled_quantity) == ("cancelled", clock.time, 0)
    tick(broker, clock, 90.0)
    assert broker.order_status(orderid).status == "cancelled"
    assert broker.position_book() == []
    assert trail(updates) == [(orderid, "trigger pending"), (orderid, "cancelled")]


# --- listener --------------------------------------------------------------------------


def test_listener_gets_place_trigger_fill_and_cancel_in_order() -> None:
    broker, clock, updates = make_broker()
    entry_id = broker.place_order(entry(99.95))  # limit 96.95
    other_id = broker.place_order(req("SELL", "SL", price=46.95, trigger=49.95, symbol=PE))
    tick(broker, clock, 100.5)  # nothing
    tick(broker, clock, 95.0)  # entry triggers, rests
    tick(broker, clock, 96.95)  # entry fills at its limit
    stop_id = broker.place_order(req("BUY", "SL", price=113.0, trigger=110.0))
    broker.cancel_order(other_id)
    assert trail(updates) == [
        (entry_id, "trigger pending"),
        (other_id, "trigger pending"),
        (entry_id, "open"),
        (entry_id, "complete"),
        (stop_id, "trigger pending"),
        (other_id, "cancelled"),
    ]
    fill = updates[3]
    assert (fill.filled_quantity, fill.average_price) == (LOT, 96.95)
    assert updates[2].filled_quantity == 0


def test_listener_gets_fills_of_one_tick_in_placement_order() -> None:
    broker, clock, updates = make_broker()
    a = broker.place_order(req("BUY", "MARKET"))
    b = broker.place_order(req("SELL", "SL-M", trigger=99.95))
    c = broker.place_order(req("BUY", "LIMIT", price=100.0))
    updates.clear()
    tick(broker, clock, 99.0)
    assert trail(updates) == [(a, "complete"), (b, "complete"), (c, "complete")]


def test_no_listener_is_fine_and_a_removed_listener_gets_nothing() -> None:
    broker, clock, updates = make_broker()
    broker.set_listener(None)
    orderid = broker.place_order(req("BUY", "MARKET"))
    tick(broker, clock, 50.0)
    assert updates == []
    assert broker.order_status(orderid).status == "complete"


def test_fill_market_orders_fills_at_the_last_price_and_notifies() -> None:
    broker, clock, updates = make_broker()
    tick(broker, clock, 88.0)
    orderid = broker.place_order(req("BUY", "MARKET", qty=150))
    clock.advance(60)
    broker.fill_market_orders()
    snap = broker.order_status(orderid)
    assert (snap.status, snap.average_price, snap.filled_quantity, snap.timestamp) == ("complete", 88.0, 150, clock.time)
    assert trail(updates) == [(orderid, "open"), (orderid, "complete")]
    assert broker.position_book() == [PositionRow(symbol=CE, quantity=150, average_price=88.0)]


def test_order_book_lists_every_order_of_the_day_in_placement_order() -> None:
    broker, clock, _ = make_broker()
    a = broker.place_order(entry(99.95))
    b = broker.place_order(req("BUY", "LIMIT", price=40.0, symbol=PE))
    c = broker.place_order(req("BUY", "MARKET"))
    broker.cancel_order(b)
    tick(broker, clock, 99.0)
    assert [(s.orderid, s.status) for s in broker.order_book()] == [(a, "complete"), (b, "cancelled"), (c, "complete")]


# --- positions -------------------------------------------------------------------------


def trade(broker: SimulatedBroker, clock: FakeClock, action: str, qty: int, price: float, symbol: str = CE) -> None:
    broker.place_order(req(action, "MARKET", qty=qty, symbol=symbol))
    tick(broker, clock, price, symbol)


def positions(broker: SimulatedBroker) -> dict[str, tuple[int, float]]:
    return {row.symbol: (row.quantity, row.average_price) for row in broker.position_book()}


def test_position_book_is_empty_before_any_fill() -> None:
    broker, clock, _ = make_broker()
    broker.place_order(entry())
    assert broker.position_book() == []


def test_short_then_partly_and_fully_covered() -> None:
    broker, clock, _ = make_broker()
    trade(broker, clock, "SELL", 150, 100.0)
    assert positions(broker) == {CE: (-150, 100.0)}
    trade(broker, clock, "BUY", 75, 90.0)  # covering keeps the entry average
    assert positions(broker) == {CE: (-75, 100.0)}
    trade(broker, clock, "SELL", 75, 110.0)  # adding averages
    assert positions(broker) == {CE: (-150, 105.0)}
    trade(broker, clock, "BUY", 150, 95.0)
    # a closed position stays listed with quantity 0
    assert broker.position_book() == [PositionRow(symbol=CE, quantity=0, average_price=0.0)]


def test_long_then_sold() -> None:
    broker, clock, _ = make_broker()
    trade(broker, clock, "BUY", 75, 50.0)
    trade(broker, clock, "BUY", 150, 56.0)
    assert positions(broker) == {CE: (225, 54.0)}
    trade(broker, clock, "SELL", 150, 70.0)
    assert positions(broker) == {CE: (75, 54.0)}
    trade(broker, clock, "SELL", 75, 40.0)
    assert positions(broker) == {CE: (0, 0.0)}


def test_a_fill_through_zero_starts_the_new_side_at_the_fill_price() -> None:
    broker, clock, _ = make_broker()
    trade(broker, clock, "SELL", 75, 100.0)
    trade(broker, clock, "BUY", 225, 80.0)
    assert positions(broker) == {CE: (150, 80.0)}
    trade(broker, clock, "SELL", 300, 85.0)
    assert positions(broker) == {CE: (-150, 85.0)}


def test_a_flat_position_reopens_at_the_new_price() -> None:
    broker, clock, _ = make_broker()
    trade(broker, clock, "SELL", 75, 100.0)
    trade(broker, clock, "BUY", 75, 120.0)
    trade(broker, clock, "SELL", 75, 60.0)
    assert positions(broker) == {CE: (-75, 60.0)}


def test_positions_are_per_symbol_and_average_is_rounded_to_paise() -> None:
    broker, clock, _ = make_broker()
    trade(broker, clock, "SELL", 75, 100.05)
    trade(broker, clock, "SELL", 75, 100.1)
    trade(broker, clock, "SELL", 75, 100.1)
    trade(broker, clock, "SELL", 75, 41.0, symbol=PE)
    assert positions(broker) == {CE: (-225, 100.08), PE: (-75, 41.0)}


def test_the_strategy_round_trip_short_entry_then_stop_goes_flat() -> None:
    broker, clock, updates = make_broker()
    entry_id = broker.place_order(entry(99.95))
    tick(broker, clock, 99.5)  # entry fills at 99.5
    assert positions(broker) == {CE: (-LOT, 99.5)}
    stop_id = broker.place_order(req("BUY", "SL", price=113.0, trigger=110.0))
    tick(broker, clock, 104.0)
    tick(broker, clock, 111.0)  # stop fills at 111
    assert positions(broker) == {CE: (0, 0.0)}
    assert broker.order_status(stop_id).average_price == 111.0
    assert trail(updates) == [
        (entry_id, "trigger pending"),
        (entry_id, "complete"),
        (stop_id, "trigger pending"),
        (stop_id, "complete"),
    ]


def test_errors_are_broker_errors() -> None:
    broker, _, _ = make_broker()
    with pytest.raises(BrokerError):
        broker.order_status("x")


# --- modify of a resting order ------------------------------------------


def test_a_modified_resting_limit_meets_the_market_afresh() -> None:
    broker, clock, _ = make_broker()
    tick(broker, clock, 100.0)
    orderid = broker.place_order(req("SELL", "LIMIT", price=105.0))
    tick(broker, clock, 101.0)  # not marketable: the order rests at 105
    modify(broker, orderid, req("SELL", "LIMIT", price=100.0))
    tick(broker, clock, 102.0)  # marketable on the first trade after the modify
    status = broker.order_status(orderid)
    assert (status.status, status.average_price) == ("complete", 102.0)




# --- the openalgo-sandbox fill model -------------------------------------------------------------


def test_the_sandbox_accepts_a_crossed_stop_and_fills_it_at_once_where_the_exchange_model_refuses_it() -> None:
    exchange, clock, _ = make_broker()
    tick(exchange, clock, 100.0)
    with pytest.raises(OrderRejected, match="higher than the last price"):
        exchange.place_order(req("BUY", "SL", price=99.0, trigger=96.0))

    clock = FakeClock()
    broker = SimulatedBroker(clock, lot_size=LOT, tick_size=0.05, symbols={CE, PE}, fill_model="openalgo-sandbox")
    updates: list[OrderSnapshot] = []
    broker.set_listener(updates.append)
    tick(broker, clock, 100.0)
    orderid = broker.place_order(req("BUY", "SL", price=101.0, trigger=96.0))
    assert trail(updates) == [(orderid, "trigger pending"), (orderid, "complete")]
    assert broker.order_status(orderid).average_price == 100.0
    assert broker.position_book()[0].quantity == LOT
    market = broker.place_order(req("SELL", "MARKET"))
    assert broker.order_status(market).average_price == 99.95  # at once, at the bid
    assert broker.position_book()[0].quantity == 0
