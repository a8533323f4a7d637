"""AlertActor: what a trader must know now, sent through OpenAlgo's ``telegram/notify`` (issue "The trader's desk").

The JournalActor hands it every journal event; it turns those a trader must
see at once into short messages: an entry filled, a protective stop placed,
a position closed (with R and rupees), a halt (±5R, 15:15, ``run.py stop``,
the kill switch), and every warning or critical alert (a feed reconnect,
coverage below 90 %, a stop rejected, an error). The same alert text goes
out at most once per :data:`REPEAT_AFTER`. Sending happens in this actor's
thread and never raises: the endpoint answers 409 while the bot is off, and
trading goes on whatever it answers.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from loguru import logger

from actors.base import ActorContext, BaseActor
from messages.base import JournalEvent
from messages.orders import OrderFilled, OrderSent
from messages.portfolio import PositionEvent
from messages.system import Alert, Halted

#: The same alert text is sent again only this long after it was last sent.
REPEAT_AFTER = timedelta(minutes=10)

#: A sender: (message, priority 1-10) -> delivered.
Send = Callable[[str, int], bool]


def alert_text(event: JournalEvent, strategy: str) -> tuple[str, int, bool] | None:
    """``(message, priority, throttled)`` for an event a trader must see now, else None."""
    tag = f"[{strategy}]"
    if isinstance(event, OrderFilled) and event.role == "entry":
        return f"{tag} ENTRY FILLED {event.symbol}: sold {event.quantity} at {event.average_price:.2f}", 6, False
    if isinstance(event, OrderSent) and event.role == "stop" and event.op == "place":
        return (f"{tag} STOP placed {event.symbol}: BUY {event.quantity} trigger {event.trigger_price:.2f} "
                f"(position {event.position_id})", 5, False)
    if isinstance(event, PositionEvent) and event.state == "closed":
        r = f"{event.r:+.2f}R" if event.r is not None else "R unknown"
        pnl = f"{event.pnl:+,.2f} rupees" if event.pnl is not None else ""
        return f"{tag} CLOSED {event.symbol} ({event.reason}): {r} {pnl}".rstrip(), 7, False
    if isinstance(event, Halted):
        return f"{tag} HALT: {event.reason}. Everything is closed; no new entries today", 9, False
    if isinstance(event, Alert) and event.level in ("warning", "critical"):
        return f"{tag} {event.level.upper()}: {event.text}", 10 if event.level == "critical" else 7, True
    return None


class AlertActor(BaseActor):
    """In: every :class:`JournalEvent` (from the JournalActor). Out: ``send(text, priority)`` calls."""

    def __init__(self, name: str, ctx: ActorContext, send: Send) -> None:
        super().__init__(name, ctx)
        self.send = send
        self.last_sent: dict[str, datetime] = {}
        self.failures = 0
        self.handlers = {event_type: self.on_event for event_type in (OrderFilled, OrderSent, PositionEvent, Halted, Alert)}

    def on_event(self, event: JournalEvent) -> None:
        found = alert_text(event, self.settings.strategy_name)
        if found is None:
            return
        text, priority, throttled = found
        now = event.time
        if throttled:
            last = self.last_sent.get(text)
            if last is not None and now - last < REPEAT_AFTER:
                return
            self.last_sent[text] = now
        try:
            delivered = self.send(text, priority)
        except Exception as exc:  # noqa: BLE001 - an alert never disturbs trading
            delivered = False
            logger.warning("alert not sent ({}): {}", exc, text)
        if not delivered:
            self.failures += 1
            if self.failures in (1, 10, 100) or self.failures % 1000 == 0:
                logger.warning("telegram alerts are not being delivered ({} so far); see OpenAlgo's Telegram bot",
                               self.failures)
