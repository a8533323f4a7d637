"""What the PortfolioActor holds: the day's positions with their R, and its rebuild from the journal.

Plain classes, no threads and no I/O (strategy.md §6). :func:`rebuild` gives
the positions and entry reservations a PortfolioActor starts with after a
crash of the actor or of the program.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Protocol

from loguru import logger

from messages.base import OptionType, option_type_of
from messages.portfolio import TradeRecord
from state.orders import JOURNAL_FINAL
from strategy.risk import position_risk, r_multiple, short_pnl


@dataclass(slots=True)
class PortfolioPosition:
    """One short position of the day: quantities contracts, prices rupees, times IST."""

    position_id: str
    symbol: str
    option_type: OptionType
    entry_time: datetime
    quantity: int
    entry_price: float
    sl_price: float
    open_quantity: int
    last_price: float
    realized_pnl: float = 0.0
    exit_quantity: int = 0
    exit_value: float = 0.0
    exit_time: datetime | None = None
    reason: str = ""

    @property
    def risk(self) -> float:
        """Rupees at risk for the whole filled quantity (strategy.md §6)."""
        try:
            return position_risk(self.entry_price, self.sl_price, self.quantity)
        except ValueError:
            logger.error("position {} has its stop at or below its entry; using one tick of risk", self.position_id)
            return 0.05 * self.quantity

    @property
    def pnl(self) -> float:
        """Realized plus unrealized rupees at the last price."""
        return self.realized_pnl + short_pnl(self.entry_price, self.last_price, self.open_quantity)

    @property
    def r(self) -> float:
        return r_multiple(self.pnl, self.risk)

    def take_exit(self, quantity: int, price: float) -> None:
        """``quantity`` contracts (at most what is open) bought back at ``price`` rupees."""
        qty = min(quantity, self.open_quantity)
        self.open_quantity -= qty
        self.realized_pnl += short_pnl(self.entry_price, price, qty)
        self.exit_quantity += qty
        self.exit_value += price * qty

    @property
    def exit_price(self) -> float | None:
        return self.exit_value / self.exit_quantity if self.exit_quantity else None


class JournalRows(Protocol):
    """What :func:`rebuild` reads: :class:`persistence.journal_store.JournalStore` provides it."""

    def orders(self, session_date: date) -> list[dict[str, Any]]: ...
    def positions(self, session_date: date) -> list[dict[str, Any]]: ...
    def closed_trades(self, session_date: date) -> list[TradeRecord]: ...


def rebuild(journal: JournalRows, day: date) -> tuple[dict[str, PortfolioPosition], dict[OptionType, bool]]:
    """The day's positions by position_id, closed and open, and the entry reservations, from the journal.

    A closed position counts in the day's R, the summary and the trade table
    as journaled; an open one has its exits so far (the filled quantity of
    its stop and exit orders) taken off, at their average prices. A type
    holds a reservation while the journal has an entry of it still working
    (its OrderActor's own word, :class:`messages.portfolio.EntryReservation`,
    corrects this when it comes).
    """
    positions: dict[str, PortfolioPosition] = {}
    exits: dict[str, list[dict]] = {}
    working: dict[OptionType, bool] = {"CE": False, "PE": False}
    for row in journal.orders(day):
        if row["role"] != "entry" and row["position_id"] and row["filled_quantity"] > 0:
            exits.setdefault(row["position_id"], []).append(row)
        if row["role"] == "entry" and row["status"] not in JOURNAL_FINAL:
            working[option_type_of(row["symbol"])] = True
    for trade in journal.closed_trades(day):
        positions.setdefault(trade.position_id, restored(trade))
    for row in journal.positions(day):
        if row["state"] != "open" or row["position_id"] in positions:
            continue
        pos = PortfolioPosition(
            position_id=row["position_id"], symbol=row["symbol"], option_type=row["option_type"],
            entry_time=row["opened_at"], quantity=row["quantity"], entry_price=row["entry_price"],
            sl_price=row["sl_price"], open_quantity=row["quantity"], last_price=row["entry_price"],
        )
        for order in exits.get(pos.position_id, []):
            pos.take_exit(order["filled_quantity"], order["average_price"])
        positions[pos.position_id] = pos
    return positions, working


def restored(trade: TradeRecord) -> PortfolioPosition:
    """A position closed before a restart, as the journal holds it (no open quantity left)."""
    exit_price = trade.exit_price if trade.exit_price is not None else trade.entry_price
    return PortfolioPosition(
        position_id=trade.position_id,
        symbol=trade.symbol,
        option_type=trade.option_type,
        entry_time=trade.entry_time,
        quantity=trade.quantity,
        entry_price=trade.entry_price,
        sl_price=trade.sl_price,
        open_quantity=0,
        last_price=exit_price,
        realized_pnl=trade.pnl,
        exit_quantity=trade.quantity,
        exit_value=exit_price * trade.quantity,
        exit_time=trade.exit_time,
        reason=trade.reason,
    )


def exit_reason(halt_reason: str) -> str:
    """The exit reason recorded on positions closed by a halt: the halt's first word."""
    return halt_reason.split(" ", 1)[0] or "halt"
