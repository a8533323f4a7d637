"""Journal rows -> the state an OrderActor and the PortfolioActor start with (state/orders.py,
state/portfolio.py): pure functions, no threads (architecture.md, "Crash-only, concretely")."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

import pytest

from messages.base import IST
from state.orders import Grid, rebuild
from state.portfolio import rebuild as rebuild_portfolio

DAY = date(2021, 6, 11)
CE = "NIFTY17JUN2115500CE"
PE = "NIFTY17JUN2115500PE"
GRID = Grid(tick_size=0.05, sl_buffer=1.0, max_sl_pct=0.15, lot_size=65)


def t(hour: int, minute: int, second: int = 0) -> datetime:
    return datetime(2021, 6, 11, hour, minute, second, tzinfo=IST)


@dataclass
class Journal:
    """The journal's rows of one day, as ``JournalStore`` returns them."""

    order_rows: list[dict] = field(default_factory=list)
    position_rows: list[dict] = field(default_factory=list)
    bests: list[dict] = field(default_factory=list)
    swings: list[tuple[str, float, datetime, datetime]] = field(default_factory=list)
    halt: tuple[bool, str] = (False, "")

    def order(self, orderid: str, role: str, symbol: str = CE, status: str = "placed", quantity: int = 650,
              filled: int = 0, average: float = 0.0, trigger: float = 149.95, position_id: str | None = None,
              at: datetime = t(9, 31)) -> None:
        self.order_rows.append(dict(
            orderid=orderid, role=role, symbol=symbol, status=status, quantity=quantity, filled_quantity=filled,
            average_price=average, trigger_price=trigger, price=trigger - 3, position_id=position_id,
            created_at=at, updated_at=at,
        ))

    def orders(self, day: date) -> list[dict]:
        return self.order_rows

    def positions(self, day: date) -> list[dict]:
        return self.position_rows

    def last_best(self, day: date, symbol: str, until: datetime) -> dict | None:
        return next((b for b in reversed(self.bests) if b["symbol"] == symbol and b["time"] <= until), None)

    def swing_low(self, day: date, symbol: str, price: float, until: datetime) -> datetime | None:
        return next((bar for s, p, bar, seen in reversed(self.swings)
                     if s == symbol and abs(p - price) < 0.001 and seen <= until), None)

    def is_halted(self, day: date) -> tuple[bool, str]:
        return self.halt

    def fill_times(self, day: date) -> dict[str, tuple[datetime, datetime]]:
        return {o["orderid"]: (o["updated_at"], o["updated_at"]) for o in self.order_rows if o["filled_quantity"]}


def test_an_empty_journal_rebuilds_nothing() -> None:
    state = rebuild(Journal(), DAY, "CE", GRID)
    assert (state.orders, state.positions, state.entry, state.warnings) == ({}, {}, None, [])
    assert rebuild_portfolio(Journal(), DAY) == ({}, {"CE": False, "PE": False})


def test_a_working_entry_is_adopted_with_its_swing_bar_and_the_filters_stop() -> None:
    j = Journal(bests=[dict(symbol=CE, time=t(9, 30), sl_price=158.02)], swings=[(CE, 150.0, t(9, 20), t(9, 23))])
    j.order("E1", "entry")
    state = rebuild(j, DAY, "CE", GRID)
    assert state.entry is not None and state.entry.orderid == "E1" and state.entry.status == "trigger pending"
    c = state.entry.candidate
    assert (c.swing_price, c.swing_bar_time, c.sl_price, c.quantity) == (150.0, t(9, 20), 158.02, 650)
    assert state.positions == {} and state.warnings == [] and state.spent == set()


def test_what_the_journal_does_not_know_is_assumed_and_warned() -> None:
    j = Journal()
    j.order("E1", "entry")
    state = rebuild(j, DAY, "CE", GRID)
    assert state.entry.candidate.sl_price == 172.45  # 149.95 x 1.15 up to the tick: the widest stop allowed
    assert state.entry.candidate.swing_bar_time == t(9, 31)
    assert len(state.warnings) == 2


def test_a_filled_entry_is_a_position_with_its_working_stop_and_spends_its_swing() -> None:
    j = Journal(position_rows=[dict(position_id="E1", state="open", sl_price=158.02)], swings=[(CE, 150.0, t(9, 20), t(9, 23))])
    j.order("E1", "entry", status="complete", filled=650, average=149.9)
    j.order("S1", "stop", trigger=158.05, position_id="E1", at=t(9, 32))
    j.order("E2", "entry", symbol=PE)  # the other type's: not this actor's
    state = rebuild(j, DAY, "CE", GRID)
    [position] = state.positions.values()
    assert (position.position_id, position.open_quantity, position.sl_price) == ("E1", 650, 158.02)
    assert [s.orderid for s in position.stops] == ["S1"] and position.unprotected == 0
    assert state.entry is None and state.spent == {(CE, t(9, 20))}
    assert set(state.orders) == {"E1", "S1"}


def test_a_position_whose_stop_filled_is_over_and_one_without_a_stop_is_unprotected() -> None:
    j = Journal()
    j.order("E1", "entry", status="complete", filled=650, average=149.9)
    j.order("S1", "stop", status="complete", filled=650, average=158.1, trigger=158.05, position_id="E1")
    j.order("E2", "entry", status="complete", filled=325, average=139.9, trigger=139.95, at=t(10, 0))
    state = rebuild(j, DAY, "CE", GRID)
    assert list(state.positions) == ["E2"]
    assert state.positions["E2"].unprotected == 325


@pytest.mark.parametrize("role, halt, reason", [
    ("stop", (False, ""), "stop"),
    ("exit", (True, "daily_stop_r (-5.1R)"), "daily_stop_r"),  # the flatten's MARKET exit
])
def test_the_portfolio_counts_an_exit_it_never_heard_of(role, halt, reason) -> None:
    """The exit filled and was journaled, but the ExitFilled was lost with a dead actor: the orders decide."""
    j = Journal(position_rows=[dict(position_id="E1", state="open", symbol=CE, option_type="CE", opened_at=t(9, 31),
                                    quantity=650, entry_price=149.9, sl_price=158.02)], halt=halt)
    j.order("E1", "entry", status="complete", filled=650, average=150.0)
    j.order("S1", role, status="complete", filled=650, average=158.0, trigger=158.05, position_id="E1", at=t(9, 50))
    positions, working = rebuild_portfolio(j, DAY)
    pos = positions["E1"]
    assert (pos.open_quantity, pos.exit_price, pos.reason, pos.exit_time) == (0, 158.0, reason, t(9, 50))
    assert round(pos.r, 2) == -1.0 and working == {"CE": False, "PE": False}


def test_the_portfolio_takes_a_fill_it_never_heard_of_and_a_working_entrys_reservation() -> None:
    j = Journal(bests=[dict(symbol=CE, time=t(9, 30), sl_price=158.0)])
    j.order("E1", "entry", status="complete", filled=650, average=150.0)  # no position row: never reported
    j.order("E2", "entry", symbol=PE)
    positions, working = rebuild_portfolio(j, DAY)
    pos = positions["E1"]
    assert (pos.open_quantity, pos.entry_price, pos.sl_price, pos.option_type) == (650, 150.0, 158.0, "CE")
    assert working == {"CE": False, "PE": True}


def test_a_closed_position_keeps_what_the_journal_wrote() -> None:
    j = Journal(position_rows=[dict(
        position_id="E1", state="closed", symbol=CE, option_type="CE", opened_at=t(9, 31), closed_at=t(9, 50),
        quantity=650, entry_price=150.0, sl_price=158.0, exit_price=158.0, pnl=-5200.0, r=-1.0, reason="stop",
    )])
    j.order("E1", "entry", status="complete", filled=650, average=150.0)
    positions, _ = rebuild_portfolio(j, DAY)
    assert (positions["E1"].pnl, positions["E1"].reason, positions["E1"].exit_time) == (-5200.0, "stop", t(9, 50))


def test_a_position_the_journal_closed_stays_closed() -> None:
    """Closed by reconciliation (the broker held none): no stop for it, no flatten of it, at a restart."""
    j = Journal(position_rows=[dict(position_id="E1", state="closed", sl_price=158.02)])
    j.order("E1", "entry", status="complete", filled=650, average=149.9)
    j.order("S1", "stop", status="cancelled", trigger=158.05, position_id="E1")
    assert rebuild(j, DAY, "CE", GRID).positions == {}
