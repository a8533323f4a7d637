"""Journal: the single writer of the SQLite journal and the JSON Lines event log."""

from __future__ import annotations

from loguru import logger

from actors.base import ActorContext, BaseActor
from actors.names import ALERTS
from messages.base import JournalEvent
from messages.orders import OrderFilled, OrderIntent, OrderSent
from messages.portfolio import PositionEvent, SessionSummary, StatusDue
from messages.signals import BarsClosed, CandidateDecided, SwingDetected
from messages.system import Alert, Halted, Stop
from persistence.event_log import EventLog
from persistence.journal_store import JournalStore
from persistence.trade_files import TradeFiles
from persistence.trade_lines import trade_line

EVENT_TYPES: tuple[type[JournalEvent], ...] = (
    SwingDetected,
    CandidateDecided,
    OrderIntent,
    OrderSent,
    OrderFilled,
    PositionEvent,
    SessionSummary,
    Halted,
    Alert,
)


class JournalActor(BaseActor):
    """In: every :class:`JournalEvent`; :class:`BarsClosed` (the SQLite ``bars`` only); :class:`StatusDue`
    (its heartbeat line: events handled, how long the longest waited in its inbox, how far behind it is,
    events buffered); :class:`Stop` (ask) flushes both files.

    An :class:`OrderIntent` may come as an ask: the reply is True once it is
    committed (the OrderActor sends its request only then), False when the
    write failed.

    Live, each event also goes to the AlertActor when there is one, and the trade log and daily summary CSVs are written again when a
    position closes or a day ends (:class:`persistence.trade_files.TradeFiles`).
    Each order, fill, position and halt is also logged as one INFO line
    (:func:`persistence.trade_lines.trade_line`). Events are written in the order they arrive: the senders keep that order
    causal (see :meth:`BaseActor.defer`). Writes are batched by the store; a
    failing write is logged and the event kept in the event log, never
    raised into trading.
    """

    def __init__(
        self, name: str, ctx: ActorContext, store: JournalStore, events: EventLog, files: TradeFiles | None = None,
    ) -> None:
        super().__init__(name, ctx)
        self.store = store
        self.events = events
        #: live: the trade log and daily summary CSVs, written again when a position closes or a day ends
        self.files = files
        self.handlers = {event_type: self.on_event for event_type in EVENT_TYPES}
        self.handlers[OrderIntent] = self.on_intent
        self.handlers[BarsClosed] = self.on_bars
        self.handlers[StatusDue] = self.on_status_due
        self.handlers[Stop] = self.on_stop_request
        #: since the last heartbeat: events handled, and the longest one waited (real seconds) to be handled
        self._handled = 0
        self._lag = 0.0

    def on_event(self, event: JournalEvent) -> None:
        self._waited(event.time)
        line = trade_line(event)
        if line is not None:
            logger.info(line)
        if self.router.ref(ALERTS) is not None:  # live, with TELEGRAM_USERNAME set
            self.tell(ALERTS, event)
        self.events.write(event)
        try:
            self.store.record(event)
        except Exception:  # noqa: BLE001 - the journal must never stop trading
            logger.exception("journal write failed for {}", type(event).__name__)
            return
        closed = isinstance(event, PositionEvent) and event.state == "closed"
        if self.files is not None and (closed or isinstance(event, SessionSummary)):
            try:
                self.files.write(self.store)
            except Exception as exc:  # noqa: BLE001 - nor the files a trader keeps
                logger.error("the trade files in {} could not be written: {}", self.files.trades.parent, exc)

    def on_intent(self, intent: OrderIntent) -> bool:
        self._waited(intent.time)
        self.events.write(intent)
        try:
            self.store.record(intent)  # committed at once (flush_on)
        except Exception:  # noqa: BLE001 - the journal must never stop trading
            logger.exception("journal write failed for the order intent {}", intent.intent_id)
            return False
        return True

    def on_status_due(self, due: StatusDue) -> None:
        """The journal's part of the heartbeat: how far behind it is."""
        behind = self._seconds_since(due.time)
        logger.info(
            "[HEARTBEAT] journal: {} events in the last minute, the longest waited {:.2f} s; {:.2f} s behind now; "
            "{} waiting to be committed",
            self._handled, max(self._lag, behind), behind, self.store.pending,
        )
        self._handled, self._lag = 0, 0.0

    def _waited(self, sent_at) -> None:  # noqa: ANN001 - an aware datetime
        self._handled += 1
        self._lag = max(self._lag, self._seconds_since(sent_at))

    def _seconds_since(self, moment) -> float:  # noqa: ANN001
        """Real seconds from ``moment`` (the clock's time) to now (against a fast simulator, its seconds ÷ speed)."""
        return max(0.0, (self.clock.now() - moment).total_seconds() / self.clock.speed)

    def on_bars(self, closed: BarsClosed) -> None:
        """Closed bars: the journal's ``bars`` only (for the report's charts), not the event log."""
        try:
            for bar in closed.bars:
                self.store.record(bar)
        except Exception:  # noqa: BLE001 - the journal must never stop trading
            logger.exception("journal write failed for the bars closed at {}", closed.time)

    def on_stop_request(self, _stop: Stop) -> None:
        self.events.flush()
        self.store.flush()

    def on_stop(self) -> None:
        # The files belong to whoever opened them (they may outlive this
        # graph, e.g. across replayed sessions); here they are only flushed.
        self.events.flush()
        self.store.flush()
