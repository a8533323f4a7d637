"""A restart the same day: the graph starts with what the journal holds of the day (strategy.md §6)."""

from __future__ import annotations

from actors.base import InFlight, Router
from actors.clock import SteppedClock
from actors.names import PORTFOLIO
from actors.supervisor import Graph
from broker.gateway import BrokerGateway
from broker.simulated import SimulatedBroker
from config.settings import Settings
from messages.portfolio import GetTrades, PositionEvent
from persistence.event_log import EventLog
from persistence.journal_store import JournalStore
from tests.actors.probe import QUIET, t

CE = "NIFTY17JUN2115600CE"
PE = "NIFTY17JUN2115600PE"


def test_the_days_positions_closed_and_open_are_taken_over_from_the_journal(tmp_path) -> None:
    settings = Settings(_env_file=None, lot_size=75)
    base = dict(option_type="CE", quantity=750, entry_price=150.0, sl_price=158.0)
    with JournalStore(tmp_path / "journal.db") as store:  # the first run of the day
        store.record(PositionEvent(time=t(9, 31), state="open", position_id="E1", symbol=CE, **base))
        store.record(PositionEvent(
            time=t(9, 50), state="closed", position_id="E1", symbol=CE, exit_price=158.05, pnl=-6037.5, r=-1.0063,
            reason="stop", **base,
        ))
        store.record(PositionEvent(time=t(10, 2), state="open", position_id="E2", symbol=PE, **{**base, "option_type": "PE"}))

    inflight = InFlight()
    router = Router(inflight)
    clock = SteppedClock(router, inflight, t(11, 0), QUIET)
    gateway = BrokerGateway(SimulatedBroker(clock.now, 75, 0.05), clock.now, delay=0.0, orders_per_second=None)
    with JournalStore(tmp_path / "journal.db") as store, EventLog(None) as events:  # the restart
        graph = Graph(settings, clock, router, gateway, store, events, [CE, PE], fail_fast=True)
        graph.start(clock.now())
        try:
            inflight.wait_quiet(QUIET)
            trades = router.ask(PORTFOLIO, GetTrades(), timeout=QUIET)
        finally:
            graph.stop()
        assert [(tr.position_id, tr.reason, round(tr.r, 2)) for tr in trades] == [("E1", "stop", -1.01), ("E2", "open", 0.0)]


def test_the_filter_hears_the_open_symbols_the_portfolio_recovers(tmp_path) -> None:
    """Started before the PortfolioActor, the FilterSupervisor gets its OpenSymbols (one position per
    symbol across a restart). Started after it, whether it was there in time was a race: a live start
    logged "no actor 'filter'; dropped OpenSymbols" twice, and the filter could pick a held symbol."""
    from loguru import logger

    from actors.names import FILTER, order_actor

    settings = Settings(_env_file=None, lot_size=75)
    base = dict(option_type="PE", quantity=750, entry_price=150.0, sl_price=158.0)
    with JournalStore(tmp_path / "journal.db") as store:
        store.record(PositionEvent(time=t(10, 2), state="open", position_id="E2", symbol=PE, **base))
    inflight = InFlight()
    router = Router(inflight)
    clock = SteppedClock(router, inflight, t(11, 0), QUIET)
    gateway = BrokerGateway(SimulatedBroker(clock.now, 75, 0.05), clock.now, delay=0.0, orders_per_second=None)
    dropped: list[str] = []
    sink = logger.add(lambda m: dropped.append(str(m)), level="WARNING", filter=lambda r: "dropped" in r["message"])
    try:
        with JournalStore(tmp_path / "journal.db") as store, EventLog(None) as events:
            graph = Graph(settings, clock, router, gateway, store, events, [CE, PE], fail_fast=True)
            order = list(graph.specs)
            assert order.index(FILTER) < min(order.index(PORTFOLIO), order.index(order_actor("CE")), order.index(order_actor("PE")))
            graph.start(clock.now())
            try:
                inflight.wait_quiet(QUIET)
                filter_ref = router.ref(FILTER)
                open_symbols = filter_ref.proxy().open_symbols.get(timeout=QUIET)
            finally:
                graph.stop()
    finally:
        logger.remove(sink)
    assert open_symbols == frozenset({PE})
    assert dropped == []
