"""MatchingEngine: the order rules of its module docstring, tick by tick."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from broker.base import OrderSnapshot
from broker.matching import Fill, MatchingEngine, SimOrder
from messages.base import IST

SYM = "NIFTY17JUN2115700CE"
OTHER = "NIFTY17JUN2115700PE"
T0 = datetime(2021, 6, 11, 10, 0, tzinfo=IST)


def t(seconds: int) -> datetime:
    return T0 + timedelta(seconds=seconds)


def order(
    orderid: str,
    action: str,
    pricetype: str,
    price: float = 0.0,
    trigger: float = 0.0,
    quantity: int = 75,
    symbol: str = SYM,
) -> SimOrder:
    # status deliberately not a real word: MatchingEngine.add must set it.
    return SimOrder(
        orderid=orderid,
        symbol=symbol,
        action=action,
        quantity=quantity,
        pricetype=pricetype,
        price=price,
        trigger_price=trigger,
        status="new",
        placed_at=T0,
        updated_at=T0,
    )


def engine_with(*orders: SimOrder) -> MatchingEngine:
    engine = MatchingEngine()
    for o in orders:
        engine.add(o)
    return engine


def ids(orders: list[SimOrder]) -> list[str]:
    return [o.orderid for o in orders]


def fills_of(fills: list[Fill]) -> list[tuple[str, int, float]]:
    return [(f.order.orderid, f.quantity, f.price) for f in fills]


# --- status on entry --------------------------------------------------------------


@pytest.mark.parametrize(
    ("pricetype", "price", "trigger", "status"),
    [
        ("SL", 96.95, 99.95, "trigger pending"),
        ("SL-M", 0.0, 99.95, "trigger pending"),
        ("LIMIT", 100.0, 0.0, "open"),
        ("MARKET", 0.0, 0.0, "open"),
    ],
)
def test_add_sets_the_openalgo_status_word(pricetype: str, price: float, trigger: float, status: str) -> None:
    o = order("1", "SELL", pricetype, price, trigger)
    engine = engine_with(o)
    assert o.status == status
    assert o.working is True
    assert engine.orders == {"1": o}


# --- SELL SL (the entry order) -----------------------------------------------------


def test_sell_sl_waits_above_the_trigger() -> None:
    o = order("1", "SELL", "SL", price=96.95, trigger=99.95)
    engine = engine_with(o)
    for i, price in enumerate((101.0, 100.0, 99.96)):
        assert engine.on_tick(SYM, price, t(i)) == ([], [])
    assert o.status == "trigger pending"
    assert o.filled_quantity == 0
    assert o.updated_at == T0


def test_sell_sl_triggers_at_the_trigger_and_fills_at_the_tick_price() -> None:
    o = order("1", "SELL", "SL", price=96.95, trigger=99.95)
    engine = engine_with(o)
    changed, fills = engine.on_tick(SYM, 99.95, t(5))
    assert ids(changed) == ["1"]
    assert fills_of(fills) == [("1", 75, 99.95)]
    assert o.status == "complete"
    assert (o.filled_quantity, o.average_price, o.updated_at) == (75, 99.95, t(5))
    assert o.working is False


def test_sell_sl_trigger_tick_between_trigger_and_limit_fills_at_the_tick_price() -> None:
    o = order("1", "SELL", "SL", price=96.95, trigger=99.95)
    engine = engine_with(o)
    _, fills = engine.on_tick(SYM, 98.1, t(1))
    assert fills_of(fills) == [("1", 75, 98.1)]


def test_sell_sl_fills_when_the_trigger_tick_is_exactly_at_the_limit() -> None:
    o = order("1", "SELL", "SL", price=96.95, trigger=99.95)
    engine = engine_with(o)
    _, fills = engine.on_tick(SYM, 96.95, t(1))
    assert fills_of(fills) == [("1", 75, 96.95)]
    assert o.status == "complete"


def test_sell_sl_gapping_below_its_limit_rests_open_then_fills_at_its_limit() -> None:
    o = order("1", "SELL", "SL", price=96.95, trigger=99.95)
    engine = engine_with(o)

    changed, fills = engine.on_tick(SYM, 95.0, t(1))  # triggered, not marketable
    assert ids(changed) == ["1"] and fills == []
    assert o.status == "open"
    assert o.updated_at == t(1)
    assert o.working is True

    changed, fills = engine.on_tick(SYM, 96.9, t(2))  # still below the limit: no new change
    assert (changed, fills) == ([], [])
    assert o.status == "open"
    assert o.updated_at == t(1)

    changed, fills = engine.on_tick(SYM, 97.5, t(3))  # reaches the limit: fills at the limit price
    assert ids(changed) == ["1"]
    assert fills_of(fills) == [("1", 75, 96.95)]
    assert (o.status, o.average_price, o.updated_at) == ("complete", 96.95, t(3))


def test_triggered_sell_sl_fills_at_its_limit_even_when_a_later_tick_is_far_above() -> None:
    o = order("1", "SELL", "SL", price=96.95, trigger=99.95)
    engine = engine_with(o)
    engine.on_tick(SYM, 90.0, t(1))
    _, fills = engine.on_tick(SYM, 120.0, t(2))
    assert fills_of(fills) == [("1", 75, 96.95)]


def test_triggered_sl_does_not_go_back_to_trigger_pending() -> None:
    o = order("1", "SELL", "SL", price=96.95, trigger=99.95)
    engine = engine_with(o)
    engine.on_tick(SYM, 95.0, t(1))
    # a tick back above the trigger does not re-arm it: it is a resting limit and fills at its limit
    changed, fills = engine.on_tick(SYM, 99.0, t(2))
    assert ids(changed) == ["1"]
    assert fills_of(fills) == [("1", 75, 96.95)]


# --- BUY SL (the protective stop) -------------------------------------------------


def test_buy_sl_waits_below_the_trigger() -> None:
    o = order("1", "BUY", "SL", price=113.0, trigger=110.0)
    engine = engine_with(o)
    for i, price in enumerate((100.0, 109.95)):
        assert engine.on_tick(SYM, price, t(i)) == ([], [])
    assert o.status == "trigger pending"


def test_buy_sl_triggers_at_the_trigger_and_fills_at_the_tick_price() -> None:
    o = order("1", "BUY", "SL", price=113.0, trigger=110.0)
    engine = engine_with(o)
    changed, fills = engine.on_tick(SYM, 110.0, t(1))
    assert ids(changed) == ["1"]
    assert fills_of(fills) == [("1", 75, 110.0)]
    assert o.status == "complete"


def test_buy_sl_trigger_tick_between_trigger_and_limit_fills_at_the_tick_price() -> None:
    o = order("1", "BUY", "SL", price=113.0, trigger=110.0)
    engine = engine_with(o)
    _, fills = engine.on_tick(SYM, 112.35, t(1))
    assert fills_of(fills) == [("1", 75, 112.35)]


def test_buy_sl_gapping_above_its_limit_rests_open_then_fills_at_its_limit() -> None:
    o = order("1", "BUY", "SL", price=113.0, trigger=110.0)
    engine = engine_with(o)

    changed, fills = engine.on_tick(SYM, 115.0, t(1))
    assert ids(changed) == ["1"] and fills == []
    assert (o.status, o.updated_at) == ("open", t(1))

    assert engine.on_tick(SYM, 113.05, t(2)) == ([], [])
    assert o.status == "open"

    changed, fills = engine.on_tick(SYM, 112.0, t(3))
    assert ids(changed) == ["1"]
    assert fills_of(fills) == [("1", 75, 113.0)]
    assert o.status == "complete"


# --- SL-M ----------------------------------------------------------------------------


def test_sell_sl_m_fills_at_the_tick_price_however_far_through_the_trigger() -> None:
    o = order("1", "SELL", "SL-M", trigger=99.95)
    engine = engine_with(o)
    assert engine.on_tick(SYM, 100.0, t(1)) == ([], [])
    changed, fills = engine.on_tick(SYM, 80.0, t(2))
    assert ids(changed) == ["1"]
    assert fills_of(fills) == [("1", 75, 80.0)]
    assert o.status == "complete"


def test_buy_sl_m_fills_at_the_tick_price_on_trigger() -> None:
    o = order("1", "BUY", "SL-M", trigger=110.0)
    engine = engine_with(o)
    assert engine.on_tick(SYM, 109.95, t(1)) == ([], [])
    assert o.status == "trigger pending"
    _, fills = engine.on_tick(SYM, 131.5, t(2))
    assert fills_of(fills) == [("1", 75, 131.5)]


def test_sl_m_at_exactly_the_trigger_fills() -> None:
    o = order("1", "BUY", "SL-M", trigger=110.0)
    engine = engine_with(o)
    _, fills = engine.on_tick(SYM, 110.0, t(1))
    assert fills_of(fills) == [("1", 75, 110.0)]


# --- LIMIT ---------------------------------------------------------------------------


def test_sell_limit_marketable_on_first_tick_fills_at_the_tick_price() -> None:
    o = order("1", "SELL", "LIMIT", price=100.0)
    engine = engine_with(o)
    changed, fills = engine.on_tick(SYM, 101.25, t(1))
    assert ids(changed) == ["1"]
    assert fills_of(fills) == [("1", 75, 101.25)]


def test_buy_limit_marketable_on_first_tick_fills_at_the_tick_price() -> None:
    o = order("1", "BUY", "LIMIT", price=100.0)
    engine = engine_with(o)
    _, fills = engine.on_tick(SYM, 98.4, t(1))
    assert fills_of(fills) == [("1", 75, 98.4)]


def test_sell_limit_resting_fills_at_its_limit_price() -> None:
    o = order("1", "SELL", "LIMIT", price=100.0)
    engine = engine_with(o)
    # a resting LIMIT reports no change while it waits (it was "open" from the start)
    assert engine.on_tick(SYM, 99.0, t(1)) == ([], [])
    assert (o.status, o.updated_at) == ("open", T0)
    changed, fills = engine.on_tick(SYM, 102.0, t(2))
    assert ids(changed) == ["1"]
    assert fills_of(fills) == [("1", 75, 100.0)]
    assert (o.status, o.updated_at) == ("complete", t(2))


def test_buy_limit_resting_fills_at_its_limit_price() -> None:
    o = order("1", "BUY", "LIMIT", price=100.0)
    engine = engine_with(o)
    assert engine.on_tick(SYM, 100.05, t(1)) == ([], [])
    _, fills = engine.on_tick(SYM, 97.0, t(2))
    assert fills_of(fills) == [("1", 75, 100.0)]


def test_limit_at_exactly_its_price_is_marketable() -> None:
    sell = order("s", "SELL", "LIMIT", price=100.0)
    buy = order("b", "BUY", "LIMIT", price=100.0)
    engine = engine_with(sell, buy)
    _, fills = engine.on_tick(SYM, 100.0, t(1))
    assert fills_of(fills) == [("s", 75, 100.0), ("b", 75, 100.0)]


def test_limit_first_tick_is_the_first_tick_after_placement_not_an_earlier_one() -> None:
    engine = MatchingEngine()
    engine.on_tick(SYM, 90.0, t(0))  # before the order exists
    o = order("1", "SELL", "LIMIT", price=100.0)
    engine.add(o)
    _, fills = engine.on_tick(SYM, 104.0, t(1))
    assert fills_of(fills) == [("1", 75, 104.0)]  # still "first tick it meets"


# --- MARKET --------------------------------------------------------------------------


def test_market_fills_at_the_next_tick_of_its_symbol() -> None:
    engine = MatchingEngine()
    engine.on_tick(SYM, 90.0, t(0))  # the last price before placement is not used
    o = order("1", "BUY", "MARKET", quantity=150)
    engine.add(o)
    assert o.status == "open"
    assert engine.on_tick(OTHER, 50.0, t(1)) == ([], [])
    changed, fills = engine.on_tick(SYM, 93.15, t(2))
    assert ids(changed) == ["1"]
    assert fills_of(fills) == [("1", 150, 93.15)]
    assert (o.status, o.filled_quantity, o.average_price, o.updated_at) == ("complete", 150, 93.15, t(2))


def test_fills_are_for_the_whole_quantity() -> None:
    o = order("1", "SELL", "SL-M", trigger=99.95, quantity=1800)
    engine = engine_with(o)
    _, fills = engine.on_tick(SYM, 99.0, t(1))
    assert fills_of(fills) == [("1", 1800, 99.0)]
    assert o.filled_quantity == 1800


# --- other symbols -------------------------------------------------------------------


def test_ticks_of_other_symbols_do_not_touch_an_order() -> None:
    stop = order("1", "SELL", "SL", price=96.95, trigger=99.95)
    limit = order("2", "BUY", "LIMIT", price=100.0)
    market = order("3", "SELL", "MARKET")
    engine = engine_with(stop, limit, market)
    for i, price in enumerate((50.0, 99.95, 100.0, 150.0)):
        assert engine.on_tick(OTHER, price, t(i)) == ([], [])
    assert [o.status for o in (stop, limit, market)] == ["trigger pending", "open", "open"]
    assert limit.resting is False  # it has not met a tick of its own symbol yet
    assert engine.last_price == {OTHER: 150.0}
    # and the first tick of its own symbol is still "the first tick" for the limit
    _, fills = engine.on_tick(SYM, 97.0, t(9))
    assert fills_of(fills) == [("1", 75, 97.0), ("2", 75, 97.0), ("3", 75, 97.0)]


def test_last_price_is_tracked_per_symbol() -> None:
    engine = MatchingEngine()
    engine.on_tick(SYM, 100.0, t(0))
    engine.on_tick(OTHER, 40.0, t(1))
    engine.on_tick(SYM, 101.5, t(2))
    assert engine.last_price == {SYM: 101.5, OTHER: 40.0}


# --- cancel --------------------------------------------------------------------------


def test_cancel_stops_matching() -> None:
    o = order("1", "SELL", "SL", price=96.95, trigger=99.95)
    keep = order("2", "SELL", "SL-M", trigger=99.95)
    engine = engine_with(o, keep)
    engine.cancel(o, t(3))
    assert (o.status, o.updated_at, o.working) == ("cancelled", t(3), False)
    changed, fills = engine.on_tick(SYM, 99.0, t(4))
    assert ids(changed) == ["2"]
    assert fills_of(fills) == [("2", 75, 99.0)]
    assert o.status == "cancelled"
    assert o.filled_quantity == 0
    assert set(engine.orders) == {"1", "2"}  # cancelled orders stay in the book


def test_cancel_a_triggered_resting_sl() -> None:
    o = order("1", "BUY", "SL", price=113.0, trigger=110.0)
    engine = engine_with(o)
    engine.on_tick(SYM, 120.0, t(1))
    assert o.status == "open"
    engine.cancel(o, t(2))
    assert engine.on_tick(SYM, 105.0, t(3)) == ([], [])
    assert o.status == "cancelled"


# --- fill_market_orders ------------------------------------------------------------


def test_fill_market_orders_fills_only_market_orders_at_the_last_price() -> None:
    engine = MatchingEngine()
    engine.on_tick(SYM, 101.0, t(0))
    engine.on_tick(OTHER, 44.5, t(1))
    m1 = order("m1", "BUY", "MARKET")
    m2 = order("m2", "SELL", "MARKET", symbol=OTHER, quantity=150)
    stop = order("s", "BUY", "SL", price=113.0, trigger=110.0)
    limit = order("l", "SELL", "LIMIT", price=120.0)
    for o in (m1, stop, m2, limit):
        engine.add(o)
    changed, fills = engine.fill_market_orders(t(60))
    assert sorted(ids(changed)) == ["m1", "m2"]
    assert sorted(fills_of(fills)) == [("m1", 75, 101.0), ("m2", 150, 44.5)]
    assert (m1.status, m1.average_price, m1.updated_at) == ("complete", 101.0, t(60))
    assert (m2.status, m2.average_price, m2.filled_quantity) == ("complete", 44.5, 150)
    assert (stop.status, limit.status) == ("trigger pending", "open")
    # filled market orders are no longer working
    assert engine.on_tick(SYM, 100.0, t(61)) == ([], [])


def test_fill_market_orders_skips_a_symbol_without_any_price() -> None:
    engine = MatchingEngine()
    m = order("m", "BUY", "MARKET")
    engine.add(m)
    assert engine.fill_market_orders(t(1)) == ([], [])
    assert m.status == "open"
    # it still fills on the symbol's first tick
    _, fills = engine.on_tick(SYM, 77.0, t(2))
    assert fills_of(fills) == [("m", 75, 77.0)]


def test_fill_market_orders_fills_several_orders_of_one_symbol_in_placement_order() -> None:
    engine = MatchingEngine()
    engine.on_tick(SYM, 50.0, t(0))
    a, b = order("z", "BUY", "MARKET"), order("a", "SELL", "MARKET")
    engine.add(a)
    engine.add(b)
    changed, fills = engine.fill_market_orders(t(1))
    assert ids(changed) == ["z", "a"]
    assert fills_of(fills) == [("z", 75, 50.0), ("a", 75, 50.0)]


# --- ordering of changes -------------------------------------------------------------


def test_changed_orders_come_in_placement_order_not_id_or_type_order() -> None:
    first = order("c", "BUY", "LIMIT", price=100.0)
    second = order("a", "SELL", "SL-M", trigger=99.0)
    third = order("b", "BUY", "MARKET")
    fourth = order("d", "SELL", "SL", price=90.0, trigger=99.0)
    engine = engine_with(first, second, third, fourth)
    changed, fills = engine.on_tick(SYM, 95.0, t(1))
    assert ids(changed) == ["c", "a", "b", "d"]
    assert fills_of(fills) == [("c", 75, 95.0), ("a", 75, 95.0), ("b", 75, 95.0), ("d", 75, 95.0)]


def test_trigger_without_fill_and_fills_share_one_placement_ordered_list() -> None:
    gap = order("x", "SELL", "SL", price=96.95, trigger=99.95)  # triggers, rests
    stopm = order("y", "SELL", "SL-M", trigger=99.95)  # fills
    untouched = order("z", "BUY", "SL", price=113.0, trigger=110.0)
    engine = engine_with(gap, stopm, untouched)
    changed, fills = engine.on_tick(SYM, 95.0, t(1))
    assert ids(changed) == ["x", "y"]
    assert fills_of(fills) == [("y", 75, 95.0)]
    assert [o.status for o in (gap, stopm, untouched)] == ["open", "complete", "trigger pending"]


# --- snapshot ------------------------------------------------------------------------


def test_snapshot_is_the_broker_view_of_the_order() -> None:
    o = order("1", "SELL", "SL", price=96.95, trigger=99.95, quantity=150)
    engine = engine_with(o)
    engine.on_tick(SYM, 99.0, t(7))
    snap = o.snapshot()
    assert snap == OrderSnapshot(
        orderid="1",
        symbol=SYM,
        action="SELL",
        quantity=150,
        pricetype="SL",
        price=96.95,
        trigger_price=99.95,
        status="complete",
        filled_quantity=150,
        average_price=99.0,
        timestamp=t(7),
    )


# --- the openalgo-sandbox fill model ------------------------------------------------------------


def sandbox(last: float | None = None) -> MatchingEngine:
    engine = MatchingEngine("openalgo-sandbox", tick_size=0.05)
    if last is not None:
        engine.on_tick(SYM, last, T0)
    return engine


def place(engine: MatchingEngine, o: SimOrder) -> list[tuple[str, int, float]]:
    engine.add(o)
    return fills_of(engine.fill_at_placement(o))


def test_an_unknown_fill_model_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown fill model 'ideal'"):
        MatchingEngine("ideal")  # type: ignore[arg-type]


def test_the_exchange_model_never_fills_at_placement() -> None:
    engine = engine_with()
    engine.on_tick(SYM, 100.0, T0)
    assert place(engine, order("m", "BUY", "MARKET")) == []


@pytest.mark.parametrize(("action", "price"), [("BUY", 100.05), ("SELL", 99.95)])
def test_sandbox_market_fills_at_once_at_the_ask_or_bid(action: str, price: float) -> None:
    assert place(sandbox(last=100.0), order("m", action, "MARKET")) == [("m", 75, price)]


def test_sandbox_market_without_a_last_price_fills_at_the_next_trade() -> None:
    engine = sandbox()
    assert place(engine, order("m", "BUY", "MARKET")) == []
    assert fills_of(engine.on_tick(SYM, 101.0, t(1))[1]) == [("m", 75, 101.0)]


def test_sandbox_limit_fills_at_the_last_price_when_marketable_at_placement_else_at_its_limit() -> None:
    engine = sandbox(last=100.0)
    assert place(engine, order("now", "BUY", "LIMIT", price=101.0)) == [("now", 75, 100.0)]
    assert place(engine, order("rest", "BUY", "LIMIT", price=99.0)) == []
    assert engine.on_tick(SYM, 99.5, t(1))[1] == []
    assert fills_of(engine.on_tick(SYM, 98.0, t(2))[1]) == [("rest", 75, 99.0)]


def test_sandbox_triggered_sl_fills_at_the_last_price_not_its_limit() -> None:
    engine = sandbox(last=100.0)
    assert place(engine, order("sl", "SELL", "SL", price=96.0, trigger=99.0)) == []
    assert fills_of(engine.on_tick(SYM, 98.5, t(1))[1]) == [("sl", 75, 98.5)]


def test_sandbox_sl_triggered_past_its_limit_rests_open_and_fills_when_trigger_and_limit_both_hold() -> None:
    engine = sandbox(last=100.0)
    o = order("sl", "SELL", "SL", price=96.0, trigger=99.0)
    place(engine, o)
    changed, fills = engine.on_tick(SYM, 95.0, t(1))  # triggered, below the limit: no fill
    assert (ids(changed), fills, o.status) == (["sl"], [], "open")
    assert engine.on_tick(SYM, 99.5, t(2))[1] == []  # above the trigger again: no fill (the exchange would)
    assert fills_of(engine.on_tick(SYM, 97.0, t(3))[1]) == [("sl", 75, 97.0)]


def test_sandbox_fills_a_buy_stop_already_crossed_at_once_at_the_last_price() -> None:
    engine = sandbox(last=100.0)  # each BUY stop below has its trigger 95 under the last price 100
    assert place(engine, order("slm", "BUY", "SL-M", trigger=95.0)) == [("slm", 75, 100.0)]
    assert place(engine, order("sl", "BUY", "SL", price=103.0, trigger=95.0)) == [("sl", 75, 100.0)]
    inverted = order("low", "BUY", "SL", price=98.0, trigger=95.0)  # triggered, but 100 is above its limit
    assert place(engine, inverted) == [] and inverted.status == "open"
