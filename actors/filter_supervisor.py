"""FilterSupervisor: owns the candidate pool and picks the best CE and PE (strategy.md §4)."""

from __future__ import annotations

from datetime import datetime

from actors.base import ActorContext, BaseActor
from actors.names import JOURNAL, order_actor
from messages.base import OptionType, option_type_of
from messages.portfolio import SessionEndDue
from messages.signals import (
    BarClosed,
    CandidateDecided,
    EntryCandidate,
    EntryIntent,
    RunningHighRaised,
    SwingDetected,
    SwingLowBroken,
)
from strategy.pool import CandidatePool


class FilterSupervisor(BaseActor):
    """In: signals from the SymbolActors, :class:`SessionEndDue`.

    Out: every decision to the Journal; an :class:`EntryIntent` to the
    OrderActor of a type whenever that type's best candidate changes (symbol,
    trigger, quantity or stop), preceded by a ``best`` decision.
    """

    def __init__(self, name: str, ctx: ActorContext) -> None:
        super().__init__(name, ctx)
        self.pool = CandidatePool(ctx.settings)
        self.sent: dict[OptionType, EntryCandidate | None] = {"CE": None, "PE": None}
        self.handlers = {
            SwingDetected: self.on_swing,
            RunningHighRaised: self.on_high,
            SwingLowBroken: self.on_break,
            BarClosed: self.on_bar_closed,
            SessionEndDue: self.on_session_end,
        }

    def on_swing(self, swing: SwingDetected) -> None:
        self._after(self.pool.on_swing(swing), option_type_of(swing.symbol), swing.time)

    def on_high(self, raised: RunningHighRaised) -> None:
        self._after(self.pool.on_high(raised), option_type_of(raised.symbol), raised.time)

    def on_break(self, broken: SwingLowBroken) -> None:
        self._after(self.pool.on_break(broken), option_type_of(broken.symbol), broken.time)

    def on_bar_closed(self, closed: BarClosed) -> None:
        # Stage 2 inputs only change on trades, which the SymbolActor reports
        # as they happen; a bar close needs no new evaluation here.
        return None

    def on_session_end(self, due: SessionEndDue) -> None:
        for decision in self.pool.end_session(due.time):
            self.tell(JOURNAL, decision)
        for option_type in ("CE", "PE"):
            self._publish(option_type, due.time)

    def _after(self, decisions: list[CandidateDecided], option_type: OptionType, now: datetime) -> None:
        for decision in decisions:
            self.tell(JOURNAL, decision)
        self._publish(option_type, now)

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
