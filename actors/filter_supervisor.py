"""FilterSupervisor: owns the candidate pool and picks the best CE and PE (strategy.md §4)."""

from __future__ import annotations

from datetime import datetime

from actors.base import ActorContext, BaseActor
from actors.names import JOURNAL, order_actor
from messages.base import OptionType, option_type_of
from messages.portfolio import SessionEndDue
from messages.signals import (
    CandidateDecided,
    EntryCandidate,
    EntryIntent,
    SymbolSignals,
)
from strategy.pool import CandidatePool


class FilterSupervisor(BaseActor):
    """In: :class:`SymbolSignals` from the SymbolActors, :class:`SessionEndDue`.

    Out: every decision to the Journal; after all signals of one
    :class:`SymbolSignals`, an :class:`EntryIntent` to the OrderActor of the
    type if that type's best candidate changed (symbol, trigger, quantity or
    stop), preceded by a ``best`` decision when the order terms changed.
    """

    def __init__(self, name: str, ctx: ActorContext) -> None:
        super().__init__(name, ctx)
        self.pool = CandidatePool(ctx.settings)
        self.sent: dict[OptionType, EntryCandidate | None] = {"CE": None, "PE": None}
        self.handlers = {
            SymbolSignals: self.on_signals,
            SessionEndDue: self.on_session_end,
        }

    def on_signals(self, batch: SymbolSignals) -> None:
        for signal in batch.signals:
            for decision in self.pool.on_signal(signal):
                self.tell(JOURNAL, decision)
        self._publish(option_type_of(batch.symbol), batch.time)

    def on_session_end(self, due: SessionEndDue) -> None:
        for decision in self.pool.end_session(due.time):
            self.tell(JOURNAL, decision)
        for option_type in ("CE", "PE"):
            self._publish(option_type, due.time)

    def _publish(self, option_type: OptionType, now: datetime) -> None:
        """Send the type's best to its OrderActor if it changed; journal a change of order terms."""
        best = self.pool.best(option_type)
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
