"""What an OrderActor holds: its orders at the broker, its short positions, its working entry.

Plain classes, no threads and no I/O. :func:`rebuild` turns the journal's
rows of the day into the state an OrderActor of one option type holds after a
crash of the actor or of the program (architecture.md, "Crash-only,
concretely"); the actor then hears the broker's word on every order through
its ordinary update path.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Protocol

from messages.base import OptionType, OrderRole, option_type_of
from messages.orders import FINAL_STATUSES
from messages.signals import EntryCandidate
from strategy.prices import ceil_tick

#: Order statuses the journal writes for an order that is over (``orders.status``).
JOURNAL_FINAL = frozenset({"cancelled", "complete", "rejected"})


@dataclass(slots=True)
class TrackedOrder:
    """One of our orders at the broker and what we know of it (prices rupees, quantities contracts)."""

    orderid: str
    role: OrderRole
    symbol: str
    quantity: int
    trigger_price: float
    price: float
    position_id: str | None = None
    status: str = "open"
    filled_quantity: int = 0
    average_price: float = 0.0
    cancel_requested: bool = False
    #: the entry's candidate (entries only)
    candidate: EntryCandidate | None = None
    #: why an exit order was sent (exits only)
    reason: str = ""
    #: a status check was already made for the current trigger crossing
    crossing_checked: bool = False
    #: entries: when it triggered (a trade at or below its trigger, or the broker said so)
    triggered_at: datetime | None = None

    @property
    def final(self) -> bool:
        return self.status in FINAL_STATUSES


@dataclass(slots=True)
class ShortPosition:
    """A short position opened by one entry order (``position_id`` = its orderid); ``sl_price`` rupees."""

    position_id: str
    symbol: str
    sl_price: float
    open_quantity: int = 0
    stops: list[TrackedOrder] = field(default_factory=list)
    exits: list[TrackedOrder] = field(default_factory=list)

    @staticmethod
    def working(orders: list[TrackedOrder]) -> int:
        """Contracts still to fill in ``orders`` (the working ones)."""
        return sum(o.quantity - o.filled_quantity for o in orders if not o.final)

    @property
    def unprotected(self) -> int:
        """Open contracts no working stop or exit covers (strategy.md §5: there must be none)."""
        return self.open_quantity - ShortPosition.working(self.stops + self.exits)


@dataclass(slots=True)
class OrderState:
    """Everything an OrderActor of one option type knows of its orders, keyed by orderid / position_id."""

    orders: dict[str, TrackedOrder] = field(default_factory=dict)
    positions: dict[str, ShortPosition] = field(default_factory=dict)
    entry: TrackedOrder | None = None
    #: (symbol, swing bar) pairs already entered or refused: never placed again
    spent: set[tuple[str, datetime]] = field(default_factory=set)
    #: what the rebuild could not know and had to assume (each one is alerted)
    warnings: list[str] = field(default_factory=list)

    def track(self, order: TrackedOrder) -> TrackedOrder:
        self.orders[order.orderid] = order
        return order


class JournalRows(Protocol):
    """What :func:`rebuild` reads: :class:`persistence.journal_store.JournalStore` provides it."""

    def orders(self, session_date: date) -> list[dict[str, Any]]: ...
    def positions(self, session_date: date) -> list[dict[str, Any]]: ...
    def last_best(self, session_date: date, symbol: str, until: datetime) -> dict[str, Any] | None: ...
    def swing_low(self, session_date: date, symbol: str, price: float, until: datetime) -> datetime | None: ...


@dataclass(frozen=True, slots=True)
class Grid:
    """The settings a rebuilt candidate needs: ``tick_size``, ``sl_buffer`` rupees, ``max_sl_pct``, ``lot_size``."""

    tick_size: float
    sl_buffer: float
    max_sl_pct: float
    lot_size: int

    @classmethod
    def of(cls, settings: Any) -> Grid:  # noqa: ANN401 - config.settings.Settings (not imported here)
        return cls(settings.tick_size, settings.sl_buffer, settings.max_sl_pct, settings.lot_size)


def children_by_position(rows: list[dict]) -> dict[str, list[dict]]:
    """The journal's stop and exit orders (``orders`` rows) by the position (entry orderid) they serve."""
    children: dict[str, list[dict]] = {}
    for row in rows:
        if row["role"] != "entry" and row["position_id"]:
            children.setdefault(row["position_id"], []).append(row)
    return children


def rebuild(journal: JournalRows, day: date, option_type: OptionType, grid: Grid) -> OrderState:
    """The state an OrderActor of ``option_type`` left on ``day``, from the journal alone.

    * every entry that filled and is not wholly closed becomes a position, its
      open quantity the entry's fills less its stops' and exits' fills, with
      its working stops and exits; one the journal's positions hold as closed
      (e.g. the broker held none at a reconciliation) stays closed;
    * an entry still working becomes the working entry (with the candidate it
      was placed for: its stop from the position or the filter's last
      ``best``, its swing bar from the journal's swings);
    * every entry that filled spends its swing low.

    Orders are taken in the status the journal last knew (working or
    ``complete``); the broker's word comes after. Raises nothing for missing
    facts: what had to be assumed is listed in ``warnings``.
    """
    state = OrderState()
    rows = [r for r in journal.orders(day) if option_type_of(r["symbol"]) == option_type]
    if not rows:
        return state
    by_position = children_by_position(rows)
    journaled = journal.positions(day)
    open_positions = {p["position_id"]: p for p in journaled if p["state"] == "open"}
    #: positions the portfolio closed (a stop-out, an exit, or the broker holding none at a reconciliation)
    closed = {p["position_id"] for p in journaled if p["state"] == "closed"}
    for entry in (r for r in rows if r["role"] == "entry"):
        filled = entry["filled_quantity"]
        working = entry["status"] not in JOURNAL_FINAL
        if filled == 0 and not working:
            continue
        candidate = _candidate(journal, day, option_type, entry, open_positions.get(entry["orderid"]), grid, state)
        order = state.track(_adopted(entry, candidate=candidate))
        if filled > 0:
            state.spent.add((candidate.symbol, candidate.swing_bar_time))
            position = ShortPosition(entry["orderid"], entry["symbol"], candidate.sl_price)
            children = by_position.get(entry["orderid"], [])
            position.open_quantity = max(0, filled - sum(r["filled_quantity"] for r in children))
            for row in children:
                if row["status"] not in JOURNAL_FINAL:
                    child = state.track(_adopted(row, position_id=entry["orderid"]))
                    (position.stops if row["role"] == "stop" else position.exits).append(child)
            if position.open_quantity > 0 and position.position_id not in closed:
                state.positions[position.position_id] = position
        if working:
            state.entry = order
    return state


def _adopted(row: dict, candidate: EntryCandidate | None = None, position_id: str | None = None) -> TrackedOrder:
    """An order of the journal as an OrderActor tracks it (its status as the journal last knew it)."""
    return TrackedOrder(
        row["orderid"], row["role"], row["symbol"], row["quantity"], row["trigger_price"], row["price"],
        position_id=position_id or row["position_id"],
        status="trigger pending" if row["status"] not in JOURNAL_FINAL else "complete",
        filled_quantity=row["filled_quantity"], average_price=row["average_price"], candidate=candidate,
    )


def _candidate(
    journal: JournalRows, day: date, option_type: OptionType, entry: dict, position: dict | None, grid: Grid,
    state: OrderState,
) -> EntryCandidate:
    """What an adopted entry was placed for (strategy.md §4-§5), as far as the journal tells.

    Its stop: the position's, else the filter's last ``best`` naming the
    symbol, else the widest the strategy allows (``MAX_SL_PCT`` above the
    trigger, a warning). Its swing low: one tick above the trigger
    (strategy.md §5), its bar from the journal's swings, else the entry's own
    time (a warning: the symbol's state about it is then ``unknown``).
    """
    created = entry["created_at"]
    swing = round(entry["trigger_price"] + grid.tick_size, 2)
    sl_price = position["sl_price"] if position else None
    if sl_price is None:
        best = journal.last_best(day, entry["symbol"], created)
        sl_price = best["sl_price"] if best and best["sl_price"] else None
    bar_time = journal.swing_low(day, entry["symbol"], swing, created)
    candidate = assumed_candidate(
        entry["symbol"], option_type, entry["trigger_price"], entry["price"], entry["quantity"], bar_time or created,
        grid, sl_price,
    )
    if sl_price is None:
        state.warnings.append(
            f"entry {entry['orderid']} {entry['symbol']}: its stop is not in the journal; using {candidate.sl_price}"
        )
    if bar_time is None:
        state.warnings.append(f"entry {entry['orderid']} {entry['symbol']}: its swing low {swing} is not in the journal")
    return candidate


def assumed_candidate(
    symbol: str, option_type: OptionType, trigger: float, limit: float, quantity: int, swing_bar_time: datetime,
    grid: Grid, sl_price: float | None = None,
) -> EntryCandidate:
    """The candidate an entry of these terms was placed for, as far as they tell (strategy.md §4-§5).

    The swing low is one tick above the trigger. Without ``sl_price`` (rupees)
    the stop is the widest the strategy allows, ``MAX_SL_PCT`` above the
    trigger: never a position without its stop.
    """
    swing = round(trigger + grid.tick_size, 2)
    if sl_price is None:
        sl_price = ceil_tick(trigger * (1 + grid.max_sl_pct), grid.tick_size)
    return EntryCandidate(
        symbol=symbol, option_type=option_type, swing_price=swing, swing_bar_time=swing_bar_time,
        highest_high=round(sl_price - grid.sl_buffer, 2), sl_price=sl_price, sl_points=round(sl_price - swing, 2),
        lots=max(1, quantity // grid.lot_size), quantity=quantity, trigger_price=trigger, limit_price=limit,
    )
