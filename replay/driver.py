"""Drives the actor graph through a recorded session with the replay clock."""

from __future__ import annotations

from collections.abc import Callable
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
from messages.market import WatchSymbols
from messages.portfolio import GetTrades, TradeRecord
from persistence.event_log import EventLog
from persistence.journal_store import JournalStore
from replay.data import RecordedSession, load_session
from replay.ticks import session_ticks
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

    session: RecordedSession
    trades: list[TradeRecord]
    ticks: int


class ReplayRun:
    """Replays one session: ticks from the file, a :class:`SimulatedBroker`, the replay clock.

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
        session: RecordedSession,
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
        self.inflight = InFlight()
        self.router = Router(self.inflight)
        start = at(session.day, settings.market_open)
        self.clock = SteppedClock(self.router, self.inflight, start, quiet_timeout)
        self.broker = SimulatedBroker(self.clock.now, settings.lot_size, settings.tick_size, set(session.symbols))
        self.broker.set_listener(order_update_listener(self.router, self.clock.now))
        gateway = BrokerGateway(
            self.broker,
            self.clock.now,
            attempts=settings.broker_retries,
            delay=settings.broker_retry_delay,
            orders_per_second=None,
        )
        #: actor name -> watched symbols, written by the WatchRegistry actor
        self.watching: dict[str, frozenset[str]] = {}
        self.graph = Graph(
            settings,
            self.clock,
            self.router,
            gateway,
            store,
            events,
            session.symbols,
            fail_fast=fail_fast,
            extra=(ActorSpec(FEED, lambda: WatchRegistry.start(FEED, self.graph.ctx, self.watching)),),
        )

    def run(self) -> SessionResult:
        """Replay the whole session and return its trades. Raises ``GraphFailed`` if an actor crashes."""
        self.graph.start(self.clock.now())
        ticks = 0
        try:
            for moment, group in groupby(session_ticks(self.session.bars), key=lambda t: t.time):
                instant = list(group)
                ticks += len(instant)
                self.clock.advance_to(moment)
                # The exchange matches every trade of the instant before anyone can react to it.
                for tick in instant:
                    self.broker.on_tick(tick.symbol, tick.ltp, tick.time)
                self._quiet()
                for tick in instant:
                    self.router.tell(symbol_actor(tick.symbol), tick)
                    self._quiet()
                    # like the FeedActor live: OrderActors and the Portfolio get the symbols they watch
                    for name in self._watchers_of(tick.symbol):
                        self.router.tell(name, tick)
                        self._quiet()
                if self.progress is not None:
                    self.progress(moment)
            # After the data: the 15:15 exit (if the data ended before it) is sent,
            # MARKET orders without a later trade fill at the last price, then the close.
            self.clock.advance_to(max(self.clock.now(), at(self.session.day, self.settings.force_exit)))
            self.broker.fill_market_orders()
            self._quiet()
            self.clock.advance_to(at(self.session.day, self.settings.market_close))
            trades = self.router.ask(PORTFOLIO, GetTrades(), timeout=self.quiet_timeout)
        finally:
            self.graph.stop()
        return SessionResult(self.session, trades, ticks)

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
    sessions = [load_session(p).window(start, end) for p in paths]
    results = []
    with JournalStore(db_path) as store, EventLog(events_path) as events:
        for session in sessions:
            logger.info("replaying {} ({} symbols, {} bars)", session.path.name, len(session.symbols), len(session.bars))
            results.append(ReplayRun(session, settings, store, events).run())
    return results
