"""Message-level test plumbing: probe actors standing in for an actor's neighbours.

One real actor runs under test; every name it talks to is a :class:`ProbeActor`
that records what it receives and answers asks from a per-type policy. The
:class:`Harness` owns the in-flight counter, a router that also logs every send
(so tests can check the order in which the actor under test sent messages to
*different* neighbours), and a :class:`SteppedClock`. Waiting is always
``inflight.wait_quiet`` or a condition with a timeout, never a sleep.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any

import pykka

from actors.base import SUPERVISOR, ActorContext, BaseActor, InFlight, Router
from actors.clock import SteppedClock
from config.settings import Settings
from messages.base import IST
from messages.system import ActorFailed

#: Seconds any wait in these tests may take before it counts as a failure.
QUIET = 5.0

DAY = datetime(2021, 6, 11, tzinfo=IST).date()


def t(hour: int, minute: int, second: int = 0, micro: int = 0) -> datetime:
    """A time on the test session day, IST."""
    return datetime(DAY.year, DAY.month, DAY.day, hour, minute, second, micro, tzinfo=IST)


class Probe:
    """The test's handle on one probe actor: what it received, and how it answers asks.

    ``replies`` maps a message type to a value or to a function of the message;
    types not in it are answered with ``None``. With ``unpack``, a message is
    recorded as the list ``unpack(message)`` returns (e.g. the signals of a
    batch); :attr:`messages` keeps them as they came.
    """

    def __init__(self, name: str, unpack: Callable[[Any], list[Any]] | None = None) -> None:
        self.name = name
        self.replies: dict[type, Any] = {}
        self._unpack = unpack
        self._received: list[Any] = []
        self._messages: list[Any] = []
        self._cond = threading.Condition()

    def record(self, message: Any) -> Any:
        with self._cond:
            self._messages.append(message)
            self._received.extend(self._unpack(message) if self._unpack else [message])
            self._cond.notify_all()
        reply = self.replies.get(type(message))
        return reply(message) if callable(reply) else reply

    @property
    def received(self) -> list[Any]:
        with self._cond:
            return list(self._received)

    @property
    def messages(self) -> list[Any]:
        """The messages as they arrived (not unpacked)."""
        with self._cond:
            return list(self._messages)

    def of(self, kind: type) -> list[Any]:
        """The received messages of one type, in arrival order."""
        return [m for m in self.received if isinstance(m, kind)]

    def types(self) -> list[str]:
        return [type(m).__name__ for m in self.received]

    def wait_for(self, kind: type, count: int = 1, timeout: float = QUIET) -> list[Any]:
        """Block until ``count`` messages of ``kind`` arrived; AssertionError after ``timeout``."""
        with self._cond:
            ok = self._cond.wait_for(lambda: sum(isinstance(m, kind) for m in self._received) >= count, timeout)
        if not ok:
            raise AssertionError(f"{self.name}: fewer than {count} {kind.__name__} after {timeout} s: {self.types()}")
        return self.of(kind)

    def clear(self) -> None:
        with self._cond:
            self._received.clear()
            self._messages.clear()


class ProbeActor(BaseActor):
    """Records every message into its :class:`Probe` and answers with the probe's policy."""

    def __init__(self, name: str, ctx: ActorContext, probe: Probe) -> None:
        super().__init__(name, ctx)
        self.probe = probe

    def on_receive(self, message: Any) -> Any:
        try:
            return self.probe.record(message)
        finally:
            self.router.inflight.done(self.name)


class RecordingRouter(Router):
    """A :class:`Router` that also logs ``(name, message)`` for every tell and ask, in send order."""

    def __init__(self, inflight: InFlight) -> None:
        super().__init__(inflight)
        self.log: list[tuple[str, Any]] = []
        self._log_lock = threading.Lock()

    def tell(self, name: str, message: Any) -> bool:
        with self._log_lock:
            self.log.append((name, message))
        return super().tell(name, message)

    def ask(self, name: str, message: Any, timeout: float = 10.0) -> Any:
        with self._log_lock:
            self.log.append((name, message))
        return super().ask(name, message, timeout=timeout)


class Harness:
    """InFlight + router + replay clock + settings for one test, and the probes.

    A probe is always registered as the supervisor: an unexpected
    :class:`ActorFailed` from the actor under test fails the next :meth:`quiet`.
    """

    def __init__(self, settings: Settings, start: datetime) -> None:
        self.settings = settings
        self.inflight = InFlight()
        self.router = RecordingRouter(self.inflight)
        self.clock = SteppedClock(self.router, self.inflight, start, quiet_timeout=QUIET)
        self.ctx = ActorContext(settings=settings, router=self.router, clock=self.clock)
        self.expect_failures = False
        self.supervisor = self.probe(SUPERVISOR)

    def probe(
        self, name: str, replies: dict[type, Any] | None = None, unpack: Callable[[Any], list[Any]] | None = None
    ) -> Probe:
        """Register a probe actor under ``name``, answering asks from ``replies`` (see :class:`Probe`)."""
        probe = Probe(name, unpack)
        probe.replies.update(replies or {})
        self.router.register(name, ProbeActor.start(name, self.ctx, probe))
        return probe

    def start(self, actor_class: type[BaseActor], name: str, *args: Any, **kwargs: Any) -> pykka.ActorRef[Any]:
        """Start the actor under test and register it under ``name``."""
        ref = actor_class.start(name, self.ctx, *args, **kwargs)
        self.router.register(name, ref)
        return ref

    def tell(self, name: str, *messages: Any) -> None:
        """Send each message through the router, then wait until the graph is quiet."""
        for message in messages:
            assert self.router.tell(name, message), f"no live actor {name!r}"
        self.quiet()

    def ask(self, name: str, message: Any) -> Any:
        reply = self.router.ask(name, message, timeout=QUIET)
        self.quiet()
        return reply

    def advance(self, moment: datetime) -> None:
        """Move replay time to ``moment``, firing due timers one at a time."""
        self.clock.advance_to(moment)
        self.quiet()

    def quiet(self) -> None:
        self.inflight.wait_quiet(timeout=QUIET)
        failures = self.supervisor.of(ActorFailed)
        if failures and not self.expect_failures:
            raise AssertionError(f"an actor crashed: {failures}")

    def sent(self, *names: str) -> list[tuple[str, Any]]:
        """Every ``(name, message)`` sent to one of ``names``, in send order."""
        with self.router._log_lock:  # noqa: SLF001 - our own subclass
            return [(n, m) for n, m in self.router.log if n in names]
