"""FeedActor: owns the market-data WebSocket, routes ticks, back-fills from history."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

import pykka
from loguru import logger
from pydantic import AwareDatetime

from actors.base import ActorContext, BaseActor
from actors.names import JOURNAL, PORTFOLIO, order_actor, symbol_actor
from messages.base import Message, option_type_of
from messages.market import Bar, FeedLost, HistoryBars, ResendWatch, Tick, WatchSymbols
from messages.orders import OrderUpdate
from messages.portfolio import StatusDue
from messages.system import Alert
from strategy.session import ONE_MINUTE, at, minute_start
from strategy.tick_check import strike_of, tick_problem

if TYPE_CHECKING:
    from replay.recording import FeedRecorder

#: How often the FeedActor logs data coverage (symbols with a recent tick).
HEARTBEAT = timedelta(seconds=60)
#: Coverage: the share of symbols with a tick in the last 30 s; below 90 % in the session is alerted.
COVERAGE_WINDOW = timedelta(seconds=30)
COVERAGE_FLOOR = 0.9
#: How long after a minute ends its bar is asked from history (the server needs a moment).
BACKFILL_MARGIN = timedelta(seconds=5)


class FeedConnected(Message):
    """The WebSocket is authenticated and subscribed; ``connection`` is 1 first, then 2, 3 … after reconnects."""

    connection: int
    time: AwareDatetime


class FeedDisconnected(Message):
    """The WebSocket closed or was found dead; the feed reconnects by itself."""

    reason: str
    time: AwareDatetime


class ConnectFeed(Message):
    """Open the connection (the FeedActor sends it to itself when it starts)."""

    time: AwareDatetime


class BackfillDue(Message):
    """Timer: the minute of a reconnect has ended; fetch it (and any other missed minute) from history.

    While no tick has arrived since the reconnect (a connection that came back
    mute), the back-fill repeats a minute later, until the market closes.
    """

    time: AwareDatetime


class HeartbeatDue(Message):
    """Timer: log data coverage."""

    time: AwareDatetime


class FeedCallbacks(Protocol):
    """What the WebSocket client calls, on its own thread."""

    def on_tick(self, tick: Tick) -> None: ...
    def on_order_update(self, update: Any) -> None: ...
    def on_connected(self, connection: int) -> None: ...
    def on_disconnected(self, reason: str) -> None: ...


class Feed(Protocol):
    """The market-data connection (``broker.openalgo_ws.MarketFeed``)."""

    def start(self) -> None: ...
    def stop(self, timeout: float = 5.0) -> None: ...


FeedFactory = Callable[["_Callbacks"], Feed]
HistoryFetcher = Callable[[str], list[Bar]]


class _Callbacks:
    """Turns the client's thread callbacks into messages (to the FeedActor by its own
    reference, so nothing depends on the router having registered it yet)."""

    def __init__(self, ctx: ActorContext, feed_ref: pykka.ActorRef[Any], name: str) -> None:
        self._ctx = ctx
        self._ref = feed_ref
        self._name = name

    def _tell(self, message: Message | Tick) -> None:
        self._ctx.router.inflight.add(self._name)
        try:
            self._ref.tell(message)
        except pykka.ActorDeadError:
            self._ctx.router.inflight.done(self._name)

    def on_tick(self, tick: Tick) -> None:
        self._tell(tick)

    def on_order_update(self, update: Any) -> None:
        # straight to the OrderActor(s): a fill must not wait behind queued ticks
        message = OrderUpdate(
            orderid=str(update.orderid),
            status=update.order_status,
            filled_quantity=int(update.filled_quantity or 0),
            average_price=float(update.average_price or 0.0),
            symbol=update.symbol or "",
            quantity=int(update.quantity or 0),
            time=self._ctx.clock.now(),
        )
        if message.symbol:
            self._ctx.router.tell(order_actor(option_type_of(message.symbol)), message)
        else:
            # no symbol in the update: each OrderActor ignores orders it does not own
            self._ctx.router.tell(order_actor("CE"), message)
            self._ctx.router.tell(order_actor("PE"), message)

    def on_connected(self, connection: int) -> None:
        self._tell(FeedConnected(connection=connection, time=self._ctx.clock.now()))

    def on_disconnected(self, reason: str) -> None:
        self._tell(FeedDisconnected(reason=reason, time=self._ctx.clock.now()))


class FeedActor(BaseActor):
    """In: :class:`ConnectFeed` (from itself at start), :class:`Tick` from the client thread,
    :class:`WatchSymbols`, :class:`FeedConnected`, :class:`FeedDisconnected`,
    :class:`HeartbeatDue`.

    Out: every tick of a known symbol that can be real (strategy.md §2,
    :func:`strategy.tick_check.tick_problem`; the others are counted by reason
    for the heartbeat, the first of each reason and symbol logged as a WARNING)
    to its SymbolActor and to each watcher (OrderActor, PortfolioActor) that
    asked for that symbol (ticks of other symbols are counted and dropped); :class:`FeedLost` to every
    SymbolActor when the connection drops; :class:`HistoryBars` to
    every SymbolActor on each connection — the day so far on the first
    (warm-up, after which ``on_warm`` is called), the missed minutes after a
    reconnect (and once more when the reconnect's minute has ended, for
    minutes whose ticks never arrived). Ticks that arrive meanwhile wait in
    this actor's inbox, so nothing is applied out of order and no bar is
    built twice. With a ``recorder`` (live), every tick of a known symbol
    (dropped or not), every history batch, lost connection and the end of the
    warm-up also go to the day's feed recording (:mod:`replay.recording`).
    """

    def __init__(
        self,
        name: str,
        ctx: ActorContext,
        symbols: list[str],
        make_feed: FeedFactory,
        history: HistoryFetcher,
        on_warm: Callable[[], None] | None = None,
        tick_sink: Callable[[Tick], None] | None = None,
        recorder: FeedRecorder | None = None,
    ) -> None:
        super().__init__(name, ctx)
        self.symbols = set(symbols)
        self.make_feed = make_feed
        self.history = history
        self.on_warm = on_warm
        self.tick_sink = tick_sink
        #: live: every tick received and every input handed on, to the day's feed recording
        self.recorder = recorder
        self.feed: Feed | None = None
        self.warm = False
        #: coverage was below the floor at the last heartbeat (alerted once per drop)
        self.coverage_low = False
        self.disconnected_at: datetime | None = None
        self.last_tick: dict[str, datetime] = {}
        self.ticks = 0
        self.unknown = 0
        #: ticks that cannot be real, dropped here, by reason (strategy.md §2)
        self.rejected: Counter[str] = Counter()
        self._strikes = {symbol: strike_of(symbol) for symbol in symbols}
        self._warned: set[tuple[str, str]] = set()
        self._max_ahead = ctx.clock.span(ctx.settings.tick_max_ahead_seconds)
        #: ``ticks`` when the current connection came up
        self._ticks_at_connect = 0
        #: actor name -> symbols whose ticks it asked for (OrderActors, PortfolioActor)
        self.watchers: dict[str, set[str]] = {}
        #: symbols whose history failed once (later failures are logged at DEBUG)
        self._history_failed: set[str] = set()
        self.handlers = {
            Tick: self.on_tick,
            WatchSymbols: self.on_watch,
            FeedConnected: self.on_connected,
            FeedDisconnected: self.on_disconnected,
            HeartbeatDue: self.on_heartbeat,
            ConnectFeed: self.on_connect,
            BackfillDue: self.on_backfill_due,
        }

    def started(self) -> None:
        # connect once this actor runs (first start or restart); watchers re-announce their symbols
        _Callbacks(self.ctx, self.actor_ref, self.name)._tell(ConnectFeed(time=self.clock.now()))
        for watcher in (order_actor("CE"), order_actor("PE"), PORTFOLIO):
            self.tell(watcher, ResendWatch(time=self.clock.now()))

    def on_connect(self, command: ConnectFeed) -> None:
        if self.feed is not None:
            return
        self.feed = self.make_feed(_Callbacks(self.ctx, self.actor_ref, self.name))
        self.feed.start()
        due = command.time + HEARTBEAT
        self.clock.schedule(due, self.name, HeartbeatDue(time=due))

    def on_stop(self) -> None:
        if self.feed is not None:
            self.feed.stop()

    # --- market data ------------------------------------------------------------------
    def on_tick(self, tick: Tick) -> None:
        if tick.symbol not in self.symbols:
            self.unknown += 1
            return
        now = self.clock.now()
        problem = tick_problem(tick.time, tick.ltp, tick.volume, now, self._strikes[tick.symbol], self._max_ahead)
        if self.recorder is not None:
            self.recorder.tick(now, tick, problem)
        if problem:
            self._reject(tick, problem)
            return
        self.ticks += 1
        self.last_tick[tick.symbol] = tick.time
        if self.tick_sink is not None:
            self.tick_sink(tick)
        self.tell(symbol_actor(tick.symbol), tick)
        for watcher, symbols in self.watchers.items():
            if tick.symbol in symbols:
                self.tell(watcher, tick)

    def _reject(self, tick: Tick, reason: str) -> None:
        self.rejected[reason] += 1
        if (tick.symbol, reason) not in self._warned:
            self._warned.add((tick.symbol, reason))
            logger.warning(
                "feed: dropped a tick that cannot be real ({}): {} {} at {}, volume {}; "
                "later ones are counted in the heartbeat",
                reason, tick.symbol, tick.ltp, tick.time.isoformat(), tick.volume,
            )

    def on_watch(self, watch: WatchSymbols) -> None:
        self.watchers[watch.watcher] = set(watch.symbols)

    # --- connection life cycle -----------------------------------------------------------
    def on_connected(self, connected: FeedConnected) -> None:
        now = self.clock.now()
        until = minute_start(now)
        reconnect = self.warm
        gap = self.disconnected_at is not None and minute_start(self.disconnected_at) < until
        fetch = not self.warm or gap
        logger.info("feed connected (#{}); {}", connected.connection, "back-filling" if fetch else "no minute missed")
        if reconnect:
            self.tell(JOURNAL, Alert(time=now, level="warning", text=f"market-data feed reconnected (#{connected.connection})"))
        for symbol in sorted(self.symbols):
            bars = self._history(symbol) if fetch else []
            self._hand_history(HistoryBars(symbol=symbol, bars=bars, until=until, reconnected=reconnect, time=now))
        self.disconnected_at = None
        self._ticks_at_connect = self.ticks
        if reconnect:
            # Ticks of the reconnect minute may be missing too: once the minute
            # is over, whatever did not arrive comes from history.
            due = until + ONE_MINUTE + BACKFILL_MARGIN
            self.clock.schedule(due, self.name, BackfillDue(time=due))
        if not self.warm:
            self.warm = True
            if self.recorder is not None:
                self.recorder.warm(now)
            if self.on_warm is not None:
                self.on_warm()

    def on_backfill_due(self, due: BackfillDue) -> None:
        until = minute_start(due.time)
        for symbol in sorted(self.symbols):
            self._hand_history(HistoryBars(symbol=symbol, bars=self._history(symbol), until=until, time=due.time))
        quiet = self.ticks == self._ticks_at_connect
        in_session = due.time < at(due.time.date(), self.settings.market_close)
        if quiet and in_session and self.disconnected_at is None:
            # connected, but nothing arrived since: this minute's ticks may be lost too
            logger.info("feed still quiet after the reconnect; back-filling {:%H:%M} once it has ended", until)
            next_due = until + ONE_MINUTE + BACKFILL_MARGIN
            self.clock.schedule(next_due, self.name, BackfillDue(time=next_due))

    def on_disconnected(self, lost: FeedDisconnected) -> None:
        logger.warning("feed disconnected: {}", lost.reason)
        if self.disconnected_at is None:
            self.disconnected_at = lost.time
            if self.recorder is not None:
                self.recorder.lost(lost.time)
            for symbol in sorted(self.symbols):
                self.tell(symbol_actor(symbol), FeedLost(time=lost.time))

    def on_heartbeat(self, due: HeartbeatDue) -> None:
        recent = sum(1 for t in self.last_tick.values() if due.time - t <= HEARTBEAT)
        covered = sum(1 for t in self.last_tick.values() if due.time - t <= COVERAGE_WINDOW)
        in_session = self.settings.market_open <= due.time.time() < self.settings.market_close
        low = in_session and self.warm and covered < COVERAGE_FLOOR * len(self.symbols)
        if low and not self.coverage_low:
            self.tell(JOURNAL, Alert(time=due.time, level="warning", text=(
                f"data coverage {covered}/{len(self.symbols)} symbols ticked in the last "
                f"{int(COVERAGE_WINDOW.total_seconds())} s (below {COVERAGE_FLOOR:.0%})"
            )))
        self.coverage_low = low
        bad = ", ".join(f"{reason} {n}" for reason, n in sorted(self.rejected.items())) or "none"
        logger.info(
            "[HEARTBEAT] data: coverage {}/{} symbols ticked in the last {} s ({} in the last {} s); {} ticks; "
            "{} for unknown symbols; bad ticks dropped: {}",
            covered,
            len(self.symbols),
            int(COVERAGE_WINDOW.total_seconds()),
            recent,
            int(HEARTBEAT.total_seconds()),
            self.ticks,
            self.unknown,
            bad,
        )
        if self.recorder is not None:
            self.recorder.flush()  # a quiet feed writes nothing that would
        # their halves of the heartbeat: positions and R; the journal's lag
        self.tell(PORTFOLIO, StatusDue(time=due.time))
        self.tell(JOURNAL, StatusDue(time=due.time))
        next_due = due.time + HEARTBEAT
        self.clock.schedule(next_due, self.name, HeartbeatDue(time=next_due))

    def _hand_history(self, history: HistoryBars) -> None:
        """To the symbol's SymbolActor, and to the recording."""
        if self.recorder is not None:
            self.recorder.history(history.time, history)
        self.tell(symbol_actor(history.symbol), history)

    def _history(self, symbol: str) -> list[Bar]:
        try:
            return self.history(symbol)
        except Exception as exc:  # noqa: BLE001 - one symbol's history must not stop the feed
            level = "DEBUG" if symbol in self._history_failed else "WARNING"
            self._history_failed.add(symbol)
            logger.log(level, "history for {} unavailable: {}", symbol, exc)
            return []
