"""What the PortfolioActor holds: the day's positions with their R, and its rebuild from the journal.

Plain classes, no threads and no I/O (strategy.md §6). :func:`rebuild` gives
the positions and entry reservations a PortfolioActor starts with after a
crash of the actor or of the program.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Protocol

from loguru import logger

from messages.base import OptionType, option_type_of
from state.orders import JOURNAL_FINAL, children_by_position
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
    #: contracts bought back so far by each stop or exit order (orderid): none counted twice
    exits_by_order: dict[str, int] = field(default_factory=dict)

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
    def last_best(self, session_date: date, symbol: str, until: datetime) -> dict[str, Any] | None: ...
    def is_halted(self, session_date: date) -> tuple[bool, str]: ...
    def fill_times(self, session_date: date) -> dict[str, tuple[datetime, datetime]]: ...


def rebuild(journal: JournalRows, day: date) -> tuple[dict[str, PortfolioPosition], dict[OptionType, bool]]:
    """The day's positions by position_id, closed and open, and the entry reservations, from the journal.

    The orders decide (the OrderActors journal every fill before they report
    it): each entry that filled is a position of its filled quantity at its
    average price, less the filled quantity of its stop and exit orders at
    their average prices. Its stop (its risk, strategy.md §6) comes from the
    journaled position, else the filter's last ``best`` for the symbol, else
    its first protective stop's trigger. A position the journal closed keeps
    its journaled P&L, R, reason and exit time; one the orders close that the
    journal still had open is closed with reason ``stop`` (a stop filled) or
    the halt's exit reason, at its last exit fill's time. A position opens at
    its entry's first fill. A type holds a
    reservation while the journal has an entry of it still working (its
    OrderActor's own word, :class:`messages.portfolio.EntryReservation`,
    corrects this when it comes). A journaled position with no entry order
    in the journal is taken as journaled.
    """
    positions: dict[str, PortfolioPosition] = {}
    working: dict[OptionType, bool] = {"CE": False, "PE": False}
    rows = journal.orders(day)
    journaled = {p["position_id"]: p for p in journal.positions(day)}
    children = children_by_position(rows)
    for row in rows:
        if row["role"] == "entry" and row["status"] not in JOURNAL_FINAL:
            working[option_type_of(row["symbol"])] = True
    halted, halt_reason = journal.is_halted(day)
    fill_times = journal.fill_times(day)
    for entry in (r for r in rows if r["role"] == "entry" and r["filled_quantity"] > 0):
        pid = entry["orderid"]
        row = journaled.get(pid)
        if row is not None and row["state"] == "closed":
            positions[pid] = restored(row)
            continue
        exits = [c for c in children.get(pid, []) if c["filled_quantity"] > 0]
        pos = PortfolioPosition(
            position_id=pid, symbol=entry["symbol"], option_type=option_type_of(entry["symbol"]),
            entry_time=row["opened_at"] if row else fill_times.get(pid, (entry["updated_at"],))[0], quantity=entry["filled_quantity"],
            entry_price=entry["average_price"], sl_price=_sl_price(journal, day, entry, row, children.get(pid, [])),
            open_quantity=entry["filled_quantity"], last_price=entry["average_price"],
        )
        for order in exits:
            pos.take_exit(order["filled_quantity"], order["average_price"])
            pos.exits_by_order[order["orderid"]] = order["filled_quantity"]
        if pos.open_quantity == 0 and exits:
            pos.exit_time = max(fill_times.get(c["orderid"], (c["updated_at"],) * 2)[1] for c in exits)
            pos.last_price = pos.exit_price or pos.entry_price
            stopped = any(c["role"] == "stop" for c in exits)
            pos.reason = "stop" if stopped or not halted else exit_reason(halt_reason)
        positions[pid] = pos
    for pid, row in journaled.items():  # positions without an entry order of the journal: as journaled
        if pid not in positions:
            positions[pid] = restored(row) if row["state"] == "closed" else PortfolioPosition(
                position_id=pid, symbol=row["symbol"], option_type=row["option_type"], entry_time=row["opened_at"],
                quantity=row["quantity"], entry_price=row["entry_price"], sl_price=row["sl_price"],
                open_quantity=row["quantity"], last_price=row["entry_price"],
            )
    return positions, working


def _sl_price(journal: JournalRows, day: date, entry: dict, row: dict | None, children: list[dict]) -> float:
    if row is not None:
        return row["sl_price"]
    best = journal.last_best(day, entry["symbol"], entry["created_at"])
    if best and best["sl_price"]:
        return best["sl_price"]
    stops = [c["trigger_price"] for c in children if c["role"] == "stop"]
    # never a position without a risk: at worst the entry's own price (one tick of risk, see ``risk``)
    return stops[0] if stops else entry["average_price"]


def restored(row: dict) -> PortfolioPosition:
    """A position the journal closed (a ``positions`` row), with its journaled P&L, reason and times."""
    exit_price = row["exit_price"] if row["exit_price"] is not None else row["entry_price"]
    return PortfolioPosition(
        position_id=row["position_id"],
        symbol=row["symbol"],
        option_type=row["option_type"],
        entry_time=row["opened_at"],
        quantity=row["quantity"],
        entry_price=row["entry_price"],
        sl_price=row["sl_price"],
        open_quantity=0,
        last_price=exit_price,
        realized_pnl=row["pnl"] or 0.0,
        exit_quantity=row["quantity"],
        exit_value=exit_price * row["quantity"],
        exit_time=row["closed_at"],
        reason=row["reason"],
    )


def exit_reason(halt_reason: str) -> str:
    """The exit reason recorded on positions closed by a halt: the halt's first word."""
    return halt_reason.split(" ", 1)[0] or "halt"
