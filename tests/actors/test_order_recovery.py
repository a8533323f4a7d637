"""A (re)started OrderActor takes over what the journal and the broker say an earlier one left
(architecture.md, "Crash-only, concretely"): the same path after an actor crash and a restart."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from actors.names import FILTER, JOURNAL, PORTFOLIO, order_actor, symbol_actor
from actors.order import OrderActor
from broker.base import OrderRequest, OrderSnapshot
from broker.gateway import BrokerGateway
from broker.simulated import SimulatedBroker
from messages.market import GetSwingState, SwingState
from messages.orders import OrderFilled, OrderIntent, OrderSent, OrderUpdate, StartTrading
from messages.portfolio import EntryFilled, ExitFilled, OrderActorRecovered, PositionEvent, ReserveEntry
from messages.signals import CandidateDecided, EntryCandidate, EntryIntent, ResendBest
from messages.system import Halted
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


def best(**change) -> EntryCandidate:
    """The filter's best for the ENTRY order (swing 150.00 of the 09:20 bar, stop 158.02)."""
    return EntryCandidate(**{
        "symbol": X, "option_type": "CE", "swing_price": 150.0, "swing_bar_time": t(9, 20), "highest_high": 157.02,
        "sl_price": 158.02, "sl_points": 8.02, "lots": 10, "quantity": 650, "trigger_price": 149.95,
        "limit_price": 146.95, **change,
    })


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


def warm_up_start(rig: Rig, best: EntryCandidate | None) -> None:
    """A restart of the program: the actor starts in the warm-up, the recomputed pool publishes, trading starts."""
    rig.h.start(OrderActor, NAME, "CE", rig.gateway, False, rig.store)
    rig.h.quiet()
    rig.h.tell(NAME, EntryIntent(option_type="CE", candidate=best, time=rig.h.clock.now()))
    rig.h.quiet()
    rig.h.tell(NAME, StartTrading(time=rig.h.clock.now()))
    rig.h.quiet()


def test_a_working_entry_the_recomputed_pool_still_wants_is_kept(rig: Rig) -> None:
    """strategy.md §5 table: the same best, same trigger and quantity, keeps the entry (no cancel, no new one)."""
    rig.entry_id = rig.place(ENTRY)
    warm_up_start(rig, best())
    assert rig.sent("cancel", "entry") == [] and rig.sent("place", "entry") == []
    assert rig.sim.order_status(rig.entry_id).status == "trigger pending"
    rig.trade(149.90)  # it fills: protected with the candidate's stop
    [stop] = rig.sent("place", "stop")
    assert (stop.position_id, stop.quantity, stop.trigger_price) == (rig.entry_id, 650, 158.05)


def test_a_working_entry_the_recomputed_pool_no_longer_wants_is_cancelled(rig: Rig) -> None:
    rig.entry_id = rig.place(ENTRY)
    warm_up_start(rig, None)
    [cancel] = rig.sent("cancel", "entry")
    assert cancel.orderid == rig.entry_id
    assert rig.sim.order_status(rig.entry_id).status == "cancelled"
    assert rig.sent("place", "stop") == []


def test_a_working_entry_is_held_in_the_warm_up_and_its_reservation_reported(rig: Rig) -> None:
    rig.entry_id = rig.place(ENTRY)
    rig.h.start(OrderActor, NAME, "CE", rig.gateway, False, rig.store)
    rig.h.quiet()
    assert rig.sim.order_status(rig.entry_id).status == "trigger pending"
    [held] = rig.portfolio.of(OrderActorRecovered)
    assert (held.option_type, held.reservation_held) == ("CE", True)


def test_an_actor_restarted_alone_asks_the_filter_for_its_best_again(rig: Rig) -> None:
    """An intent the filter sent while the actor was dead is lost: the new one asks for it."""
    filter_probe = rig.h.probe(FILTER)
    rig.start()
    [ask] = filter_probe.of(ResendBest)
    assert ask.option_type == "CE"
    [none] = rig.portfolio.of(OrderActorRecovered)
    assert none.reservation_held is False  # a reservation the dead actor held is released


def test_on_a_halted_day_the_working_entry_is_cancelled_and_an_interrupted_flatten_goes_on(rig: Rig) -> None:
    """The crash came during the flatten of a -5R halt: the position still open is closed at MARKET."""
    rig.entry_id = rig.place(ENTRY)
    rig.trade(149.90)
    rig.filled(rig.entry_id, "entry", 650, 149.90)
    stop = rig.place(STOP)
    pe_entry = rig.place(ENTRY.model_copy(update={"symbol": X.replace("CE", "PE")}))  # not this actor's type
    rig.store.record(Halted(time=rig.h.clock.now(), reason="daily_stop_r (-5.10R)"))
    second = rig.place(ENTRY.model_copy(update={"trigger_price": 139.95, "price": 136.95}))
    rig.start()
    assert {c.orderid for c in rig.sent("cancel", "entry")} == {second}
    assert [c.orderid for c in rig.sent("cancel", "stop")] == [stop]
    [exit_] = rig.sent("place", "exit")
    assert (exit_.pricetype, exit_.quantity, exit_.position_id) == ("MARKET", 650, rig.entry_id)
    assert rig.sim.order_status(pe_entry).status == "trigger pending"


def test_a_stop_that_filled_while_nobody_watched_closes_the_position_with_its_price(rig: Rig) -> None:
    rig.entry_id = rig.place(ENTRY)
    rig.trade(149.90)
    rig.filled(rig.entry_id, "entry", 650, 149.90)
    stop = rig.place(STOP)
    rig.sim.set_listener(None)  # nobody hears the stop's fill
    rig.trade(158.10)
    rig.sim.set_listener(lambda snapshot: None)
    rig.start()
    [fill] = [f for f in rig.journal.of(OrderFilled) if f.orderid == stop]
    assert (fill.role, fill.quantity, fill.average_price) == ("stop", 650, 158.10)
    [gone] = rig.portfolio.of(ExitFilled)
    assert (gone.position_id, gone.quantity, gone.price, gone.reason) == (rig.entry_id, 650, 158.10, "stop")
    assert rig.sent("place", "stop") == [] and rig.sent("place", "exit") == []


def test_nothing_in_the_journal_changes_nothing(rig: Rig) -> None:
    rig.start()
    assert rig.journal.of(OrderSent) == [] and rig.portfolio.types() == ["OrderActorRecovered"]


def test_a_second_working_entry_or_stop_from_a_lost_attempt_is_cancelled(rig: Rig) -> None:
    """Settled at the restart as orders of ours (live/settle.py): one entry works, one stop per position."""
    rig.entry_id = rig.place(ENTRY)
    rig.trade(149.90)
    rig.filled(rig.entry_id, "entry", 650, 149.90)
    first = rig.place(STOP)
    second = rig.place(STOP)  # the lost attempt, late
    older = rig.place(ENTRY.model_copy(update={"trigger_price": 139.95, "price": 136.95}))
    newer = rig.place(ENTRY.model_copy(update={"trigger_price": 139.95, "price": 136.95}))
    rig.start()
    assert [c.orderid for c in rig.sent("cancel", "stop")] == [second]
    assert [c.orderid for c in rig.sent("cancel", "entry")] == [older]
    assert rig.sim.order_status(first).status == "trigger pending"
    assert rig.sim.order_status(newer).status == "trigger pending"


def test_a_pause_holds_across_a_restart(rig: Rig) -> None:
    rig.entry_id = rig.place(ENTRY)
    control = rig.store.issue_control("pause", "run.py pause", rig.h.clock.now())
    rig.store.control_done(control, rig.h.clock.now().date(), "applied", rig.h.clock.now())
    rig.start()
    [cancel] = rig.sent("cancel", "entry")
    assert cancel.orderid == rig.entry_id
    [recovered] = rig.portfolio.of(OrderActorRecovered)
    assert recovered.reservation_held is False
