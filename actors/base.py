"""Actor plumbing: the in-flight counter, the router (name → actor) and the base actor."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pykka
from loguru import logger

from config.settings import Settings
from messages.market import ResendWatch, WatchSymbols
from messages.system import ActorFailed

if TYPE_CHECKING:
    from actors.clock import Clock

#: Name the supervisor registers under; actors report failures there.
SUPERVISOR = "supervisor"
#: Name of the FeedActor (live): watchers tell it which symbols' ticks they need.
FEED = "feed"


class GraphFailed(RuntimeError):
    """An actor of the graph failed while someone was waiting for it to go quiet."""


class InFlight:
    """Counts messages sent to each actor name and not yet handled.

    The replay driver and a paced session's Pacer wait for zero ("the graph
    is quiet") before they hand in the next input; in live trading nobody
    waits and the count is only a statistic. An actor that crashes drops the
    messages still in its inbox: :meth:`forget` writes them off.
    """

    def __init__(self) -> None:
        self._count = 0
        self._by_name: dict[str, int] = {}
        self._cond = threading.Condition()
        self._failure: str | None = None

    def add(self, name: str) -> None:
        """A message for the actor called ``name`` is on its way."""
        with self._cond:
            self._count += 1
            self._by_name[name] = self._by_name.get(name, 0) + 1

    def done(self, name: str) -> None:
        """A message for ``name`` was handled (or could not be delivered)."""
        with self._cond:
            self._count -= 1
            self._by_name[name] = self._by_name.get(name, 0) - 1
            if self._count <= 0:
                self._cond.notify_all()

    def forget(self, name: str) -> int:
        """The actor called ``name`` is dead: its unhandled messages will never be; returns how many."""
        with self._cond:
            lost = self._by_name.pop(name, 0)
            self._count -= lost
            if self._count <= 0:
                self._cond.notify_all()
            return lost

    def fail(self, reason: str) -> None:
        """Wake every waiter with :class:`GraphFailed`."""
        with self._cond:
            self._failure = reason
            self._cond.notify_all()

    def wait_quiet(self, timeout: float = 30.0) -> None:
        """Block until no message is in flight.

        Raises :class:`GraphFailed` after :meth:`fail`, TimeoutError after ``timeout`` seconds.
        """
        with self._cond:
            ok = self._cond.wait_for(lambda: self._count <= 0 or self._failure is not None, timeout)
            if self._failure is not None:
                raise GraphFailed(self._failure)
            if not ok:
                raise TimeoutError(f"graph not quiet after {timeout} s ({self._count} messages in flight)")


class Router:
    """Current actor reference for each actor name; every message goes through here.

    A restarted actor re-registers under its name, so senders never hold a
    stale reference. A message to a name with no live actor is dropped and
    logged (architecture.md: messages to a dead actor are lost).
    """

    def __init__(self, inflight: InFlight) -> None:
        self.inflight = inflight
        self._refs: dict[str, pykka.ActorRef[Any]] = {}

    def register(self, name: str, ref: pykka.ActorRef[Any]) -> None:
        self._refs[name] = ref

    def unregister(self, name: str) -> None:
        self._refs.pop(name, None)

    def names(self) -> list[str]:
        return list(self._refs)

    def ref(self, name: str) -> pykka.ActorRef[Any] | None:
        return self._refs.get(name)

    def tell(self, name: str, message: Any) -> bool:
        """Send without waiting. False if no live actor has that name."""
        ref = self._refs.get(name)
        if ref is None:
            logger.warning("no actor {!r}; dropped {}", name, type(message).__name__)
            return False
        self.inflight.add(name)
        try:
            ref.tell(message)
        except pykka.ActorDeadError:
            self.inflight.done(name)
            logger.warning("actor {!r} is dead; dropped {}", name, type(message).__name__)
            return False
        return True

    def ask(self, name: str, message: Any, timeout: float = 10.0) -> Any:
        """Send and wait for the reply. Raises ``pykka.ActorDeadError`` or ``TimeoutError``."""
        ref = self._refs.get(name)
        if ref is None:
            raise pykka.ActorDeadError(f"no actor {name!r}")
        self.inflight.add(name)
        try:
            future = ref.ask(message, block=False)
        except pykka.ActorDeadError:
            self.inflight.done(name)
            raise
        return future.get(timeout=timeout)


@dataclass(frozen=True)
class ActorContext:
    """What every actor of one graph shares: settings, router and clock."""

    settings: Settings
    router: Router
    clock: Clock


Handler = Callable[[Any], Any]


class BaseActor(pykka.ThreadingActor):
    """A named actor that dispatches messages by type to ``handlers``.

    A handler that raises is reported to the supervisor at once; pykka then
    stops the actor (for a told message) and the supervisor restarts it. A
    message of an unknown type is logged and ignored.
    """

    def __init__(self, name: str, ctx: ActorContext) -> None:
        super().__init__()
        self.name = name
        self.ctx = ctx
        self.settings = ctx.settings
        self.router = ctx.router
        self.clock = ctx.clock
        self.handlers: dict[type, Handler] = {}
        self._outbox: list[tuple[str, Any]] = []
        self._watching: frozenset[str] | None = None

    @classmethod
    def start(cls, name: str, ctx: ActorContext, *args: Any, **kwargs: Any) -> pykka.ActorRef[Any]:
        """Start the actor; its :meth:`started` work counts as in flight, like a message."""
        ctx.router.inflight.add(name)
        try:
            return super().start(name, ctx, *args, **kwargs)
        except BaseException:
            ctx.router.inflight.done(name)
            raise

    def on_start(self) -> None:
        try:
            self.started()
        finally:
            self._sync_watch()
            self.flush_deferred()
            self.router.inflight.done(self.name)

    def started(self) -> None:  # noqa: B027 - optional hook
        """Work to do in the actor's thread before its first message (recovery, connecting)."""

    def on_receive(self, message: Any) -> Any:
        try:
            if isinstance(message, ResendWatch):
                self._watching = None
                return None
            handler = self.handlers.get(type(message))
            if handler is None:
                logger.error("{} got an unexpected {}: {!r}", self.name, type(message).__name__, message)
                return None
            return handler(message)
        except Exception as exc:
            # Report before this message counts as handled, so the graph never
            # looks quiet while a failure is still unknown to the supervisor.
            if self.name != SUPERVISOR:
                self.router.tell(SUPERVISOR, ActorFailed(name=self.name, error=repr(exc)))
            raise
        finally:
            self._sync_watch()
            self.flush_deferred()
            self.router.inflight.done(self.name)

    def watched_symbols(self) -> frozenset[str] | None:
        """Symbols whose ticks this actor needs from a FeedActor; None: not a watcher."""
        return None

    def _sync_watch(self) -> None:
        symbols = self.watched_symbols()
        if symbols is None or symbols == self._watching or self.router.ref(FEED) is None:
            return
        self._watching = symbols
        self.router.tell(FEED, WatchSymbols(watcher=self.name, symbols=symbols, time=self.clock.now()))

    def on_failure(self, exception_type: Any, exception_value: Any, traceback: Any) -> None:
        logger.opt(exception=(exception_type, exception_value, traceback)).error("actor {} crashed", self.name)

    def tell(self, name: str, message: Any) -> bool:
        """Send ``message`` to the actor called ``name``."""
        return self.router.tell(name, message)

    def defer(self, name: str, message: Any) -> None:
        """Send ``message`` when the current handler returns (or before the next ask).

        Everything the handler tells directly (e.g. the journal) is then
        enqueued before anything the receiver of ``message`` does in reaction,
        which keeps the event log in causal order.
        """
        self._outbox.append((name, message))

    def flush_deferred(self) -> None:
        """Send the deferred messages now, in the order they were deferred."""
        outbox, self._outbox = self._outbox, []
        for name, message in outbox:
            self.router.tell(name, message)

    def ask(self, name: str, message: Any, timeout: float = 10.0) -> Any:
        """Flush deferred messages, then ask ``name`` and wait for its reply."""
        self.flush_deferred()
        return self.router.ask(name, message, timeout=timeout)
