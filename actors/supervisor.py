"""The Supervisor actor and the Graph that builds, starts and stops the actor system."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pykka
from loguru import logger
from pydantic import AwareDatetime

from actors.base import SUPERVISOR, ActorContext, BaseActor, InFlight, Router
from actors.clock import Clock
from actors.filter_supervisor import FilterSupervisor
from actors.journal import JournalActor
from actors.names import FILTER, JOURNAL, PORTFOLIO, order_actor, symbol_actor
from actors.order import OrderActor
from actors.portfolio import PortfolioActor
from actors.symbol import SymbolActor
from broker.gateway import BrokerGateway
from config.settings import Settings
from messages.base import Message, OptionType
from messages.orders import StartTrading, StopEntries
from messages.portfolio import ForceExitDue, ReconcileDue, SessionEndDue
from messages.system import ActorFailed, Alert, Halt, Stop
from persistence.event_log import EventLog
from persistence.journal_store import JournalStore
from persistence.trade_files import TradeFiles
from strategy.session import at

Factory = Callable[[], pykka.ActorRef[Any]]

#: Seconds to wait for a failed actor to finish stopping before restarting it.
RESTART_STOP_WAIT = 2.0


class RestartDue(Message):
    """Timer: restart the actor called ``name`` now."""

    name: str
    time: AwareDatetime


@dataclass(frozen=True)
class ActorSpec:
    """How to (re)start one named actor."""

    name: str
    factory: Factory


class Supervisor(BaseActor):
    """Restarts a failed actor one-for-one with backoff (1, 2, 4 … s).

    More than ``MAX_RESTARTS`` failures of one actor within
    ``RESTART_WINDOW_SECONDS`` escalates to a Halt (flatten, no new entries,
    alert). With ``fail_fast`` (replay, tests) the first failure instead wakes
    whoever waits for the graph with :class:`actors.base.GraphFailed`.
    """

    def __init__(self, name: str, ctx: ActorContext, specs: dict[str, ActorSpec], fail_fast: bool) -> None:
        super().__init__(name, ctx)
        self.specs = specs
        self.fail_fast = fail_fast
        self.failures: dict[str, deque[datetime]] = {}
        self.handlers = {ActorFailed: self.on_failed, RestartDue: self.on_restart_due}

    def on_failed(self, failed: ActorFailed) -> None:
        if self.fail_fast:
            self.router.inflight.fail(f"actor {failed.name} failed: {failed.error}")
            return
        old = self.router.ref(failed.name)
        if old is not None and old.actor_stopped.wait(RESTART_STOP_WAIT):
            # the messages left in its inbox are dropped with it: the graph must not wait for them
            lost = self.router.inflight.forget(failed.name)
            if lost:
                logger.warning("actor {} failed with {} message(s) unhandled; they are lost", failed.name, lost)
        now = self.clock.now()
        window = timedelta(seconds=self.settings.restart_window_seconds)
        history = self.failures.setdefault(failed.name, deque())
        history.append(now)
        while history and now - history[0] > window:
            history.popleft()
        text = f"actor {failed.name} failed ({failed.error}); restart {len(history)}"
        logger.error(text)
        self.tell(JOURNAL, Alert(time=now, level="critical", text=text))
        if len(history) > self.settings.max_restarts:
            self.tell(PORTFOLIO, Halt(reason=f"supervisor: {failed.name} keeps failing", time=now))
        due = now + timedelta(seconds=min(30.0, 2.0 ** (len(history) - 1)))
        self.clock.schedule(due, self.name, RestartDue(name=failed.name, time=due))

    def on_restart_due(self, due: RestartDue) -> None:
        spec = self.specs.get(due.name)
        if spec is None:
            return
        old = self.router.ref(due.name)
        # pykka stops a failed actor right after its handler raised; an actor
        # that failed answering an ask keeps running and needs no restart.
        if old is not None and not old.actor_stopped.wait(RESTART_STOP_WAIT):
            logger.warning("actor {} failed but kept running; not restarted", due.name)
            return
        self.router.register(due.name, spec.factory())
        logger.warning("actor {} restarted", due.name)


#: Seconds start_trading and stop_entries wait for each OrderActor to take their message.
START_TRADING_WAIT = 60.0


class Graph:
    """The whole actor system for one session: build, start, stop.

    Start order is sinks first (Journal, Portfolio, OrderActors, Filter,
    SymbolActors, then ``extra`` such as the FeedActor), so no actor ever
    sends to a name that is not there yet. With ``trading=False`` the
    OrderActors hold their intents until :meth:`start_trading` (warm-up).
    """

    def __init__(
        self,
        settings: Settings,
        clock: Clock,
        router: Router,
        gateway: BrokerGateway,
        store: JournalStore,
        events: EventLog,
        symbols: list[str],
        fail_fast: bool = False,
        halted_reason: str = "",
        trading: bool = True,
        extra: tuple[ActorSpec, ...] = (),
        trade_files: TradeFiles | None = None,
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.router = router
        self.inflight: InFlight = router.inflight
        self.ctx = ActorContext(settings=settings, router=router, clock=clock)
        self.trading = trading
        ctx = self.ctx

        def order_spec(option_type: OptionType) -> ActorSpec:
            name = order_actor(option_type)
            # a restarted OrderActor trades if trading has started by then
            return ActorSpec(name, lambda: OrderActor.start(name, ctx, option_type, gateway, self.trading, store))

        specs = [
            ActorSpec(JOURNAL, lambda: JournalActor.start(JOURNAL, ctx, store, events, trade_files)),
            # before the PortfolioActor and the OrderActors, whose recovery tells it the open symbols
            # and asks it for the best again
            ActorSpec(FILTER, lambda: FilterSupervisor.start(FILTER, ctx)),
            ActorSpec(PORTFOLIO, lambda: PortfolioActor.start(PORTFOLIO, ctx, gateway, halted_reason, store)),
            order_spec("CE"),
            order_spec("PE"),
        ]
        self.symbol_actors = [symbol_actor(symbol) for symbol in symbols]
        for symbol in symbols:
            name = symbol_actor(symbol)
            specs.append(ActorSpec(name, lambda name=name, symbol=symbol: SymbolActor.start(name, ctx, symbol)))
        specs.extend(extra)
        self.specs = {spec.name: spec for spec in specs}
        self.fail_fast = fail_fast

    def start(self, session_day: datetime) -> None:
        """Start every actor and schedule the session's timers (15:15, close, reconciliation).

        The PortfolioActor and the OrderActors start with what the journal holds
        of the day (their recovery, the same after a crash and a restart): the
        day's R, the ±5R halt and the summary count every position of the day.
        """
        ctx = self.ctx
        self.router.register(SUPERVISOR, Supervisor.start(SUPERVISOR, ctx, self.specs, self.fail_fast))
        for spec in self.specs.values():
            self.router.register(spec.name, spec.factory())
        s = self.settings
        day = session_day.date()
        force = at(day, s.force_exit)
        close = at(day, s.market_close)
        self.clock.schedule(force, PORTFOLIO, ForceExitDue(time=force))
        # the close: every bar in progress closes first, then the pool empties (strategy.md §2)
        for name in self.symbol_actors:
            self.clock.schedule(close, name, SessionEndDue(time=close))
        self.clock.schedule(close, FILTER, SessionEndDue(time=close))
        self.clock.schedule(close, PORTFOLIO, SessionEndDue(time=close))
        first = self.clock.now() + timedelta(seconds=s.reconcile_seconds)
        self.clock.schedule(first, PORTFOLIO, ReconcileDue(time=first))

    def start_trading(self) -> None:
        """End of the warm-up: the OrderActors act on their intents from now on, CE first, then PE.

        One after the other (an ask each), so their first orders reach the
        broker in the same order every time. A failure is logged: the
        supervisor restarts the actor, which then trades.
        """
        self.trading = True
        now = self.clock.now()
        logger.info("warm-up done: trading from {:%H:%M:%S} IST", now)
        for option_type in ("CE", "PE"):
            try:
                self.router.ask(order_actor(option_type), StartTrading(time=now), timeout=START_TRADING_WAIT)
            except Exception as exc:  # noqa: BLE001 - the warm-up must end for the other type too
                logger.error("start of trading for {} failed: {!r}", option_type, exc)

    def stop_entries(self) -> None:
        """Shutdown before the close: each OrderActor cancels its working entry, CE then PE; stops stay.

        From here on an OrderActor the supervisor restarts starts without
        trading, so it never enters again. A failure is logged.
        """
        self.trading = False
        now = self.clock.now()
        for option_type in ("CE", "PE"):  # one after the other, as flattening goes
            try:
                self.router.ask(order_actor(option_type), StopEntries(time=now), timeout=START_TRADING_WAIT)
            except Exception as exc:  # noqa: BLE001 - stopping must go on
                logger.error("cancelling the {} entries failed: {!r}", option_type, exc)

    def stop(self) -> None:
        """Flush the journal, then stop every actor (reverse start order), each after what it was sent before.

        Whoever closes the journal next must find no actor of the graph
        running, so this goes on to the end whatever happens on the way: a
        step that fails is logged; a KeyboardInterrupt (a program without
        signal handlers, Ctrl-C) is held until every actor has stopped, then
        raised.
        """
        held: KeyboardInterrupt | None = None
        try:
            self.router.ask(JOURNAL, Stop(), timeout=30)
        except KeyboardInterrupt as exc:
            held = exc
        except Exception:  # noqa: BLE001 - stopping must go on
            logger.exception("journal flush at stop failed")
        for name in [SUPERVISOR, *reversed(list(self.specs))]:
            ref = self.router.ref(name)
            while ref is not None and ref.is_alive():
                try:
                    ref.stop()
                except KeyboardInterrupt as exc:
                    held = held or exc
                    logger.warning("already stopping; the interrupt waits until every actor has stopped")
                    continue  # asked to stop already: wait for it again
                except Exception:  # noqa: BLE001 - stopping must go on
                    logger.exception("stopping actor {} failed", name)
                break
            self.router.unregister(name)
        if held is not None:
            raise held
