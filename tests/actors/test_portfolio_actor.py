"""PortfolioActor: limits, positions, R, the ±5R halt, 15:15, reconciliation, the day's summary (strategy.md §6)."""

from __future__ import annotations

from datetime import datetime

import pytest
from loguru import logger

from actors.names import FILTER, JOURNAL, PORTFOLIO, order_actor
from actors.portfolio import PortfolioActor
from broker.base import PositionRow
from broker.gateway import BrokerGateway
from messages.market import Tick
from messages.orders import FlattenAll, Flattened, OrderFilled, OrderSent, ReconcileSymbol, StartTrading, StopEntries
from messages.portfolio import (
    EntryFilled,
    EntryReservation,
    ExitFilled,
    ForceExitDue,
    GetTrades,
    OpenSymbols,
    OrderActorRecovered,
    PauseEntries,
    PositionEvent,
    ReconcileDue,
    ReleaseEntry,
    ReportReservation,
    ReserveEntry,
    SessionEndDue,
    SessionSummary,
    StatusDue,
)
from messages.signals import CandidateDecided
from messages.system import Alert, Halt, Halted
from persistence.journal_store import JournalStore
from tests.actors.probe import DAY, Harness, Probe, t

X = "NIFTY17JUN2115500CE"
X2 = "NIFTY17JUN2115600CE"
X3 = "NIFTY17JUN2115700CE"
P = "NIFTY17JUN2115500PE"
P2 = "NIFTY17JUN2115400PE"
CE_ORDERS, PE_ORDERS = order_actor("CE"), order_actor("PE")


class BookBroker:
    """Only what the portfolio calls: the position book, programmable."""

    def __init__(self) -> None:
        self.rows: list[PositionRow] = []
        self.calls = 0

    def position_book(self) -> list[PositionRow]:
        self.calls += 1
        return list(self.rows)


class Rig:
    def __init__(self, h: Harness, halted_reason: str = "", journal: JournalStore | None = None) -> None:
        self.h = h
        self.book = BookBroker()
        gateway = BrokerGateway(self.book, h.clock.now, delay=0.0, orders_per_second=None, sleep=lambda _s: None)
        self.journal: Probe = h.probe(JOURNAL)
        self.ce: Probe = h.probe(CE_ORDERS)
        self.pe: Probe = h.probe(PE_ORDERS)
        self.filter: Probe = h.probe(FILTER)
        h.start(PortfolioActor, PORTFOLIO, gateway, halted_reason, journal)

    def reserve(self, option_type: str) -> bool:
        return self.h.ask(PORTFOLIO, ReserveEntry(option_type=option_type, time=self.h.clock.now()))

    def release(self, option_type: str) -> None:
        self.h.tell(PORTFOLIO, ReleaseEntry(option_type=option_type, time=self.h.clock.now()))

    def open(self, pid: str, symbol: str = X, qty: int = 650, entry: float = 150.0, sl: float = 158.0,
             at: datetime = t(9, 31)) -> None:
        self.h.tell(PORTFOLIO, EntryFilled(
            position_id=pid, symbol=symbol, option_type=symbol[-2:], filled_quantity=qty, entry_price=entry,
            sl_price=sl, time=at,
        ))

    def close(self, pid: str, price: float, symbol: str = X, qty: int = 650, reason: str = "stop",
              at: datetime = t(9, 45)) -> None:
        self.h.tell(PORTFOLIO, ExitFilled(position_id=pid, symbol=symbol, quantity=qty, price=price, reason=reason,
                                          time=at))

    def tick(self, symbol: str, price: float, at: datetime = t(9, 40)) -> None:
        self.h.tell(PORTFOLIO, Tick(symbol=symbol, time=at, ltp=price))


@pytest.fixture
def rig(harness: Harness) -> Rig:
    return Rig(harness)


def position(state: str, pid: str = "E1", symbol: str = X, at: datetime = t(9, 31), **fields) -> PositionEvent:
    base = dict(quantity=650, entry_price=150.0, sl_price=158.0)
    base.update(fields)
    return PositionEvent(time=at, state=state, position_id=pid, symbol=symbol, option_type=symbol[-2:], **base)


# --- limits -----------------------------------------------------------------------------------


def test_one_working_entry_per_option_type(rig: Rig) -> None:
    assert rig.reserve("CE") is True
    assert rig.reserve("CE") is False
    assert rig.reserve("PE") is True
    rig.release("CE")
    assert rig.reserve("CE") is True


def test_at_most_three_ce_positions(rig: Rig) -> None:
    rig.open("E1", X)
    rig.open("E2", X2)
    assert rig.reserve("CE") is True  # 2 open + this working entry = 3
    rig.release("CE")
    rig.open("E3", X3)
    assert rig.reserve("CE") is False  # 3 open
    assert rig.reserve("PE") is True
    rig.close("E2", 146.0, symbol=X2)
    assert rig.reserve("CE") is True


def test_at_most_five_positions_counting_working_entries(rig: Rig) -> None:
    for pid, symbol in (("E1", X), ("E2", X2), ("E3", P), ("E4", P2)):
        rig.open(pid, symbol)
    assert rig.reserve("CE") is True  # 4 open + 1 working = 5
    assert rig.reserve("PE") is False  # would be 6
    rig.release("CE")
    assert rig.reserve("PE") is True


def test_five_open_positions_refuse_a_type_below_its_own_limit(rig: Rig) -> None:
    for pid, symbol in (("E1", X), ("E2", X2), ("E3", X3), ("E4", P), ("E5", P2)):
        rig.open(pid, symbol)
    assert rig.reserve("PE") is False  # PE 2 + 1 <= 3, but 5 + 1 > 5


# --- positions, pnl and R --------------------------------------------------------------------


def test_entry_and_exit_fills_journal_positions_with_pnl_and_r(rig: Rig) -> None:
    rig.open("E1", X, at=t(9, 31))
    assert rig.journal.received == [position("open")]

    rig.close("E1", 146.0, reason="stop", at=t(9, 45))
    # pnl = (150 - 146) * 650 = 2600; risk = (158 - 150) * 650 = 5200; R = 0.5
    assert rig.journal.received[-1] == position(
        "closed", at=t(9, 45), exit_price=146.0, pnl=2600.0, r=0.5, reason="stop"
    )

    rig.open("E2", X2, at=t(10, 0))
    rig.close("E2", 158.0, symbol=X2, reason="stop", at=t(10, 5))
    assert rig.journal.received[-1] == position(
        "closed", "E2", X2, at=t(10, 5), exit_price=158.0, pnl=-5200.0, r=-1.0, reason="stop"
    )


def test_partial_exits_close_once_at_the_average_exit_price(rig: Rig) -> None:
    rig.open("E1", X)
    rig.close("E1", 146.0, qty=325, at=t(9, 45))
    assert rig.journal.types() == ["PositionEvent"]
    rig.close("E1", 150.0, qty=325, reason="force_exit", at=t(9, 50))
    # (150 - 146) * 325 + 0 = 1300 on a risk of 5200
    assert rig.journal.received[-1] == position(
        "closed", at=t(9, 50), exit_price=148.0, pnl=1300.0, r=0.25, reason="force_exit"
    )


def test_growing_entry_fill_journals_the_new_quantity_and_average(rig: Rig) -> None:
    rig.open("E1", X, qty=195, entry=149.90, at=t(9, 31))
    rig.open("E1", X, qty=390, entry=149.85, at=t(9, 32))
    assert rig.journal.received == [
        position("open", quantity=195, entry_price=149.90),
        position("open", at=t(9, 32), quantity=390, entry_price=149.85),
    ]


def test_ticks_move_the_unrealized_r(rig: Rig) -> None:
    rig.open("E1", X)
    rig.tick(X, 146.0)
    rig.tick(X2, 100.0)  # another symbol: no effect
    [trade] = rig.h.ask(PORTFOLIO, GetTrades())
    assert (trade.position_id, trade.reason, trade.pnl, trade.r) == ("E1", "open", 2600.0, 0.5)
    rig.tick(X, 162.0)
    [trade] = rig.h.ask(PORTFOLIO, GetTrades())
    assert (trade.pnl, trade.r) == (-7800.0, -1.5)


# --- the daily stop and target, 15:15, halts --------------------------------------------------


def test_plus_5r_halts_and_flattens_ce_then_pe(rig: Rig) -> None:
    rig.open("E1", X)
    rig.tick(X, 111.0, at=t(9, 40))  # 4.875 R
    assert rig.journal.of(Halted) == [] and rig.ce.received == []

    rig.tick(X, 110.0, at=t(9, 41))  # (150 - 110) / 8 = 5 R
    assert rig.journal.of(Halted) == [Halted(time=t(9, 41), reason="daily_target_r (5.00R)")]
    assert rig.ce.received == [FlattenAll(reason="daily_target_r", time=t(9, 41))]
    assert rig.pe.received == [], "PE is flattened only after CE reports Flattened"
    sent = [m for _, m in rig.h.sent(JOURNAL, CE_ORDERS)]
    assert sent.index(rig.journal.of(Halted)[0]) < sent.index(rig.ce.received[0])

    rig.h.tell(PORTFOLIO, Flattened(option_type="CE", time=t(9, 41, 1)))
    assert rig.pe.received == [FlattenAll(reason="daily_target_r", time=t(9, 41, 1))]

    assert rig.reserve("CE") is False
    rig.tick(X, 100.0, at=t(9, 42))
    assert len(rig.journal.of(Halted)) == 1 and len(rig.ce.received) == 1


def test_minus_5r_halts(rig: Rig) -> None:
    rig.open("E1", X)
    rig.tick(X, 189.95, at=t(9, 40))
    assert rig.journal.of(Halted) == []
    rig.tick(X, 190.0, at=t(9, 41))  # (150 - 190) / 8 = -5 R
    assert rig.journal.of(Halted) == [Halted(time=t(9, 41), reason="daily_stop_r (-5.00R)")]
    assert rig.ce.received == [FlattenAll(reason="daily_stop_r", time=t(9, 41))]


def test_closed_plus_unrealized_r_reaching_5_halts(rig: Rig) -> None:
    rig.open("E1", X)
    rig.close("E1", 126.0)  # +3 R
    rig.open("E2", P, at=t(9, 50))
    rig.tick(P, 135.0, at=t(9, 51))  # +1.875 R open: 4.875
    assert rig.journal.of(Halted) == []
    rig.tick(P, 134.0, at=t(9, 52))  # +2 R open: 5
    assert [h.reason for h in rig.journal.of(Halted)] == ["daily_target_r (5.00R)"]


def test_force_exit_timer_halts_at_15_15(rig: Rig) -> None:
    rig.h.clock.schedule(t(15, 15), PORTFOLIO, ForceExitDue(time=t(15, 15)))
    rig.h.advance(t(15, 14, 59))
    assert rig.journal.received == []
    rig.h.advance(t(15, 15))
    assert rig.journal.received == [Halted(time=t(15, 15), reason="force_exit")]
    assert rig.ce.received == [FlattenAll(reason="force_exit", time=t(15, 15))]
    assert rig.reserve("PE") is False


def test_halt_command_halts_once(rig: Rig) -> None:
    rig.h.tell(PORTFOLIO, Halt(reason="supervisor: orders:CE keeps failing", time=t(10, 0)))
    assert rig.journal.received == [Halted(time=t(10, 0), reason="supervisor: orders:CE keeps failing")]
    assert [m.time for m in rig.ce.received] == [t(10, 0)]
    rig.h.tell(PORTFOLIO, ForceExitDue(time=t(15, 15)))
    assert len(rig.journal.received) == 1 and len(rig.ce.received) == 1


def test_the_days_r_from_before_a_restart_counts(make_harness, tmp_path) -> None:
    """strategy.md §6: after a restart (or a crash of this actor), cumulative R counts the positions
    the journal holds as closed."""
    h = make_harness(start=t(9, 15))
    journal = JournalStore(tmp_path / "journal.db")
    base = dict(position_id="E0", symbol=X2, option_type="CE", quantity=650, entry_price=150.0, sl_price=158.0)
    journal.record(PositionEvent(time=t(9, 20), state="open", **base))
    journal.record(PositionEvent(
        time=t(9, 25), state="closed", exit_price=186.0, pnl=-23_400.0, r=-4.5, reason="stop", **base,
    ))
    rig = Rig(h, journal=journal)
    rig.open("E1", X)
    rig.tick(X, 153.9, at=t(9, 40))  # -0.4875 R open: -4.99 in all
    assert rig.journal.of(Halted) == []
    rig.tick(X, 154.0, at=t(9, 41))  # -0.5 R open: -5.00
    assert [x.reason for x in rig.journal.of(Halted)] == ["daily_stop_r (-5.00R)"]
    rig.close("E1", 154.0, at=t(9, 42))
    h.tell(PORTFOLIO, SessionEndDue(time=t(15, 30)))
    [summary] = rig.journal.of(SessionSummary)
    assert (summary.trades, summary.net_r, summary.pnl) == (2, -5.0, -23_400.0 - 2_600.0)
    assert [tr.position_id for tr in h.ask(PORTFOLIO, GetTrades())] == ["E0", "E1"]
    assert not [e for e in rig.journal.of(PositionEvent) if e.position_id == "E0"], "restored, not journaled again"
    journal.close()


def test_halt_from_before_a_restart_refuses_entries(harness: Harness) -> None:
    rig = Rig(harness, halted_reason="daily_stop_r (-5.02R)")
    assert rig.reserve("CE") is False
    assert rig.reserve("PE") is False


# --- reconciliation ---------------------------------------------------------------------------


def test_a_first_mismatch_only_asks_the_order_actor_to_refresh(rig: Rig) -> None:
    """A fill can reach the broker's books a moment before its update reaches us."""
    rig.open("E1", X)
    rig.open("E2", P)
    rig.book.rows = [PositionRow(symbol=X, quantity=0), PositionRow(symbol=P, quantity=-325)]
    rig.journal.clear()

    rig.h.tell(PORTFOLIO, ReconcileDue(time=t(9, 35)))
    assert rig.journal.of(Alert) == []
    assert rig.ce.received == [ReconcileSymbol(symbol=X, broker_quantity=0, confirmed=False, time=t(9, 35))]
    assert rig.pe.received == [ReconcileSymbol(symbol=P, broker_quantity=-325, confirmed=False, time=t(9, 35))]

    # agreement at the next run, 60 s later by its own timer: nothing more
    rig.book.rows = [PositionRow(symbol=X, quantity=-650), PositionRow(symbol=P, quantity=-650)]
    rig.h.advance(t(9, 36))
    assert rig.book.calls == 2
    assert rig.journal.of(Alert) == [] and len(rig.ce.received) == 1 and len(rig.pe.received) == 1


def test_a_mismatch_seen_twice_is_alerted_once_and_confirmed_to_the_order_actor(rig: Rig) -> None:
    rig.open("E1", X)
    rig.book.rows = [PositionRow(symbol=X, quantity=0)]
    rig.journal.clear()
    rig.h.tell(PORTFOLIO, ReconcileDue(time=t(9, 35)))
    rig.h.advance(t(9, 36))
    alerts = rig.journal.of(Alert)
    assert [a.level for a in alerts] == ["critical"] and X in alerts[0].text and "we hold -650" in alerts[0].text
    assert rig.ce.received[-1] == ReconcileSymbol(symbol=X, broker_quantity=0, confirmed=True, time=t(9, 36))
    # still the same a minute later: asked again, not alerted again
    rig.h.advance(t(9, 37))
    assert len(rig.journal.of(Alert)) == 1
    assert rig.ce.received[-1].confirmed is True and len(rig.ce.received) == 3


def test_a_changed_mismatch_starts_over(rig: Rig) -> None:
    rig.open("E1", X)
    rig.book.rows = [PositionRow(symbol=X, quantity=0)]
    rig.h.tell(PORTFOLIO, ReconcileDue(time=t(9, 35)))
    rig.book.rows = [PositionRow(symbol=X, quantity=-325)]
    rig.h.advance(t(9, 36))
    assert rig.journal.of(Alert) == []
    assert rig.ce.received[-1].confirmed is False


def test_reconcile_agreeing_book_is_silent(rig: Rig) -> None:
    rig.open("E1", X)
    rig.open("E2", X2)
    rig.close("E2", 146.0, symbol=X2)
    rig.book.rows = [PositionRow(symbol=X, quantity=-650), PositionRow(symbol=X2, quantity=0)]
    rig.journal.clear()
    rig.h.tell(PORTFOLIO, ReconcileDue(time=t(9, 50)))
    assert rig.journal.received == [] and rig.ce.received == []


def test_reconcile_alerts_a_broker_position_we_do_not_know_once_confirmed(rig: Rig) -> None:
    """§6: the broker is the source of truth and every mismatch is logged and alerted."""
    rig.open("E1", X)
    rig.book.rows = [PositionRow(symbol=X, quantity=-650), PositionRow(symbol=X2, quantity=-650)]
    rig.journal.clear()
    rig.h.tell(PORTFOLIO, ReconcileDue(time=t(9, 50)))
    assert rig.journal.of(Alert) == []
    rig.h.advance(t(9, 51))
    alerts = rig.journal.of(Alert)
    assert [a.level for a in alerts] == ["critical"]
    assert X2 in alerts[0].text and "did not open" in alerts[0].text
    assert rig.ce.received == [], "nothing for an OrderActor to do about a position it never had"


# --- the day's summary -------------------------------------------------------------------------


def test_session_end_writes_the_summary(rig: Rig) -> None:
    rig.open("E1", X, at=t(9, 31))
    rig.close("E1", 146.0, at=t(9, 35))  # +0.5 R, +2600
    rig.open("E2", X2, at=t(9, 40))
    rig.close("E2", 158.0, symbol=X2, at=t(9, 45))  # -1 R, -5200
    rig.open("E3", P, at=t(9, 50))
    rig.close("E3", 148.0, symbol=P, at=t(9, 55))  # +0.25 R, +1300
    rig.open("E4", X3, at=t(10, 0))  # still open: not a trade
    rig.journal.clear()

    rig.h.tell(PORTFOLIO, SessionEndDue(time=t(15, 30)))
    summary, alert = rig.journal.received
    assert summary == SessionSummary(
        time=t(15, 30), session=DAY, trades=3, wins=2, net_r=-0.25, max_drawdown_r=1.0, pnl=-1300.0,
        halted=False, halt_reason="",
    )
    assert isinstance(alert, Alert) and alert.level == "critical" and X3 in alert.text


def test_the_filter_learns_which_symbols_hold_an_open_position(rig: Rig) -> None:
    """Stage 3 skips them (strategy.md §4, one position per symbol); told only on a change."""
    rig.open("e1", X)
    rig.open("e2", P, at=t(9, 32))
    rig.tick(X, 151.0)
    rig.close("e1", 151.0)
    assert [(m.symbols, m.time) for m in rig.filter.of(OpenSymbols)] == [
        (frozenset({X}), t(9, 31)),
        (frozenset({X, P}), t(9, 32)),
        (frozenset({P}), t(9, 45)),
    ]
    # and again at every reconciliation, for a FilterSupervisor that restarted empty
    rig.book.rows = [PositionRow(symbol=P, exchange="NFO", product="MIS", quantity=-650, average_price=150.0)]
    rig.h.tell(PORTFOLIO, ReconcileDue(time=t(9, 46)))
    assert [(m.symbols, m.time) for m in rig.filter.of(OpenSymbols)][-1] == (frozenset({P}), t(9, 46))


# --- an OrderActor's restart, and this actor's own -----------------------------------------------


def journal_order(store: JournalStore, orderid: str, role: str, filled: int, price: float, at: datetime,
                  symbol: str = X, position_id: str | None = None) -> None:
    """An order an OrderActor journaled (placed, then ``filled`` contracts at ``price``)."""
    action = "SELL" if role == "entry" else "BUY"
    store.record(OrderSent(time=at, op="place", role=role, orderid=orderid, symbol=symbol, action=action,
                           pricetype="SL", trigger_price=149.95 if role == "entry" else 158.05, price=146.95,
                           quantity=650, position_id=position_id))
    if filled:
        store.record(OrderFilled(time=at, orderid=orderid, role=role, symbol=symbol, action=action, quantity=filled,
                                 average_price=price, position_id=position_id or orderid))


def test_a_stop_out_a_dead_order_actor_could_not_report_is_counted_from_the_journal(make_harness, tmp_path) -> None:
    """The OrderActor journaled the stop's fill and crashed before its ExitFilled: no phantom position."""
    h = make_harness(start=t(9, 30))
    store = JournalStore(tmp_path / "journal.db")
    rig = Rig(h, journal=store)
    h.quiet()
    journal_order(store, "E1", "entry", 650, 150.0, t(9, 31))
    rig.open("E1", X)
    store.record(rig.journal.of(PositionEvent)[-1])  # the journal's own copy (the probe stands in for it)
    journal_order(store, "S1", "stop", 650, 158.0, t(9, 45), position_id="E1")
    h.tell(PORTFOLIO, OrderActorRecovered(option_type="CE", reservation_held=False, time=t(9, 46)))
    [trade] = h.ask(PORTFOLIO, GetTrades())
    assert (trade.position_id, trade.reason, trade.exit_price, round(trade.r, 2)) == ("E1", "stop", 158.0, -1.0)
    [closed] = [e for e in rig.journal.of(PositionEvent) if e.state == "closed"]  # journaled now
    assert (closed.position_id, closed.reason, closed.r) == ("E1", "stop", -1.0)
    h.quiet()
    assert rig.filter.of(OpenSymbols)[-1].symbols == frozenset()
    store.close()


def test_a_fill_a_dead_order_actor_could_not_report_opens_the_position(make_harness, tmp_path) -> None:
    h = make_harness(start=t(9, 30))
    store = JournalStore(tmp_path / "journal.db")
    rig = Rig(h, journal=store)
    h.quiet()
    journal_order(store, "E1", "entry", 650, 150.0, t(9, 31))
    store.record(CandidateDecided(time=t(9, 30), symbol=X, option_type="CE", decision="best", price=150.0,
                                  sl_price=158.0, quantity=650))
    h.tell(PORTFOLIO, OrderActorRecovered(option_type="CE", reservation_held=False, time=t(9, 32)))
    [trade] = h.ask(PORTFOLIO, GetTrades())
    assert (trade.position_id, trade.reason, trade.sl_price) == ("E1", "open", 158.0)
    [opened] = rig.journal.of(PositionEvent)
    assert (opened.state, opened.position_id, opened.quantity) == ("open", "E1", 650)
    store.close()


def test_a_reservation_a_dead_order_actor_held_is_released(rig: Rig) -> None:
    assert rig.reserve("CE") is True
    rig.h.tell(PORTFOLIO, OrderActorRecovered(option_type="CE", reservation_held=False, time=t(9, 40)))
    assert rig.reserve("CE") is True


def test_a_restarted_portfolio_takes_the_reservations_from_the_order_actors(make_harness, tmp_path) -> None:
    h = make_harness(start=t(9, 30))
    store = JournalStore(tmp_path / "journal.db")
    journal_order(store, "E1", "entry", 0, 0.0, t(9, 31))  # working, as the journal knows
    rig = Rig(h, journal=store)
    h.quiet()
    assert rig.ce.of(ReportReservation) and rig.pe.of(ReportReservation)
    assert rig.reserve("CE") is False
    h.tell(PORTFOLIO, EntryReservation(option_type="CE", held=False, time=t(9, 32)))  # its own word
    assert rig.reserve("CE") is True
    store.close()


def test_the_heartbeat_line_shows_positions_working_entries_r_and_the_halt(rig: Rig) -> None:
    lines: list[str] = []
    sink = logger.add(lambda message: lines.append(message.record["message"]), level="INFO",
                      filter=lambda record: "[HEARTBEAT]" in record["message"])
    try:
        assert rig.reserve("PE") is True
        rig.open("E1", X)
        rig.tick(X, 154.0)  # -0.5 R
        rig.h.tell(PORTFOLIO, StatusDue(time=t(9, 41)))
        rig.h.quiet()
    finally:
        logger.remove(sink)
    assert lines == [
        "[HEARTBEAT] trading: open positions 1 (NIFTY17JUN2115500CE x650 -0.50R); working entries PE; "
        "R closed +0.00, total -0.50; not halted"
    ]


def test_pause_refuses_entries_and_cancels_working_ones_resume_allows_them(rig: Rig) -> None:
    rig.open("E1", X)
    rig.h.tell(PORTFOLIO, PauseEntries(paused=True, source="run.py pause", time=t(9, 40)))
    assert rig.reserve("PE") is False
    assert rig.ce.of(StopEntries) and rig.pe.of(StopEntries)
    assert rig.journal.of(Halted) == [] and rig.ce.of(FlattenAll) == []  # positions untouched
    rig.h.tell(PORTFOLIO, PauseEntries(paused=False, source="run.py resume", time=t(9, 41)))
    assert rig.ce.of(StartTrading) and rig.pe.of(StartTrading)
    assert rig.reserve("PE") is True


def test_a_restarted_portfolio_stays_paused(make_harness, tmp_path) -> None:
    h = make_harness(start=t(9, 30))
    store = JournalStore(tmp_path / "journal.db")
    control = store.issue_control("pause", "run.py pause", t(9, 20))
    store.control_done(control, t(9, 20).date(), "applied", t(9, 20))
    rig = Rig(h, journal=store)
    h.quiet()
    assert rig.reserve("CE") is False
    store.close()


def test_an_exit_fill_the_rebuild_already_counted_is_not_counted_again(make_harness, tmp_path) -> None:
    """The OrderActor journals the stop's fill, then reports it; a rebuild in between (its restart) must not
    make the same 650 count twice."""
    h = make_harness(start=t(9, 30))
    store = JournalStore(tmp_path / "journal.db")
    journal_order(store, "E1", "entry", 650, 150.0, t(9, 31))
    store.record(position("open"))
    journal_order(store, "S1", "stop", 325, 158.0, t(9, 45), position_id="E1")
    Rig(h, journal=store)  # rebuilt with 325 of S1 bought back
    h.quiet()
    def report(filled: int) -> None:
        h.tell(PORTFOLIO, ExitFilled(position_id="E1", symbol=X, quantity=325, price=158.0, reason="stop",
                                     time=t(9, 46), orderid="S1", order_filled=filled))

    report(325)  # S1's first fill, reported after the rebuild had counted it
    [trade] = h.ask(PORTFOLIO, GetTrades())
    assert trade.reason == "open", "325 are still short"
    report(650)  # its second
    [trade] = h.ask(PORTFOLIO, GetTrades())
    assert (trade.reason, trade.exit_price, round(trade.r, 2)) == ("stop", 158.0, -1.0)
    store.close()
