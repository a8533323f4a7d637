"""Messages to and from the PortfolioActor (strategy.md §6)."""

from __future__ import annotations

from datetime import date
from typing import ClassVar, Literal

from pydantic import AwareDatetime, Field

from messages.base import JournalEvent, Message, OptionType


class ReserveEntry(Message):
    """Ask: may ``option_type`` hold one working entry order now? Replies ``bool``."""

    option_type: OptionType
    time: AwareDatetime


class ReleaseEntry(Message):
    """The working entry of ``option_type`` is gone (cancelled, rejected or fully filled)."""

    option_type: OptionType
    time: AwareDatetime


class EntryReservation(Message):
    """What the OrderActor of ``option_type`` holds: a working entry's reservation (``held``) or none.

    The answer to :class:`ReportReservation`: a restarted PortfolioActor
    learns the reservations still held.
    """

    option_type: OptionType
    held: bool
    time: AwareDatetime


class OrderActorRecovered(Message):
    """A (re)started OrderActor of ``option_type`` has taken over its orders and journaled the
    broker's word on them; ``reservation_held``: it keeps a working entry's reservation.

    The PortfolioActor takes that type's positions from the journal again.
    """

    option_type: OptionType
    reservation_held: bool
    time: AwareDatetime


class PauseEntries(Message):
    """``run.py pause`` (``paused``) or ``resume``: no new entries, or entries again; open positions
    and their stops are untouched. ``source`` says who asked."""

    paused: bool
    source: str
    time: AwareDatetime


class StatusDue(Message):
    """Time for the PortfolioActor's heartbeat line (sent by the FeedActor with its own, live)."""

    time: AwareDatetime


class ReportReservation(Message):
    """A (re)started PortfolioActor asks an OrderActor for its :class:`EntryReservation`."""

    time: AwareDatetime


class EntryFilled(Message):
    """An entry order's cumulative fill: ``filled_quantity`` contracts at ``entry_price`` average.

    ``position_id`` is the entry's orderid; ``sl_price`` (rupees) is fixed at
    the first fill and defines the position's risk.
    """

    position_id: str
    symbol: str
    option_type: OptionType
    filled_quantity: int = Field(gt=0)
    entry_price: float = Field(gt=0)
    sl_price: float = Field(gt=0)
    time: AwareDatetime


class ExitFilled(Message):
    """``quantity`` contracts of a position were bought back at ``price`` rupees.

    ``orderid`` and ``order_filled`` (contracts) name the stop or exit order
    and its cumulative fill, so a fill the receiver already counted (from the
    journal, after a restart) is not counted again; both None for a position
    closed without an order (the broker held none at a reconciliation).
    """

    position_id: str
    symbol: str
    quantity: int = Field(gt=0)
    price: float = Field(gt=0)
    reason: str
    time: AwareDatetime
    orderid: str | None = None
    order_filled: int | None = None


class OpenSymbols(Message):
    """The PortfolioActor to the FilterSupervisor: the symbols in which a position is open now.

    Stage 3 skips them until their position closes (strategy.md §4, one position per symbol).
    """

    symbols: frozenset[str]
    time: AwareDatetime


class PositionEvent(JournalEvent):
    """A position opened (or grew) or closed; ``pnl`` rupees, ``r`` R multiple."""

    EVENT_TYPE: ClassVar[str] = "position"

    state: Literal["open", "closed"]
    position_id: str
    symbol: str
    option_type: OptionType
    quantity: int
    entry_price: float
    sl_price: float
    exit_price: float | None = None
    pnl: float | None = None
    r: float | None = None
    reason: str = ""


class SessionSummary(JournalEvent):
    """The day's result: trades, winners, net R, max drawdown in R, P&L in rupees."""

    EVENT_TYPE: ClassVar[str] = "summary"

    session: date
    trades: int
    wins: int
    net_r: float
    max_drawdown_r: float
    pnl: float
    halted: bool
    halt_reason: str = ""


class ForceExitDue(Message):
    """Timer: 15:15 IST, flatten and stop entering (strategy.md §6)."""

    time: AwareDatetime


class SessionEndDue(Message):
    """Timer: the market closed. A SymbolActor closes its bar in progress; the
    FilterSupervisor empties its pool; the PortfolioActor writes the daily summary."""

    time: AwareDatetime


class ReconcileDue(Message):
    """Timer: reconcile positions with the broker's position book."""

    time: AwareDatetime


class GetTrades(Message):
    """Ask: the closed and open positions of the session, as ``list[TradeRecord]``."""


class TradeRecord(Message):
    """One position for the trade table."""

    position_id: str
    symbol: str
    option_type: OptionType
    quantity: int
    entry_time: AwareDatetime
    entry_price: float
    sl_price: float
    exit_time: AwareDatetime | None
    exit_price: float | None
    reason: str
    pnl: float
    r: float
