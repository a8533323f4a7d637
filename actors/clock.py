"""The one source of time: wall clock for live trading, stepped time for replay and paced sessions.

Nothing else reads the system clock. Timers deliver a message to an actor
*name* through the router at (or after) a given time.
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from abc import ABC, abstractmethod
from datetime import datetime, timedelta
from typing import Any

from loguru import logger

from actors.base import InFlight, Router
from messages.base import IST


class Clock(ABC):
    """``now()`` and one-shot timers."""

    #: simulated seconds per real second (1 for the real market)
    speed = 1.0

    def __init__(self, router: Router) -> None:
        self.router = router
        self._timers: list[tuple[datetime, bool, int, str, Any]] = []
        self._seq = itertools.count()
        self._lock = threading.Lock()

    @abstractmethod
    def now(self) -> datetime:
        """The current time, timezone-aware, IST."""

    def schedule(self, when: datetime, target: str, message: Any, late: bool = False) -> None:
        """Deliver ``message`` to the actor named ``target`` at ``when``.

        Timers due at the same time fire in the order they were scheduled,
        except that a ``late`` one fires after every other timer due then,
        including those scheduled while they fire: a decision taken "at the
        bar close" (a deferred switch) sees everything that close changed.
        """
        with self._lock:
            heapq.heappush(self._timers, (when, late, next(self._seq), target, message))
        self._timer_added()

    def span(self, real_seconds: float) -> timedelta:
        """How much of this clock's time ``real_seconds`` of real time is (for tolerances)."""
        return timedelta(seconds=real_seconds)

    def _timer_added(self) -> None:  # noqa: B027 - optional hook
        pass

    def stop(self) -> None:  # noqa: B027 - only clocks with a timer thread have something to stop
        """Stop firing timers (pending timers are dropped)."""

    def _pop_due(self, until: datetime) -> tuple[datetime, str, Any] | None:
        with self._lock:
            if self._timers and self._timers[0][0] <= until:
                when, _late, _, target, message = heapq.heappop(self._timers)
                return when, target, message
        return None


class SteppedClock(Clock):
    """Time that moves only when told: the data's time in replay, the simulator's steps in a paced session.

    The replay driver (or, against a paced simulator, :class:`live.pacing.Pacer`)
    moves it forward with :meth:`advance_to`. ``speed`` is what throttles
    scale by (the simulator's speed; 1 in replay).
    """

    def __init__(
        self, router: Router, inflight: InFlight, start: datetime, quiet_timeout: float = 30.0, speed: float = 1.0
    ) -> None:
        super().__init__(router)
        self.speed = speed
        self._now = start
        self._inflight = inflight
        self._quiet_timeout = quiet_timeout

    def now(self) -> datetime:
        return self._now

    def advance_to(self, moment: datetime) -> None:
        """Fire every timer due at or before ``moment``, one at a time, waiting for
        the graph to go quiet after each; then set the time to ``moment``."""
        if moment < self._now:
            raise ValueError(f"replay time cannot go back from {self._now} to {moment}")
        while (due := self._pop_due(moment)) is not None:
            when, target, message = due
            self._now = max(self._now, when)
            self.router.tell(target, message)
            self._inflight.wait_quiet(self._quiet_timeout)
        self._now = moment


class WallClock(Clock):
    """The machine's clock in IST, with a timer thread."""

    def __init__(self, router: Router) -> None:
        super().__init__(router)
        self._wake = threading.Event()
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="clock-timers", daemon=True)
        self._thread.start()

    def now(self) -> datetime:
        return datetime.now(IST)

    def stop(self) -> None:
        """Stop the timer thread (pending timers are dropped)."""
        self._stopped.set()
        self._wake.set()
        self._thread.join(timeout=5)

    def _timer_added(self) -> None:
        self._wake.set()

    def _run(self) -> None:
        while not self._stopped.is_set():
            while (due := self._pop_due(self.now())) is not None:
                _, target, message = due
                try:
                    self.router.tell(target, message)
                except Exception:  # noqa: BLE001 - the timer thread must survive
                    logger.exception("timer delivery to {} failed", target)
            with self._lock:
                next_due = self._timers[0][0] if self._timers else None
            wait = 1.0 if next_due is None else (next_due - self.now()).total_seconds() / self.speed
            self._wake.wait(max(0.0, min(1.0, wait)))
            self._wake.clear()


class ScaledClock(WallClock):
    """Simulated market time: ``start`` plus real elapsed time × ``speed``.

    Used against the simulator (demo, tests), whose clock runs the same way;
    ``start`` and ``speed`` come from the simulator's ``/sim/clock``.
    """

    def __init__(self, router: Router, start: datetime, speed: float) -> None:
        if speed <= 0:
            raise ValueError(f"speed must be positive, got {speed}")
        self._start = start.astimezone(IST)
        self._origin = time.monotonic()
        self.speed = speed
        super().__init__(router)

    def now(self) -> datetime:
        return self._start + timedelta(seconds=(time.monotonic() - self._origin) * self.speed)

    def span(self, real_seconds: float) -> timedelta:
        """``real_seconds`` × speed: this clock follows the simulator's only to within real time."""
        return timedelta(seconds=real_seconds * self.speed)
