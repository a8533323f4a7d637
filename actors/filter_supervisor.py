"""FilterSupervisor: owns the candidate pool and picks the best CE and PE (strategy.md §4)."""

from __future__ import annotations

from datetime import datetime

from loguru import logger

from actors.base import ActorContext, BaseActor
from actors.names import JOURNAL, order_actor
from messages.base import OptionType, option_type_of
from messages.portfolio import OpenSymbols, SessionEndDue
from messages.signals import (
    BarClosed,
    BarsClosed,
    CandidateDecided,
    EntryCandidate,
    EntryIntent,
    PublishDue,
    ResendBest,
    SymbolSignals,
)
from strategy.pool import CandidatePool
from strategy.session import minute_start


class FilterSupervisor(BaseActor):
    """In: :class:`SymbolSignals` from the SymbolActors, :class:`OpenSymbols` from the
    PortfolioActor, :class:`PublishDue` (its own timer), :class:`SessionEndDue`,
    :class:`ResendBest` (a restarted OrderActor asks: it gets the last :class:`EntryIntent` again).

    Out: every decision to the Journal, and the bars closed in each minute of the clock, every
    symbol's in one :class:`BarsClosed` once the minute is over (for the report's charts; the
    session's end sends the last). Stage 3 runs once per instant
    (strategy.md §4): the first input that changes the pool schedules a
    :class:`PublishDue` at the clock's time; when it fires, for each option
    type whose best changed (symbol, trigger, quantity or stop) an
    :class:`EntryIntent` goes to that type's OrderActor, preceded by a
    ``best`` decision when the order terms changed. Symbols with an open
    position are skipped (one position per symbol). Signals that arrive
    after the session's end are dropped.
    """

    def __init__(self, name: str, ctx: ActorContext) -> None:
        super().__init__(name, ctx)
        self.pool = CandidatePool(ctx.settings)
        self.sent: dict[OptionType, EntryCandidate | None] = {"CE": None, "PE": None}
        self.open_symbols: frozenset[str] = frozenset()
        self.ended = False
        #: option types whose inputs changed since the last publication
        self._changed: set[OptionType] = set()
        self._publish_due = False
        #: bars closed in the clock's minute ``_bars_minute``, journaled when the clock's minute changes
        self._bars: list[BarClosed] = []
        self._bars_minute: datetime | None = None
        self.handlers = {
            SymbolSignals: self.on_signals,
            OpenSymbols: self.on_open_symbols,
            PublishDue: self.on_publish_due,
            SessionEndDue: self.on_session_end,
            ResendBest: self.on_resend_best,
        }

    def on_signals(self, batch: SymbolSignals) -> None:
        now = self.clock.now()
        minute = minute_start(now)
        if minute != self._bars_minute:  # the bars of the minutes before, in one message
            self._journal_bars(now)
            self._bars_minute = minute
        self._bars.extend(s for s in batch.signals if isinstance(s, BarClosed))
        if self.ended:
            logger.debug("{}: signals of {} after the session's end dropped", self.name, batch.symbol)
            self._journal_bars(now)  # the last bars, closed by the close, still go to the journal
            return
        for signal in batch.signals:
            for decision in self.pool.on_signal(signal):
                self.tell(JOURNAL, decision)
        self._changed_later(option_type_of(batch.symbol))

    def on_open_symbols(self, update: OpenSymbols) -> None:
        changed = self.open_symbols ^ update.symbols
        self.open_symbols = update.symbols
        for symbol in sorted(changed):
            self._changed_later(option_type_of(symbol))

    def on_publish_due(self, due: PublishDue) -> None:
        self._publish_due = False
        changed, self._changed = self._changed, set()
        if self.ended:
            return
        for option_type in ("CE", "PE"):
            if option_type in changed:
                self._publish(option_type, due.time)

    def on_resend_best(self, ask: ResendBest) -> None:
        t = ask.option_type
        self.tell(order_actor(t), EntryIntent(option_type=t, candidate=self.sent[t], time=self.clock.now()))

    def on_session_end(self, due: SessionEndDue) -> None:
        self._journal_bars(due.time)
        self.ended = True
        self._changed.clear()
        for decision in self.pool.end_session(due.time):
            self.tell(JOURNAL, decision)
        for option_type in ("CE", "PE"):
            self._publish(option_type, due.time)

    def on_stop(self) -> None:
        # the bars of the minute in progress (the Journal stops after this actor, so it still takes them)
        self._journal_bars(self.clock.now())

    def _journal_bars(self, now: datetime) -> None:
        if self._bars:
            self.tell(JOURNAL, BarsClosed(bars=self._bars, time=now))
            self._bars = []

    def _changed_later(self, option_type: OptionType) -> None:
        self._changed.add(option_type)
        if not self._publish_due:
            self._publish_due = True
            now = self.clock.now()
            self.clock.schedule(now, self.name, PublishDue(time=now))

    def _publish(self, option_type: OptionType, now: datetime) -> None:
        """Send the type's best to its OrderActor if it changed; journal a change of order terms."""
        best = self.pool.best(option_type, skip=self.open_symbols)
        previous = self.sent[option_type]
        if best == previous:
            return
        self.sent[option_type] = best
        if _terms(best) != _terms(previous):
            self.tell(
                JOURNAL,
                CandidateDecided(
                    time=now,
                    symbol=best.symbol if best else None,
                    option_type=option_type,
                    decision="best",
                    price=best.swing_price if best else None,
                    sl_price=best.sl_price if best else None,
                    quantity=best.quantity if best else None,
                ),
            )
        self.tell(order_actor(option_type), EntryIntent(option_type=option_type, candidate=best, time=now))


def _terms(best: EntryCandidate | None) -> tuple[str, float, int] | None:
    """What an entry order is made of: symbol, trigger and quantity."""
    return None if best is None else (best.symbol, best.trigger_price, best.quantity)
