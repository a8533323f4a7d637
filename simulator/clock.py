"""The simulator's clock: market time that runs ``speed`` times faster than the wall clock.

Simulated time is ``start + (monotonic seconds since the origin) × speed``.
The origin is set when the clock is made and again by :meth:`SimClock.restart`
(the server restarts it when playback begins). Thread-safe: ``now`` only reads.
"""

from __future__ import annotations

import asyncio
import time
from datetime import datetime, timedelta


class SimClock:
    """Simulated market time.

    ``start`` is an aware datetime (the simulator uses IST); ``speed`` is
    simulated seconds per real second (1.0 = real time, 60 = one market minute
    per real second). Every datetime it returns has ``start``'s time zone.
    """

    def __init__(self, start: datetime, speed: float) -> None:
        if start.tzinfo is None:
            raise ValueError("SimClock start must be timezone-aware")
        if not speed > 0:
            raise ValueError(f"speed must be positive, got {speed!r}")
        self.start = start
        self.speed = float(speed)
        self._origin = time.monotonic()

    def restart(self) -> None:
        """Make ``now()`` equal ``start`` at this instant (playback begins)."""
        self._origin = time.monotonic()

    def elapsed(self) -> float:
        """Simulated seconds since ``start``."""
        return (time.monotonic() - self._origin) * self.speed

    def now(self) -> datetime:
        """The current simulated time (aware, ``start``'s zone)."""
        return self.start + timedelta(seconds=self.elapsed())

    def real_seconds_until(self, sim_time: datetime) -> float:
        """Wall-clock seconds until ``sim_time`` is reached; 0 if it has passed."""
        remaining = (sim_time - self.now()).total_seconds()
        return max(0.0, remaining / self.speed)

    def to_real_seconds(self, sim_seconds: float) -> float:
        """Wall-clock seconds that ``sim_seconds`` of simulated time take."""
        return sim_seconds / self.speed

    async def sleep_until(self, sim_time: datetime) -> None:
        """Asyncio sleep until simulated time reaches ``sim_time`` (returns at once if it has)."""
        delay = self.real_seconds_until(sim_time)
        if delay > 0:
            await asyncio.sleep(delay)

    async def sleep(self, sim_seconds: float) -> None:
        """Asyncio sleep for ``sim_seconds`` of simulated time."""
        if sim_seconds > 0:
            await asyncio.sleep(sim_seconds / self.speed)


#: A step less than this (real seconds) ahead of the pace goes on at once: the event loop cannot
#: sleep for less than about a millisecond, and the pace holds on average.
MIN_SLEEP = 0.005
#: Real seconds a paced clock may fall behind its pace and still make them up by running faster;
#: further behind, it starts counting afresh (a long wait for a client is not made up).
MAX_LAG = 1.0


class PacedClock(SimClock):
    """Simulated time that moves only when the server steps it: paced to its slowest client.

    ``now()`` is the current step's time and stays there while the clients
    react to it. :meth:`step_to` moves it on, but never faster than ``speed``
    simulated seconds per real second: each step waits until the wall clock
    has caught up with it. A clock that fell behind (its clients were slow)
    makes up at most :data:`MAX_LAG` real seconds by going on without waiting;
    beyond that it counts afresh from where it is, so a long wait for a
    client is never followed by a race to catch up.
    """

    def __init__(self, start: datetime, speed: float) -> None:
        super().__init__(start, speed)
        self._now = start

    def restart(self) -> None:
        """Set the wall-clock origin of the pace to now, at the current simulated time."""
        self.start, self._origin = self._now, time.monotonic()

    def now(self) -> datetime:
        return self._now

    async def step_to(self, sim_time: datetime) -> None:
        """Wait out the pace, then make ``now()`` equal ``sim_time`` (never earlier than now)."""
        if sim_time <= self._now:
            return
        due = self._origin + (sim_time - self.start).total_seconds() / self.speed
        delay = due - time.monotonic()
        if delay > MIN_SLEEP:
            await asyncio.sleep(delay)
        elif delay < -MAX_LAG:
            self.restart()  # far behind: the clients set the pace; count afresh
        self._now = sim_time
