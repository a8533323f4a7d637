"""A (re)started OrderActor takes over what the journal and the broker say an earlier one left
(architecture.md, "Crash-only, concretely"): the same path after an actor crash and a restart."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from actors.names import JOURNAL, PORTFOLIO, order_actor, symbol_actor
from actors.order import OrderActor
from broker.base import OrderRequest, OrderSnapshot
from broker.gateway import BrokerGateway
from broker.simulated import SimulatedBroker
from messages.market import GetSwingState, SwingState
from messages.orders import OrderFilled, OrderIntent, OrderSent, OrderUpdate
from messages.portfolio import EntryFilled, ExitFilled, PositionEvent, ReserveEntry
from messages.signals import CandidateDecided
from persistence.journal_store import JournalStore
from tests.actors.probe import Harness, Probe, t

X = "NIFTY17JUN2115500CE"
NAME = order_actor("CE")


@dataclass
class Rig:
    h: Harness
    sim: SimulatedBroker
    gateway: BrokerGateway
    store: JournalStore
    journal: Probe
    portfolio: Probe

    def place(self, request: OrderRequest) -> str:
        """An order the earlier actor placed, at the broker and in the journal."""
        orderid = self.sim.place_order(request)
        role = "entry" if request.action == "SELL" else ("stop" if request.pricetype == "SL" else "exit")
        self.store.record(OrderSent(
            time=self.h.clock.now(), op="place", role=role, orderid=orderid, symbol=request.symbol,
            action=request.action, pricetype=request.pricetype, trigger_price=request.trigger_price,
            price=request.price, quantity=request.quantity, position_id=None if role == "entry" else self.entry_id,
        ))
        return orderid

    def filled(self, orderid: str, role: str, quantity: int, price: float) -> None:
        """The earlier actor journaled this fill (and, for an entry, the position)."""
        self.store.record(OrderFilled(
            time=self.h.clock.now(), orderid=orderid, role=role, symbol=X, action="SELL" if role == "entry" else "BUY",
            quantity=quantity, average_price=price, position_id=orderid if role == "entry" else self.entry_id,
        ))
        if role == "entry":
            self.store.record(PositionEvent(
                time=self.h.clock.now(), state="open", position_id=orderid, symbol=X, option_type="CE",
                quantity=quantity, entry_price=price, sl_price=158.02,
            ))

    def trade(self, price: float) -> None:
        self.sim.on_tick(X, price, self.h.clock.now())
        self.h.quiet()

    def start(self) -> None:
        """The new OrderActor, reading the journal at start."""
        self.h.start(OrderActor, NAME, "CE", self.gateway, True, self.store)
        self.h.quiet()

    def sent(self, op: str, role: str) -> list[OrderSent]:
        return [m for m in self.journal.of(OrderSent) if m.op == op and m.role == role]

    entry_id: str = ""


ENTRY = OrderRequest(symbol=X, action="SELL", quantity=650, pricetype="SL", price=146.95, trigger_price=149.95,
                     exchange="NFO", product="MIS")
STOP = OrderRequest(symbol=X, action="BUY", quantity=650, pricetype="SL", price=161.05, trigger_price=158.05,
                    exchange="NFO", product="MIS")


@pytest.fixture
def rig(harness: Harness, tmp_path) -> Rig:
    h = harness
    h.advance(t(9, 30, 10))
    sim = SimulatedBroker(h.clock.now, h.settings.lot_size, h.settings.tick_size)

    def route(snapshot: OrderSnapshot) -> None:
        h.router.tell(NAME, OrderUpdate(
            orderid=snapshot.orderid, symbol=snapshot.symbol, status=snapshot.status, quantity=snapshot.quantity,
            filled_quantity=snapshot.filled_quantity, average_price=snapshot.average_price, time=h.clock.now(),
        ))

    sim.set_listener(route)
    gateway = BrokerGateway(sim, h.clock.now, delay=0.0, orders_per_second=None, sleep=lambda _s: None)
    store = JournalStore(tmp_path / "journal.db")
    journal = h.probe(JOURNAL, {OrderIntent: True})
    portfolio = h.probe(PORTFOLIO, {ReserveEntry: True})
    h.probe(symbol_actor(X), {GetSwingState: SwingState(symbol=X, last_price=None, last_time=None, swing="unbroken")})
    yield Rig(h, sim, gateway, store, journal, portfolio)
    store.close()


def test_a_position_with_its_stop_is_taken_over_without_a_second_stop(rig: Rig) -> None:
    rig.entry_id = rig.place(ENTRY)
    rig.trade(149.90)  # the entry filled (the earlier actor saw it)
    rig.filled(rig.entry_id, "entry", 650, 149.90)
    stop = rig.place(STOP)
    rig.start()
    assert rig.sent("place", "stop") == [] and rig.sent("place", "exit") == []
    rig.trade(158.10)  # the stop fills: the new actor reports it
    [gone] = rig.portfolio.of(ExitFilled)
    assert (gone.position_id, gone.quantity, gone.price, gone.reason) == (rig.entry_id, 650, 158.10, "stop")
    assert rig.sim.order_status(stop).status == "complete"


def test_a_position_left_without_its_stop_gets_one_at_once(rig: Rig) -> None:
    """The crash came after the entry's fill and before its stop."""
    rig.entry_id = rig.place(ENTRY)
    rig.trade(149.90)
    rig.filled(rig.entry_id, "entry", 650, 149.90)
    rig.start()
    [stop] = rig.sent("place", "stop")
    assert (stop.symbol, stop.quantity, stop.trigger_price, stop.position_id) == (X, 650, 158.05, rig.entry_id)


def test_an_entry_that_filled_while_nobody_watched_is_protected_and_reported(rig: Rig) -> None:
    rig.store.record(CandidateDecided(time=t(9, 30), symbol=X, option_type="CE", decision="best", price=150.0,
                                      sl_price=158.02, quantity=650))
    rig.entry_id = rig.place(ENTRY)
    rig.sim.set_listener(None)  # nobody hears the fill
    rig.trade(149.90)
    rig.sim.set_listener(lambda snapshot: None)
    rig.start()
    [fill] = rig.journal.of(OrderFilled)
    assert (fill.orderid, fill.quantity, fill.average_price) == (rig.entry_id, 650, 149.90)
    [stop] = rig.sent("place", "stop")
    assert (stop.quantity, stop.trigger_price) == (650, 158.05)  # the stop of the filter's last best
    [filled] = rig.portfolio.of(EntryFilled)
    assert (filled.position_id, filled.filled_quantity, filled.sl_price) == (rig.entry_id, 650, 158.02)


def test_an_entry_still_working_is_cancelled(rig: Rig) -> None:
    """The filter publishes its best again after the warm-up; the entry is placed anew if it still is."""
    rig.entry_id = rig.place(ENTRY)
    rig.start()
    [cancel] = rig.sent("cancel", "entry")
    assert cancel.orderid == rig.entry_id
    assert rig.sim.order_status(rig.entry_id).status == "cancelled"
    assert rig.sent("place", "stop") == []


def test_nothing_in_the_journal_changes_nothing(rig: Rig) -> None:
    rig.start()
    assert rig.journal.of(OrderSent) == [] and rig.portfolio.received == []
