"""OrderActor[CE]: intents, order updates and timers in; broker calls, journal events and
portfolio messages out (strategy.md §5), over a real SimulatedBroker behind a BrokerGateway."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest

from actors.names import JOURNAL, PORTFOLIO, order_actor, symbol_actor
from actors.order import OrderActor
from broker.base import OrderRejected, OrderRequest, OrderSnapshot, TransportError
from broker.gateway import BrokerGateway
from broker.simulated import SimulatedBroker
from messages.base import option_type_of
from messages.market import GetSwingState, SwingState, Tick
from messages.orders import (
    FlattenAll,
    Flattened,
    OrderFilled,
    OrderIntent,
    OrderSent,
    OrderUpdate,
    ReconcileSymbol,
)
from messages.portfolio import EntryFilled, ExitFilled, ReleaseEntry, ReserveEntry
from messages.signals import EntryCandidate, EntryIntent
from messages.system import Alert
from tests.actors.probe import Harness, Probe, t

X = "NIFTY17JUN2115500CE"
Y = "NIFTY17JUN2115600CE"
Z = "NIFTY17JUN2115700CE"
NAME = order_actor("CE")


class SpyBroker:
    """A SimulatedBroker with a log of every call; ``reject`` decides which placements it refuses."""

    def __init__(self, inner: SimulatedBroker) -> None:
        self.inner = inner
        self.calls: list[tuple[str, Any]] = []
        self.reject: Callable[[OrderRequest], bool] = lambda request: False
        #: cancels still to fail with a transport error (each gateway attempt counts one)
        self.failing_cancels = 0
        #: what orderstatus reports instead of the truth (a broker that changed an order)
        self.status_override: Callable[[OrderSnapshot], OrderSnapshot] = lambda snapshot: snapshot
        #: placements still to be lost: held back (a time-out) and placed only by :meth:`land`
        self.losing = 0
        self.held: list[OrderRequest] = []

    def land(self, count: int | None = None) -> list[str]:
        """The first ``count`` (all) placements held back reach the broker now, late; the others
        never do. Their orderids."""
        held, self.held = self.held[:count], []
        return [self.inner.place_order(request) for request in held]

    def place_order(self, request: OrderRequest) -> str:
        self.calls.append(("place", request))
        if self.reject(request):
            raise OrderRejected(f"test broker refuses {request.action} {request.pricetype}")
        if self.losing > 0:
            self.losing -= 1
            self.held.append(request)
            raise TransportError("test broker: read timed out")
        return self.inner.place_order(request)

    def modify_order(self, orderid: str, placed: OrderRequest, quantity: int, price: float, trigger_price: float) -> str:
        self.calls.append(("modify", orderid))
        return self.inner.modify_order(orderid, placed, quantity, price, trigger_price)

    def cancel_order(self, orderid: str) -> None:
        self.calls.append(("cancel", orderid))
        if self.failing_cancels > 0:
            self.failing_cancels -= 1
            raise TransportError("test broker: connection reset")
        self.inner.cancel_order(orderid)

    def order_status(self, orderid: str) -> OrderSnapshot:
        self.calls.append(("order_status", orderid))
        return self.status_override(self.inner.order_status(orderid))

    def order_book(self) -> list[OrderSnapshot]:
        self.calls.append(("order_book", None))
        return self.inner.order_book()

    def position_book(self) -> list:
        self.calls.append(("position_book", None))
        return self.inner.position_book()

    def ops(self) -> list[tuple[str, Any]]:
        """Place / modify / cancel calls only (what changes orders at the broker)."""
        return [c for c in self.calls if c[0] in ("place", "modify", "cancel")]


@dataclass
class Rig:
    h: Harness
    sim: SimulatedBroker
    broker: SpyBroker
    journal: Probe
    portfolio: Probe
    #: what each symbol's SymbolActor (a probe) answers to GetSwingState
    states: dict[str, SwingState]

    def symbol_state(
        self, symbol: str, last_price: float | None = None, swing: str = "unbroken", broken_at: datetime | None = None
    ) -> None:
        """Set the current state the symbol's SymbolActor reports."""
        self.states[symbol] = SwingState(
            symbol=symbol, last_price=last_price, last_time=self.h.clock.now() if last_price else None,
            swing=swing, broken_at=broken_at,
        )

    def intent(self, candidate: EntryCandidate | None) -> None:
        self.h.tell(NAME, EntryIntent(option_type="CE", candidate=candidate, time=self.h.clock.now()))

    def trade(self, symbol: str, price: float) -> None:
        """One trade at the simulated exchange; fills reach the actor through the broker's listener."""
        self.sim.on_tick(symbol, price, self.h.clock.now())
        self.h.quiet()

    def book(self, orderid: str) -> OrderSnapshot:
        return self.sim.order_status(orderid)

    def sent(self, op: str | None = None, role: str | None = None) -> list[OrderSent]:
        return [m for m in self.journal.of(OrderSent) if op in (None, m.op) and role in (None, m.role)]

    def update(self, orderid: str, status: str, quantity: int, filled: int, average: float) -> None:
        self.h.tell(
            NAME,
            OrderUpdate(
                orderid=orderid, symbol=self.book(orderid).symbol, status=status, quantity=quantity,
                filled_quantity=filled, average_price=average, time=self.h.clock.now(),
            ),
        )


@pytest.fixture
def rig(harness: Harness) -> Rig:
    h = harness
    h.advance(t(9, 30, 10))
    sim = SimulatedBroker(h.clock.now, h.settings.lot_size, h.settings.tick_size)
    spy = SpyBroker(sim)

    def route(snapshot: OrderSnapshot) -> None:  # as replay/driver.py does
        h.router.tell(
            order_actor(option_type_of(snapshot.symbol)),
            OrderUpdate(
                orderid=snapshot.orderid, symbol=snapshot.symbol, status=snapshot.status,
                quantity=snapshot.quantity, filled_quantity=snapshot.filled_quantity,
                average_price=snapshot.average_price, time=h.clock.now(),
            ),
        )

    sim.set_listener(route)
    gateway = BrokerGateway(
        spy, h.clock.now, attempts=h.settings.broker_retries, delay=0.0, orders_per_second=None,
        sleep=lambda _seconds: None,
    )
    journal = h.probe(JOURNAL, {OrderIntent: True})  # every intent committed
    portfolio = h.probe(PORTFOLIO, {ReserveEntry: True})
    states: dict[str, SwingState] = {}
    for symbol in (X, Y, Z):
        states[symbol] = SwingState(symbol=symbol, last_price=None, last_time=None, swing="unbroken")
        h.probe(symbol_actor(symbol), {GetSwingState: lambda _ask, symbol=symbol: states[symbol]})
    h.start(OrderActor, NAME, "CE", gateway)
    return Rig(h, sim, spy, journal, portfolio, states)


def candidate(
    symbol: str = X,
    swing: float = 150.0,
    trigger: float = 149.95,
    limit: float = 146.95,
    sl: float = 158.02,
    quantity: int = 650,
    bar: datetime = t(9, 20),
) -> EntryCandidate:
    """A best candidate as the filter makes it: trigger = swing - 0.05, limit = trigger - 3."""
    return EntryCandidate(
        symbol=symbol, option_type="CE", swing_price=swing, swing_bar_time=bar, highest_high=round(sl - 1, 2),
        sl_price=sl, sl_points=round(sl - swing, 2), lots=quantity // 65, quantity=quantity,
        trigger_price=trigger, limit_price=limit,
    )


def place_entry(rig: Rig, cand: EntryCandidate | None = None) -> str:
    rig.intent(cand or candidate())
    return rig.sent("place", "entry")[-1].orderid


def fill_entry(rig: Rig, price: float = 149.90) -> str:
    """Place the X entry and trade through its trigger; returns the entry's orderid."""
    entry = place_entry(rig)
    rig.trade(X, price)
    return entry


# --- the entry (strategy.md §5 table) ------------------------------------------------------


def test_intent_places_a_sell_stop_limit_entry_after_asking_for_room(rig: Rig) -> None:
    rig.intent(candidate())

    assert rig.portfolio.received == [ReserveEntry(option_type="CE", time=t(9, 30, 10))]
    [sent] = [m for m in rig.journal.received if not isinstance(m, OrderIntent)]
    assert isinstance(sent, OrderSent)
    assert (sent.op, sent.role, sent.symbol, sent.action, sent.pricetype) == ("place", "entry", X, "SELL", "SL")
    assert (sent.trigger_price, sent.price, sent.quantity, sent.time) == (149.95, 146.95, 650, t(9, 30, 10))
    order = rig.book(sent.orderid)
    assert (order.symbol, order.action, order.pricetype, order.status) == (X, "SELL", "SL", "trigger pending")
    assert (order.trigger_price, order.price, order.quantity) == (149.95, 146.95, 650)
    assert rig.h.sent(PORTFOLIO, JOURNAL)[0][1] == rig.portfolio.received[0], "room first, then the order"


def test_no_room_places_nothing_and_a_later_tick_retries(rig: Rig) -> None:
    rig.portfolio.replies[ReserveEntry] = False
    rig.intent(candidate())
    assert rig.portfolio.types() == ["ReserveEntry"]
    assert rig.broker.ops() == [] and rig.journal.received == []

    rig.portfolio.replies[ReserveEntry] = True
    rig.h.advance(t(9, 30, 11))
    rig.h.tell(NAME, Tick(symbol=X, time=t(9, 30, 11), ltp=152.0))
    assert rig.portfolio.types() == ["ReserveEntry", "ReserveEntry"]
    assert [(s.op, s.role, s.symbol) for s in rig.sent()] == [("place", "entry", X)]


def test_an_order_intent_is_committed_before_the_request_leaves_and_settled_after(rig: Rig) -> None:
    """architecture.md, crash-only: after a crash, an intent with no answer is an unknown outcome."""
    journaled_at_send: list[list[str]] = []
    rig.broker.reject = lambda request: journaled_at_send.append(
        [i.state for i in rig.journal.of(OrderIntent)]
    ) or False
    entry = place_entry(rig)
    assert journaled_at_send == [["sent"]]
    sent, placed = rig.journal.of(OrderIntent)
    assert (sent.intent_id, sent.role, sent.symbol, sent.quantity, sent.trigger_price) == (
        placed.intent_id, "entry", X, 650, 149.95,
    )
    assert (placed.state, placed.orderid) == ("placed", entry)
    # the intent was asked for (answered once committed), not just told
    assert any(isinstance(m, OrderIntent) for _, m in rig.h.sent(JOURNAL))


def test_an_entry_the_journal_does_not_confirm_is_not_sent(rig: Rig) -> None:
    rig.journal.replies[OrderIntent] = False
    rig.intent(candidate())
    assert rig.sent("place") == [] and rig.broker.ops() == []
    assert rig.portfolio.types() == ["ReserveEntry", "ReleaseEntry"]


def test_a_refused_placement_settles_its_intent_as_failed_a_time_out_leaves_it_unknown(rig: Rig) -> None:
    rig.broker.reject = lambda request: True
    rig.intent(candidate())
    assert [(i.state, i.orderid) for i in rig.journal.of(OrderIntent)] == [("sent", None), ("failed", None)]
    assert "refuses" in rig.journal.of(OrderIntent)[-1].error

    rig.journal.clear()
    rig.broker.reject = lambda request: False

    def time_out(request: OrderRequest) -> str:
        raise TransportError("read timed out")

    rig.broker.inner.place_order = time_out  # every attempt times out; the look-ups find nothing
    rig.intent(candidate(symbol=Y, swing=200.0, trigger=199.95, limit=196.95, sl=210.0, quantity=520))
    intents = rig.journal.of(OrderIntent)
    # the placement stays unknown; each of its lost attempts is journaled too (settled at a restart)
    assert [i.state for i in intents] == ["sent", "lost", "lost", "lost"]
    assert [i.intent_id for i in intents[1:]] == [f"{intents[0].intent_id}:lost{n}" for n in (1, 2, 3)]


def test_same_intent_again_keeps_the_order_without_a_broker_call(rig: Rig) -> None:
    place_entry(rig)
    calls, journaled = len(rig.broker.calls), len(rig.journal.received)
    rig.intent(candidate())
    assert len(rig.broker.calls) == calls
    assert len(rig.journal.received) == journaled
    assert rig.portfolio.types() == ["ReserveEntry"]


def test_new_quantity_or_trigger_modifies_the_entry(rig: Rig) -> None:
    entry = place_entry(rig)

    rig.intent(candidate(sl=161.0, quantity=585))
    modify = rig.sent("modify", "entry")
    assert [(m.orderid, m.trigger_price, m.price, m.quantity) for m in modify] == [(entry, 149.95, 146.95, 585)]
    assert rig.book(entry).quantity == 585

    rig.intent(candidate(swing=148.0, trigger=147.95, limit=144.95, sl=161.0, quantity=585))
    modify = rig.sent("modify", "entry")
    assert (modify[-1].trigger_price, modify[-1].price, modify[-1].quantity) == (147.95, 144.95, 585)
    assert (rig.book(entry).trigger_price, rig.book(entry).price) == (147.95, 144.95)
    assert [c[0] for c in rig.broker.ops()] == ["place", "modify", "modify"]
    assert rig.portfolio.types() == ["ReserveEntry"]


def test_intent_none_cancels_and_releases_the_room(rig: Rig) -> None:
    entry = place_entry(rig)
    rig.intent(None)
    [cancel] = rig.sent("cancel")
    assert (cancel.orderid, cancel.role) == (entry, "entry")
    assert rig.book(entry).status == "cancelled"
    assert rig.portfolio.types() == ["ReserveEntry", "ReleaseEntry"]
    assert rig.portfolio.received[-1].option_type == "CE"


def test_switch_to_another_symbol_waits_for_the_bar_close(rig: Rig) -> None:
    entry_x = place_entry(rig)
    ops = len(rig.broker.ops())

    rig.h.advance(t(9, 30, 20))
    rig.intent(candidate(symbol=Y, swing=200.0, trigger=199.95, limit=196.95, sl=210.0, quantity=520))
    assert len(rig.broker.ops()) == ops and len(rig.sent()) == 1

    rig.h.advance(t(9, 31, 1, 999_000))
    assert len(rig.broker.ops()) == ops

    rig.h.advance(t(9, 31, 2))  # SwitchDue: the next minute + 2 s grace
    assert [(s.op, s.symbol, s.orderid == entry_x) for s in rig.sent()] == [
        ("place", X, True), ("cancel", X, True), ("place", Y, False),
    ]
    y = rig.sent("place")[-1]
    assert (y.trigger_price, y.price, y.quantity, y.time) == (199.95, 196.95, 520, t(9, 31, 2))
    assert rig.book(entry_x).status == "cancelled"
    # the working entry moved from X to Y: the reservation is kept, never released and asked again
    assert rig.portfolio.types() == ["ReserveEntry"]


def test_switch_is_dropped_when_the_best_flips_back_before_the_bar_close(rig: Rig) -> None:
    place_entry(rig)
    rig.intent(candidate(symbol=Y, swing=200.0, trigger=199.95, limit=196.95, sl=210.0, quantity=520))
    rig.intent(candidate())
    rig.h.advance(t(9, 31, 2))
    assert [(s.op, s.symbol) for s in rig.sent()] == [("place", X)]


# --- fills and protective stops ---------------------------------------------------------------


def test_entry_fill_places_the_protective_stop_at_once_then_tells_the_portfolio(rig: Rig) -> None:
    entry = fill_entry(rig, 149.90)

    fill = rig.journal.of(OrderFilled)
    assert [(f.orderid, f.role, f.symbol, f.action, f.quantity, f.average_price) for f in fill] == [
        (entry, "entry", X, "SELL", 650, 149.90)
    ]
    [stop] = rig.sent("place", "stop")
    assert (stop.symbol, stop.action, stop.pricetype, stop.quantity, stop.position_id) == (X, "BUY", "SL", 650, entry)
    assert (stop.trigger_price, stop.price) == (158.05, 161.05)  # ceil-tick(158.02), trigger + 3
    assert rig.book(stop.orderid).status == "trigger pending"

    assert rig.portfolio.types() == ["ReserveEntry", "EntryFilled", "ReleaseEntry"]
    filled = rig.portfolio.of(EntryFilled)[0]
    assert (filled.position_id, filled.symbol, filled.option_type) == (entry, X, "CE")
    assert (filled.filled_quantity, filled.entry_price, filled.sl_price) == (650, 149.90, 158.02)

    order = [type(m).__name__ for _, m in rig.h.sent(JOURNAL, PORTFOLIO) if not isinstance(m, OrderIntent)]
    assert order[order.index("OrderFilled"):] == ["OrderFilled", "OrderSent", "EntryFilled", "ReleaseEntry"]

    rig.intent(candidate())  # the same swing low is never entered twice
    assert len(rig.sent("place", "entry")) == 1


def test_each_partial_fill_gets_its_own_stop(rig: Rig) -> None:
    entry = place_entry(rig)

    rig.update(entry, "open", 650, 195, 149.90)
    [stop1] = rig.sent("place", "stop")
    assert (stop1.quantity, stop1.trigger_price, stop1.price, stop1.position_id) == (195, 158.05, 161.05, entry)
    assert [(f.quantity, f.average_price) for f in rig.journal.of(OrderFilled)] == [(195, 149.90)]
    assert [(e.filled_quantity, e.entry_price) for e in rig.portfolio.of(EntryFilled)] == [(195, 149.90)]

    rig.update(entry, "open", 650, 390, 149.85)  # cumulative: the second 195 at 149.80
    stops = rig.sent("place", "stop")
    assert [s.quantity for s in stops] == [195, 195]
    assert [(f.quantity, f.average_price) for f in rig.journal.of(OrderFilled)] == [(195, 149.90), (195, 149.80)]
    assert [(e.filled_quantity, e.entry_price) for e in rig.portfolio.of(EntryFilled)] == [
        (195, 149.90), (390, 149.85),
    ]
    assert ReleaseEntry not in map(type, rig.portfolio.received)  # still working for the rest


def test_stop_refused_three_times_exits_at_market_with_a_critical_alert(rig: Rig) -> None:
    rig.broker.reject = lambda r: r.action == "BUY" and r.pricetype == "SL"
    entry = fill_entry(rig, 149.90)

    buys = [c[1] for c in rig.broker.calls if c[0] == "place" and c[1].action == "BUY"]
    assert [(r.pricetype, r.quantity) for r in buys] == [("SL", 650)] * 3 + [("MARKET", 650)]
    facts = [m for m in rig.journal.received if not isinstance(m, OrderIntent)]
    assert [type(m).__name__ for m in facts] == ["OrderSent", "OrderFilled", "Alert", "OrderSent"]
    [alert] = rig.journal.of(Alert)
    assert alert.level == "critical"
    exit_order = facts[-1]
    assert (exit_order.role, exit_order.action, exit_order.pricetype, exit_order.quantity) == ("exit", "BUY", "MARKET", 650)
    assert exit_order.position_id == entry
    assert rig.portfolio.of(EntryFilled)[0].filled_quantity == 650

    rig.trade(X, 151.0)
    [gone] = rig.portfolio.of(ExitFilled)
    assert (gone.position_id, gone.quantity, gone.price, gone.reason) == (entry, 650, 151.0, "stop_not_placed")


def test_stop_refused_twice_then_placed_needs_no_market_exit(rig: Rig) -> None:
    refused: list[OrderRequest] = []

    def refuse_two_stops(request: OrderRequest) -> bool:
        if request.action == "BUY" and len(refused) < 2:
            refused.append(request)
            return True
        return False

    rig.broker.reject = refuse_two_stops
    fill_entry(rig)
    assert len(refused) == 2
    assert len(rig.sent("place", "stop")) == 1
    assert rig.sent("place", "exit") == [] and rig.journal.of(Alert) == []


def test_stop_fill_reports_exit_filled_with_reason_stop(rig: Rig) -> None:
    entry = fill_entry(rig, 149.90)
    stop = rig.sent("place", "stop")[0].orderid

    rig.trade(X, 158.10)
    fills = rig.journal.of(OrderFilled)
    assert [(f.orderid, f.role, f.action, f.quantity, f.average_price, f.position_id) for f in fills[1:]] == [
        (stop, "stop", "BUY", 650, 158.10, entry)
    ]
    [gone] = rig.portfolio.of(ExitFilled)
    assert (gone.position_id, gone.symbol, gone.quantity, gone.price, gone.reason) == (entry, X, 650, 158.10, "stop")


def test_each_stop_is_checked_in_the_broker_book_after_it_is_placed(rig: Rig) -> None:
    fill_entry(rig, 149.90)
    stop = rig.sent("place", "stop")[0].orderid
    assert ("order_status", stop) in rig.broker.calls
    assert rig.sent("place", "exit") == [] and not rig.journal.of(Alert)


def test_a_stop_the_broker_did_not_keep_as_placed_closes_the_position_at_market(rig: Rig) -> None:
    """strategy.md §5 / issue 9: verify type, trigger and quantity; a stop we cannot trust protects nothing."""
    def halved(snapshot: OrderSnapshot) -> OrderSnapshot:
        if snapshot.action == "BUY" and snapshot.pricetype == "SL":
            return snapshot.model_copy(update={"quantity": snapshot.quantity // 2})
        return snapshot

    rig.broker.status_override = halved
    entry = fill_entry(rig, 149.90)
    stop = rig.sent("place", "stop")[0].orderid
    [cancel] = rig.sent("cancel")
    assert cancel.orderid == stop
    [exit_order] = rig.sent("place", "exit")
    assert (exit_order.pricetype, exit_order.quantity, exit_order.position_id) == ("MARKET", 650, entry)
    [alert] = [a for a in rig.journal.of(Alert) if a.level == "critical"]
    assert "not BUY SL x650" in alert.text


def test_a_rejected_stop_closes_the_position_at_market(rig: Rig) -> None:
    entry = fill_entry(rig, 149.90)
    stop = rig.sent("place", "stop")[0].orderid
    rig.update(stop, "rejected", 650, 0, 0.0)
    [exit_order] = rig.sent("place", "exit")
    assert (exit_order.pricetype, exit_order.quantity, exit_order.position_id) == ("MARKET", 650, entry)
    assert len(rig.sent("place", "stop")) == 1  # not replaced by another stop the broker may refuse again
    assert any(a.level == "critical" and "rejected" in a.text for a in rig.journal.of(Alert))


def test_late_fill_of_a_cancelled_entry_still_gets_a_stop(rig: Rig) -> None:
    entry = place_entry(rig)
    rig.intent(None)
    assert rig.book(entry).status == "cancelled"

    rig.update(entry, "complete", 650, 650, 149.90)  # it had filled before the cancel took
    [stop] = rig.sent("place", "stop")
    assert (stop.quantity, stop.trigger_price, stop.position_id) == (650, 158.05, entry)
    assert [(e.position_id, e.filled_quantity) for e in rig.portfolio.of(EntryFilled)] == [(entry, 650)]


# --- flatten ------------------------------------------------------------------------------------


def test_flatten_all_cancels_entry_and_stops_exits_at_market_and_ignores_later_intents(rig: Rig) -> None:
    position = fill_entry(rig, 149.90)
    stop = rig.sent("place", "stop")[0].orderid
    entry_y = place_entry(rig, candidate(symbol=Y, swing=200.0, trigger=199.95, limit=196.95, sl=210.0, quantity=520))
    rig.journal.clear()
    rig.portfolio.clear()

    rig.h.tell(NAME, FlattenAll(reason="force_exit", time=t(15, 15)))
    assert [(s.op, s.role, s.orderid) for s in rig.sent()[:2]] == [("cancel", "entry", entry_y), ("cancel", "stop", stop)]
    market = rig.sent()[2]
    assert (market.op, market.role, market.action, market.pricetype, market.quantity, market.position_id) == (
        "place", "exit", "BUY", "MARKET", 650, position,
    )
    assert len(rig.sent()) == 3
    assert (rig.book(entry_y).status, rig.book(stop).status) == ("cancelled", "cancelled")
    assert rig.portfolio.types() == ["ReleaseEntry", "Flattened"]
    assert rig.portfolio.received[-1] == Flattened(option_type="CE", time=t(9, 30, 10))

    ops = len(rig.broker.ops())
    rig.intent(candidate(symbol=Z, swing=180.0, trigger=179.95, limit=176.95, sl=190.0, quantity=585))
    assert len(rig.broker.ops()) == ops

    rig.trade(X, 150.5)
    [gone] = rig.portfolio.of(ExitFilled)
    assert (gone.position_id, gone.quantity, gone.price, gone.reason) == (position, 650, 150.5, "force_exit")


def test_fill_arriving_after_flatten_is_closed_at_market(rig: Rig) -> None:
    """§6: a halt closes every open position at MARKET. An entry whose cancel crossed its fill
    opens a position after the flatten; it must not be left open (only stopped) for the session."""
    entry = place_entry(rig)
    rig.h.tell(NAME, FlattenAll(reason="force_exit", time=t(15, 15)))
    assert rig.book(entry).status == "cancelled"

    rig.update(entry, "complete", 650, 650, 149.90)
    assert [(e.position_id, e.filled_quantity) for e in rig.portfolio.of(EntryFilled)] == [(entry, 650)]
    exits = rig.sent("place", "exit")
    assert [(e.pricetype, e.quantity, e.position_id) for e in exits] == [("MARKET", 650, entry)]


# --- reconciliation -----------------------------------------------------------------------------


def test_reconcile_with_nothing_at_the_broker_closes_the_position_here(rig: Rig) -> None:
    entry = fill_entry(rig, 149.90)
    stop = rig.sent("place", "stop")[0].orderid
    rig.h.tell(NAME, Tick(symbol=X, time=t(9, 30, 10), ltp=152.0))

    # a first sighting only refreshes the orders: the position stays
    rig.h.tell(NAME, ReconcileSymbol(symbol=X, broker_quantity=0, confirmed=False, time=t(9, 31)))
    assert rig.portfolio.of(ExitFilled) == [] and rig.sent("cancel") == []

    rig.h.tell(NAME, ReconcileSymbol(symbol=X, broker_quantity=0, confirmed=True, time=t(9, 32)))
    assert rig.journal.of(Alert)[-1].level == "critical"
    assert [(s.op, s.orderid) for s in rig.sent("cancel")] == [("cancel", stop)]
    [gone] = rig.portfolio.of(ExitFilled)
    assert (gone.position_id, gone.quantity, gone.price, gone.reason) == (entry, 650, 152.0, "reconciled")


def test_entry_is_decided_on_the_symbols_current_state_not_a_remembered_price(rig: Rig) -> None:
    """strategy.md §5: a price this actor saw minutes ago says nothing about the swing now."""
    rig.h.tell(NAME, Tick(symbol=X, time=t(9, 25), ltp=149.90))  # remembered from an earlier watch
    rig.symbol_state(X, last_price=151.0)  # the SymbolActor's latest trade: above the trigger
    rig.intent(candidate())
    [placed] = rig.sent("place", "entry")
    assert (placed.symbol, placed.trigger_price) == (X, 149.95)


def test_a_swing_low_that_has_broken_is_never_entered(rig: Rig) -> None:
    rig.symbol_state(X, last_price=149.90, swing="broken")
    rig.intent(candidate())
    assert rig.sent("place") == []
    assert rig.portfolio.types() == ["ReserveEntry", "ReleaseEntry"]  # the room is given back
    # the same swing is never tried again, whatever the price does
    rig.symbol_state(X, last_price=151.0, swing="broken")
    rig.intent(candidate(quantity=585))
    assert rig.sent("place") == []


def test_a_last_trade_through_the_trigger_of_an_unbroken_swing_only_waits(rig: Rig) -> None:
    """Off the tick grid a trade can be at or below the trigger and not below the low: not now,
    but the swing is not spent."""
    rig.symbol_state(X, last_price=149.93)
    rig.intent(candidate())
    assert rig.sent("place") == []
    rig.symbol_state(X, last_price=150.5)
    rig.h.advance(t(9, 30, 12))
    rig.h.tell(NAME, Tick(symbol=X, time=t(9, 30, 12), ltp=150.5))
    [placed] = rig.sent("place", "entry")
    assert placed.symbol == X


def test_no_answer_from_the_symbol_places_nothing_now(rig: Rig) -> None:
    rig.h.router.unregister(symbol_actor(X))
    rig.intent(candidate())
    assert rig.sent("place") == []
    assert rig.portfolio.types() == ["ReserveEntry", "ReleaseEntry"]


# --- a triggered entry (strategy.md §5: the break is the entry) ------------------------------


def trigger_unfilled(rig: Rig) -> str:
    """Place the X entry; a trade at 146.0 triggers it but is below its limit 146.95: it rests open."""
    entry = place_entry(rig)
    rig.trade(X, 146.0)
    rig.h.tell(NAME, Tick(symbol=X, time=rig.h.clock.now(), ltp=146.0))
    assert rig.book(entry).status == "open"
    return entry


def test_a_triggered_entry_is_not_cancelled_by_its_own_break(rig: Rig) -> None:
    entry = trigger_unfilled(rig)
    rig.intent(None)  # the trade broke the swing low: the candidate left the pool
    assert rig.sent("cancel") == []
    rig.h.advance(t(9, 30, 40))
    rig.trade(X, 147.10)  # the limit is reached within the bar: it fills
    [fill] = rig.journal.of(OrderFilled)
    assert (fill.orderid, fill.quantity, fill.average_price) == (entry, 650, 146.95)
    [stop] = rig.sent("place", "stop")
    assert (stop.symbol, stop.quantity, stop.trigger_price) == (X, 650, 158.05)


def test_a_triggered_entry_unfilled_at_its_bar_close_plus_grace_is_cancelled(rig: Rig) -> None:
    entry = trigger_unfilled(rig)  # triggered at 09:30:10
    rig.intent(None)
    rig.h.advance(t(9, 31, 1, 999_000))
    assert rig.sent("cancel") == [] and rig.book(entry).status == "open"
    rig.h.advance(t(9, 31, 2))
    [cancel] = rig.sent("cancel")
    assert (cancel.orderid, cancel.time) == (entry, t(9, 31, 2))
    assert rig.book(entry).status == "cancelled"
    assert rig.portfolio.types() == ["ReserveEntry", "ReleaseEntry"]


def test_a_break_the_actor_has_not_seen_yet_still_makes_the_entry_rest(rig: Rig) -> None:
    """Live, the filter's new best can overtake the trade on its way to this actor: before it
    cancels, the actor asks the SymbolActor whether the entry's swing low has broken."""
    entry = place_entry(rig)
    rig.sim.set_listener(None)  # no order update either
    rig.trade(X, 146.0)  # triggered at the exchange, resting below its limit
    rig.symbol_state(X, last_price=146.0, swing="broken", broken_at=t(9, 30, 10))
    rig.intent(None)
    assert rig.sent("cancel") == []
    rig.h.advance(t(9, 31, 2))
    [cancel] = rig.sent("cancel")
    assert cancel.orderid == entry


def test_a_triggered_entry_whose_cancel_fails_is_cancelled_again_later(rig: Rig) -> None:
    """It must never rest all day, nor leave its option type blocked."""
    entry = trigger_unfilled(rig)
    rig.intent(None)
    rig.broker.failing_cancels = rig.h.settings.broker_retries  # every attempt of the first cancel fails
    rig.h.advance(t(9, 31, 2))
    assert rig.sent("cancel") == [] and rig.book(entry).status == "open"
    assert any(isinstance(a, Alert) and "cancel" in a.text for a in rig.journal.received)
    rig.h.advance(t(9, 31, 7))  # ORDER_POLL_SECONDS later
    [cancel] = rig.sent("cancel")
    assert (cancel.orderid, cancel.time) == (entry, t(9, 31, 7))
    assert rig.book(entry).status == "cancelled"
    assert rig.portfolio.types() == ["ReserveEntry", "ReleaseEntry"]
    rig.intent(candidate(symbol=Y, swing=200.0, trigger=199.95, limit=196.95, sl=210.0, quantity=520))
    assert [(s.op, s.symbol) for s in rig.sent()][-1] == ("place", Y)


def test_a_swing_the_symbol_does_not_know_is_not_entered_now_but_not_spent(rig: Rig) -> None:
    """A restarted SymbolActor starts empty: "unknown" is not "broken"."""
    rig.symbol_state(X, last_price=151.0, swing="unknown")
    rig.intent(candidate())
    assert rig.sent("place") == []
    rig.symbol_state(X, last_price=151.0)
    rig.h.advance(t(9, 30, 12))
    rig.h.tell(NAME, Tick(symbol=X, time=t(9, 30, 12), ltp=151.0))
    assert [s.symbol for s in rig.sent("place", "entry")] == [X]


def test_no_second_entry_in_a_symbol_with_an_open_position(rig: Rig) -> None:
    """One position per symbol (strategy.md §4): the filter skips it, and so does this actor
    while the filter has not yet heard of the position."""
    fill_entry(rig)
    rig.intent(candidate(swing=140.0, trigger=139.95, limit=136.95, sl=148.0, bar=t(9, 40)))
    assert [s.symbol for s in rig.sent("place", "entry")] == [X]


def test_a_triggered_entry_is_neither_modified_nor_switched(rig: Rig) -> None:
    entry = trigger_unfilled(rig)
    rig.intent(candidate(quantity=585))  # other quantity: would be a modify
    rig.intent(candidate(symbol=Y, swing=200.0, trigger=199.95, limit=196.95, sl=210.0, quantity=520))
    rig.h.advance(t(9, 31, 1))  # past the switch's bar close (09:31:02 is the cancel, below)
    assert [(c[0], c[1] if c[0] != "place" else c[1].symbol) for c in rig.broker.ops()] == [("place", X)]
    rig.h.advance(t(9, 31, 2))
    # the rest is cancelled at the bar close; then the type may place its best again
    assert [(s.op, s.symbol) for s in rig.sent()] == [("place", X), ("cancel", X), ("place", Y)]
    assert rig.book(entry).status == "cancelled"


def test_a_stop_fill_found_by_the_crossing_check_closes_the_position(rig: Rig) -> None:
    """The stop filled but its update was lost: the tick through the trigger finds the fill
    (orderstatus) and closes the position while the tick is being handled."""
    entry = fill_entry(rig, 149.90)
    rig.sim.set_listener(None)  # the update of the stop's fill never arrives
    rig.trade(X, 158.10)
    assert rig.portfolio.of(ExitFilled) == []
    rig.h.tell(NAME, Tick(symbol=X, time=t(9, 31), ltp=158.10))
    [gone] = rig.portfolio.of(ExitFilled)
    assert (gone.position_id, gone.reason, gone.price) == (entry, "stop", 158.10)
    assert rig.h.router.ref(NAME).is_alive()


# --- a placement thought lost that reaches the broker later (under load) -----------------------


def poll(rig: Rig) -> None:
    """Time for the order-book poll."""
    rig.h.advance(rig.h.clock.now() + timedelta(seconds=rig.h.settings.order_poll_seconds))
    rig.h.quiet()


def test_a_doubled_stop_that_lands_after_its_retry_is_found_and_cancelled(rig: Rig) -> None:
    """The issue's "lost track of its own order": the lost attempt lands after the gateway's look-up
    and its retry; nobody tracked it. Now the next poll takes it over, and it is one stop too many."""
    entry = place_entry(rig)
    rig.broker.losing = 1  # the stop's first attempt
    rig.trade(X, 149.90)
    [stop] = rig.sent("place", "stop")
    [late] = rig.broker.land()
    assert late != stop.orderid
    poll(rig)
    assert rig.book(late).status == "cancelled" and rig.book(stop.orderid).status == "trigger pending"
    assert [m.orderid for m in rig.sent("place", "stop")] == [stop.orderid, late]  # journaled: ours
    assert any("thought lost" in a.text for a in rig.journal.of(Alert))
    rig.trade(X, 158.10)  # the stop fills once: one exit
    [gone] = rig.portfolio.of(ExitFilled)
    assert (gone.position_id, gone.quantity) == (entry, 650)


def test_an_entry_given_up_as_lost_that_lands_and_fills_is_protected_then_nothing_more(rig: Rig) -> None:
    rig.broker.losing = rig.h.settings.broker_retries  # every attempt lost: the entry is not placed
    rig.intent(candidate())
    assert rig.sent("place", "entry") == []
    [late] = rig.broker.land(1)
    rig.trade(X, 149.90)  # it fills before anyone knows of it
    poll(rig)
    [stop] = rig.sent("place", "stop")
    assert (stop.position_id, stop.quantity, stop.trigger_price) == (late, 650, 158.05)  # its own candidate's stop
    [filled] = rig.portfolio.of(EntryFilled)
    assert (filled.position_id, filled.filled_quantity) == (late, 650)


def test_an_entry_given_up_as_lost_that_lands_unfilled_is_cancelled(rig: Rig) -> None:
    rig.broker.losing = rig.h.settings.broker_retries
    rig.intent(candidate())
    [late] = rig.broker.land(1)
    poll(rig)
    assert rig.book(late).status == "cancelled"
    assert rig.sent("place", "stop") == []


def test_a_doubled_stop_already_over_at_the_broker_only_brings_its_fills(rig: Rig) -> None:
    """Cancelled at the broker before anyone knew of it: it must not be "replaced" by a second stop."""
    place_entry(rig)
    rig.broker.losing = 1
    rig.trade(X, 149.90)
    [stop] = rig.sent("place", "stop")
    [late] = rig.broker.land()
    rig.sim.cancel_order(late)
    poll(rig)
    assert [m.orderid for m in rig.sent("place", "stop")] == [stop.orderid, late]  # taken over, nothing placed
    assert rig.sent("place", "exit") == []
    assert rig.book(stop.orderid).status == "trigger pending"


def test_a_position_closed_by_its_stop_cancels_its_working_exit(rig: Rig) -> None:
    """The stop filled although its cancel had gone through (a flatten): the MARKET exit still working must
    not buy again (the account would be long)."""
    entry = fill_entry(rig)
    [stop] = rig.sent("place", "stop")
    rig.h.tell(NAME, FlattenAll(reason="daily_stop_r", time=rig.h.clock.now()))
    rig.h.quiet()
    [exit_] = rig.sent("place", "exit")
    rig.h.tell(NAME, OrderUpdate(orderid=stop.orderid, symbol=X, status="complete", quantity=650,
                                 filled_quantity=650, average_price=158.1, time=rig.h.clock.now()))
    rig.h.quiet()
    [gone] = rig.portfolio.of(ExitFilled)
    assert (gone.position_id, gone.orderid, gone.order_filled, gone.reason) == (entry, stop.orderid, 650, "stop")
    assert rig.book(exit_.orderid).status == "cancelled"
