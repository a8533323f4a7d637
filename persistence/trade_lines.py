"""One readable line for each journal event a trader must see: orders, fills, stops, positions, halts.

The JournalActor logs :func:`trade_line` of every event it writes at INFO, so
a live session, a paper session and a replay all show each order placed,
modified or cancelled, each fill, each protective stop, each position opened
or closed (with its R and rupees) and each halt as it happens. Prices rupees,
quantities contracts, times IST.
"""

from __future__ import annotations

from messages.base import JournalEvent
from messages.orders import OrderFilled, OrderSent
from messages.portfolio import PositionEvent
from messages.system import Halted

_ROLE = {"entry": "ENTRY", "stop": "STOP", "exit": "EXIT"}


def trade_line(event: JournalEvent) -> str | None:
    """The line for ``event`` (its time first, HH:MM:SS IST), or None for events a trader need not see."""
    at = f"{event.time:%H:%M:%S}"
    if isinstance(event, OrderSent):
        what = _ROLE[event.role]
        if event.pricetype == "MARKET":
            terms = "MARKET"
        else:
            terms = f"{event.pricetype} trigger {event.trigger_price:.2f} limit {event.price:.2f}"
        of = f" (position {event.position_id})" if event.position_id and event.role != "entry" else ""
        verb = {"place": "placed", "modify": "modified", "cancel": "cancel sent"}[event.op]
        return f"{at} {what} {verb}: {event.action} {event.quantity} {event.symbol} {terms}, order {event.orderid}{of}"
    if isinstance(event, OrderFilled):
        what = _ROLE[event.role]
        return (
            f"{at} {what} FILLED: {event.action} {event.quantity} {event.symbol} at {event.average_price:.2f}, "
            f"order {event.orderid}"
        )
    if isinstance(event, PositionEvent):
        if event.state == "open":
            return (
                f"{at} POSITION OPEN {event.position_id}: short {event.quantity} {event.symbol} at "
                f"{event.entry_price:.2f}, stop {event.sl_price:.2f}"
            )
        r = f"{event.r:+.2f}R" if event.r is not None else "R unknown"
        pnl = f"{event.pnl:+,.2f} rupees" if event.pnl is not None else "P&L unknown"
        exit_price = f"{event.exit_price:.2f}" if event.exit_price is not None else "?"
        return (
            f"{at} POSITION CLOSED {event.position_id}: {event.quantity} {event.symbol} {event.entry_price:.2f} -> "
            f"{exit_price} ({event.reason}), {r}, {pnl}"
        )
    if isinstance(event, Halted):
        return f"{at} HALT: {event.reason}; no new entries today, everything is closed"
    return None
