"""SymbolActor: one per option symbol; owns its bars, VWAP and swing detector."""

from __future__ import annotations

from datetime import timedelta

from loguru import logger
from pydantic import AwareDatetime

from actors.base import ActorContext, BaseActor
from actors.names import FILTER, JOURNAL
from messages.base import Message
from messages.market import Bar, FeedLost, GetBars, GetSwingState, HistoryBars, SwingState, Tick
from messages.portfolio import SessionEndDue
from messages.signals import SwingDetected, SymbolSignals
from strategy.session import ONE_MINUTE, at
from strategy.symbol_engine import SymbolEngine


#: Drop reasons that are part of normal operation: the first of each is logged at DEBUG, not WARNING.
EXPECTED_DROPS = frozenset({"out_of_order", "after_close"})


class BarCloseDue(Message):
    """Timer: the bar that started at ``bar_start`` may close now (strategy.md §2 grace)."""

    bar_start: AwareDatetime
    time: AwareDatetime


class SymbolActor(BaseActor):
    """Wraps a :class:`SymbolEngine`.

    In: :class:`Tick`, :class:`HistoryBars` (warm-up, back-fill after a
    reconnect), :class:`FeedLost` (no grace closes until the back-fill),
    :class:`BarCloseDue` (its own timer), :class:`SessionEndDue` (the market
    closed: the bar in progress closes, later ticks are dropped),
    :class:`GetBars` and :class:`GetSwingState` (asks).
    Out: every swing to the Journal, then the signals of each input (bar
    closed, swing, running high, break; in the order they happened) to the
    FilterSupervisor as one :class:`SymbolSignals`. A dropped tick (out of
    order, after the close, or one the FeedActor would not have passed on) is
    counted in the engine; the first impossible one of each reason is logged
    as a WARNING.
    """

    def __init__(self, name: str, ctx: ActorContext, symbol: str) -> None:
        super().__init__(name, ctx)
        ahead = ctx.clock.span(ctx.settings.tick_max_ahead_seconds).total_seconds()
        self.engine = SymbolEngine(symbol, ctx.settings.bar_grace_seconds, ahead)
        # a tick stamped at or after the close opens no bar (strategy.md §2)
        self.engine.session_close = at(ctx.clock.now().date(), ctx.settings.market_close)
        self._grace = timedelta(seconds=ctx.settings.bar_grace_seconds)
        self.handlers = {
            Tick: self.on_tick,
            BarCloseDue: self.on_close_due,
            HistoryBars: self.on_history,
            GetBars: self.on_get_bars,
            GetSwingState: self.on_get_swing_state,
            FeedLost: self.on_feed_lost,
            SessionEndDue: self.on_session_end,
        }
        #: False between a lost connection and the back-fill after the reconnect
        self.feed_up = True

    def on_tick(self, tick: Tick) -> None:
        before = self.engine.builder.open_bar_start
        signals = self.engine.on_tick(tick.time, tick.ltp, tick.volume, self.clock.now())
        reason = self.engine.last_rejection
        if reason:
            self._rejected(tick, reason)
            return
        opened = self.engine.builder.open_bar_start
        if opened is not None and opened != before:
            due = opened + ONE_MINUTE + self._grace
            self.clock.schedule(due, self.name, BarCloseDue(bar_start=opened, time=due))
        self._route(signals)

    def on_history(self, history: HistoryBars) -> None:
        self.feed_up = True
        self._route(self.engine.apply_history(history.bars, history.until, history.time))
        if history.reconnected:
            self.engine.builder.reset_volume_baseline()
        opened = self.engine.builder.open_bar_start
        if opened is not None:
            # its grace close may have been skipped while the feed was down
            due = max(opened + ONE_MINUTE + self._grace, history.time)
            self.clock.schedule(due, self.name, BarCloseDue(bar_start=opened, time=due))

    def on_session_end(self, due: SessionEndDue) -> None:
        self._route(self.engine.close_session(due.time))

    def _rejected(self, tick: Tick, reason: str) -> None:
        if self.engine.rejected[reason] == 1:
            # late ticks are expected (after the warm-up, after the close); impossible ones are not
            level = "DEBUG" if reason in EXPECTED_DROPS else "WARNING"
            logger.log(
                level,
                "{}: dropped a tick ({}): {} at {}, volume {}; later ones are only counted",
                tick.symbol, reason, tick.ltp, tick.time.isoformat(), tick.volume,
            )

    def on_feed_lost(self, lost: FeedLost) -> None:
        self.feed_up = False

    def on_get_bars(self, _ask: GetBars) -> list[Bar]:
        return list(self.engine.bars)

    def on_get_swing_state(self, ask: GetSwingState) -> SwingState:
        engine = self.engine
        return SwingState(
            symbol=engine.symbol,
            last_price=engine.last_price,
            last_time=engine.last_time,
            swing=engine.swing_status(ask.swing_bar_time),
            broken_at=engine.broken_at.get(ask.swing_bar_time),
        )

    def on_close_due(self, due: BarCloseDue) -> None:
        if self.feed_up:
            self._route(self.engine.on_clock(due.time))

    def _route(self, signals: list) -> None:
        if not signals:
            return
        for signal in signals:
            if isinstance(signal, SwingDetected):
                self.tell(JOURNAL, signal)
        self.tell(
            FILTER, SymbolSignals.model_construct(symbol=self.engine.symbol, signals=signals, time=signals[-1].time)
        )
