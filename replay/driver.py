"""Drives the actor graph through a recorded session with the replay clock."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, time
from itertools import groupby
from pathlib import Path

from loguru import logger

from actors.base import FEED, ActorContext, BaseActor, InFlight, Router
from actors.clock import SteppedClock
from actors.names import PORTFOLIO, symbol_actor
from actors.order import order_update_listener
from actors.supervisor import ActorSpec, Graph
from broker.gateway import BrokerGateway
from broker.simulated import SimulatedBroker
from config.settings import Settings
from messages.market import FeedLost, HistoryBars, Tick, WatchSymbols
from messages.portfolio import GetTrades, TradeRecord
from persistence.event_log import EventLog
from persistence.journal_store import JournalStore
from replay.data import RecordedSession, load_session
from replay.recording import FeedInput, RecordedFeed, Restarted, is_recording, load_recording
from replay.ticks import TICK_OFFSETS, session_ticks
from strategy.session import at


class WatchRegistry(BaseActor):
    """Replay's stand-in for the FeedActor's subscriptions: records which actor watches which symbols.

    It writes ``watching`` (actor name → symbols); the replay driver reads it
    only while the graph is quiet, so never during a write.
    """

    def __init__(self, name: str, ctx: ActorContext, watching: dict[str, frozenset[str]]) -> None:
        super().__init__(name, ctx)
        self.watching = watching
        self.handlers = {WatchSymbols: self.on_watch}

    def on_watch(self, watch: WatchSymbols) -> None:
        self.watching[watch.watcher] = watch.symbols


@dataclass(frozen=True)
class SessionResult:
    """What one replayed session produced."""

    session: RecordedSession | RecordedFeed
    trades: list[TradeRecord]
    ticks: int


def session_inputs(session: RecordedSession | RecordedFeed) -> Iterator[tuple[datetime, list[FeedInput]]]:
    """The session's inputs grouped by instant, in time order: four ticks per bar of a bar file
    (:func:`replay.ticks.session_ticks`), or a feed recording's inputs by the time they were handled."""
    if isinstance(session, RecordedFeed):
        for moment, group in groupby(session.inputs(), key=lambda pair: pair[0]):
            yield moment, [item for _at, item in group]
    else:
        for moment, group in groupby(session_ticks(session.bars), key=lambda t: t.time):
            yield moment, list(group)


def instant_count(session: RecordedSession | RecordedFeed) -> int:
    """How many instants :func:`session_inputs` yields (a progress bar's total)."""
    if isinstance(session, RecordedFeed):
        return len({at for at, _item in session.rows})
    return len(TICK_OFFSETS) * len({b.start for b in session.bars})


def load_any(path: Path) -> RecordedSession | RecordedFeed:
    """A feed recording (``*.jsonl``, ``*.jsonl.gz``) or a 1-minute bar file; raises ``ReplayDataError``."""
    return load_recording(path) if is_recording(path) else load_session(path)


class ReplayRun:
    """Replays one session: ticks from the file, a :class:`SimulatedBroker`, the replay clock.

    The file is a 1-minute bar file (four ticks per bar) or a live day's feed
    recording (:mod:`replay.recording`): its ticks, history batches and lost
    connections at the times the live FeedActor handled them, trading from
    the end of its warm-up.

    For every instant of the data: due timers fire (one at a time), the
    simulated broker matches every trade of the instant (an order placed in
    reaction to an instant can only fill at a later one, as in live trading),
    then each tick goes to its SymbolActor and, as the FeedActor does live, to
    the OrderActors and the PortfolioActor watching its symbol (in name order)
    — each step followed by a wait until the graph is quiet. Time is the data's time throughout, so the same file and settings
    give the same events, run after run.
    """

    def __init__(
        self,
        session: RecordedSession | RecordedFeed,
        settings: Settings,
        store: JournalStore,
        events: EventLog,
        quiet_timeout: float = 60.0,
        fail_fast: bool = True,
        progress: Callable[[datetime], None] | None = None,
    ) -> None:
        self.session = session
        #: called with each instant's time once it is replayed (a progress bar)
        self.progress = progress
        self.settings = settings
        self.quiet_timeout = quiet_timeout
        self.store, self.events, self.fail_fast = store, events, fail_fast
        start = at(session.day, settings.market_open)
        if isinstance(session, RecordedFeed) and session.rows:
            start = min(start, session.rows[0][0])  # a live program starts before the open
        # the broker outlives the program's restarts (a recording's): its clock is the current program's
        self.broker = SimulatedBroker(lambda: self.clock.now(), settings.lot_size, settings.tick_size,
                                      set(session.symbols))
        #: set by :meth:`interrupt`: why the replay was asked to stop
        self._interrupted = ""
        self._boot(start, trading=not isinstance(session, RecordedFeed))

    def _boot(self, start: datetime, trading: bool) -> None:
        """A program: its clock, router, gateway and actor graph (a recorded live day trades from the end
        of its warm-up, as it did; a restart in a recording boots another, as the live program did)."""
        self.inflight = InFlight()
        if self._interrupted:
            self.inflight.fail(self._interrupted)
        self.router = Router(self.inflight)
        self.clock = SteppedClock(self.router, self.inflight, start, self.quiet_timeout)
        self.broker.set_listener(order_update_listener(self.router, self.clock.now))
        gateway = BrokerGateway(
            self.broker,
            self.clock.now,
            attempts=self.settings.broker_retries,
            delay=self.settings.broker_retry_delay,
            orders_per_second=None,
        )
        #: actor name -> watched symbols, written by the WatchRegistry actor
        self.watching: dict[str, frozenset[str]] = {}
        self.graph = Graph(
            self.settings,
            self.clock,
            self.router,
            gateway,
            self.store,
            self.events,
            self.session.symbols,
            fail_fast=self.fail_fast,
            extra=(ActorSpec(FEED, lambda: WatchRegistry.start(FEED, self.graph.ctx, self.watching)),),
            trading=trading,
        )

    def interrupt(self, reason: str) -> None:
        """Stop the replay at its next step (a signal): the graph's next wait raises ``GraphFailed``."""
        self._interrupted = reason
        self.inflight.fail(reason)

    def run(self) -> SessionResult:
        """Replay the whole session and return its trades. Raises ``GraphFailed`` if an actor crashes."""
        self.graph.start(self.clock.now())
        ticks = 0
        try:
            for moment, inputs in session_inputs(self.session):
                self.clock.advance_to(max(moment, self.clock.now()))
                ticks += self._deliver(inputs)
                if self.progress is not None:
                    self.progress(moment)
            # After the data: the 15:15 exit (if the data ended before it) is sent,
            # MARKET orders without a later trade fill at the last price, then the close.
            self.clock.advance_to(max(self.clock.now(), at(self.session.day, self.settings.force_exit)))
            self.broker.fill_market_orders()
            self._quiet()
            self.clock.advance_to(max(self.clock.now(), at(self.session.day, self.settings.market_close)))
            trades = self.router.ask(PORTFOLIO, GetTrades(), timeout=self.quiet_timeout)
        finally:
            self.graph.stop()
        return SessionResult(self.session, trades, ticks)

    def _deliver(self, inputs: list[FeedInput]) -> int:
        """One instant's inputs, as the FeedActor hands them on live; returns the ticks among them."""
        ticks = [item for item in inputs if isinstance(item, Tick)]
        # The exchange matches every trade of the instant before anyone can react to it.
        for tick in ticks:
            self.broker.on_tick(tick.symbol, tick.ltp, tick.time)
        self._quiet()
        for item in inputs:
            if isinstance(item, Tick):
                self.router.tell(symbol_actor(item.symbol), item)
                self._quiet()
                # like the FeedActor live: OrderActors and the Portfolio get the symbols they watch
                for name in self._watchers_of(item.symbol):
                    self.router.tell(name, item)
                    self._quiet()
            elif isinstance(item, HistoryBars):
                self.router.tell(symbol_actor(item.symbol), item)
                self._quiet()
            elif isinstance(item, FeedLost):
                for name in self.graph.symbol_actors:
                    self.router.tell(name, item)
                self._quiet()
            elif isinstance(item, Restarted):
                # the live program stopped (a crash, Ctrl-C) and started again: so does this one, on the same
                # journal and broker, and recovers as the live one did
                logger.info("replay: the recorded program started again at {:%H:%M:%S}", item.time)
                self.graph.stop()
                self._boot(item.time, trading=False)
                self.graph.start(self.clock.now())
                self._quiet()
            else:  # WarmedUp: the recorded session's warm-up ended here
                self.graph.start_trading()
                self._quiet()
        return len(ticks)

    def _watchers_of(self, symbol: str) -> list[str]:
        """Actors watching ``symbol``, in name order (read while the graph is quiet)."""
        return sorted(name for name, symbols in self.watching.items() if symbol in symbols)

    def _quiet(self) -> None:
        self.inflight.wait_quiet(self.quiet_timeout)


def replay_files(
    paths: list[Path],
    settings: Settings,
    events_path: Path | None,
    db_path: str,
    start: time | None = None,
    end: time | None = None,
) -> list[SessionResult]:
    """Replay each file as its own session (fresh actor graph), sharing one journal and event log.

    ``start``/``end`` (IST) keep only the bars of that window of each session.
    """
    sessions = [load_any(p).window(start, end) for p in paths]
    results = []
    with JournalStore(db_path) as store, EventLog(events_path) as events:
        for session in sessions:
            logger.info("replaying {} ({} symbols)", session.path.name, len(session.symbols))
            results.append(ReplayRun(session, settings, store, events).run())
    return results
