"""The trader's side of a paced simulator session (``run.py demo``, ``run.py sim --paced``).

A paced simulator moves its clock in steps and waits, at the end of each
step, until this client acknowledges it (``simulator.server``, "Paced
playback"). :class:`Pacer` delivers what the WebSocket brings the way the
replay driver does: one input at a time — a tick, an order update, a
connection change, or a clock step — each followed by a wait until the actor
graph is quiet, and acknowledges a clock step only then. The clock moves to
each tick's time before the tick is delivered (timers due earlier fire
first) and to the step's time at the step's end. So every reaction to a step
(orders placed, modified, cancelled) reaches the simulator before it matches
the next step, and the graph handles the inputs in the same order on every
run, on any machine, under any load.

The actors do not know about it: the Pacer stands between the WebSocket
client's callbacks and the FeedActor's, and moves the
:class:`~actors.clock.SteppedClock` that the graph reads.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any

from loguru import logger

from actors.base import GraphFailed, InFlight
from actors.clock import SteppedClock
from actors.feed import Feed, FeedCallbacks
from messages.market import Tick

#: Real seconds one input may keep the graph busy before the Pacer stops waiting and says so.
QUIET_TIMEOUT = 120.0

_STOP = object()


class Pacer:
    """Serialises a paced session's feed into the actor graph (module doc).

    ``callbacks`` are the FeedActor's; the ``on_*`` methods of this object go
    to the WebSocket client in their place (they only queue, so the client's
    thread never waits). :meth:`attach` takes the client, and :meth:`start`
    and :meth:`stop` run both. An input whose handling does not go quiet
    within ``quiet_timeout`` real seconds is logged and the session goes on.
    """

    def __init__(
        self, callbacks: FeedCallbacks, clock: SteppedClock, inflight: InFlight, quiet_timeout: float = QUIET_TIMEOUT
    ) -> None:
        self._callbacks = callbacks
        self._clock = clock
        self._inflight = inflight
        self._quiet_timeout = quiet_timeout
        self._inputs: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sim-pacer", daemon=True)
        self._feed: Feed | None = None

    def attach(self, feed: Feed) -> Pacer:
        """The WebSocket client whose callbacks are this object's ``on_*`` methods."""
        self._feed = feed
        return self

    # --- the WebSocket client's callbacks (its thread) ---------------------------------------
    def on_tick(self, tick: Tick) -> None:
        self._inputs.put(lambda: self._deliver_tick(tick))

    def on_order_update(self, update: Any) -> None:
        self._inputs.put(lambda: self._deliver(self._callbacks.on_order_update, update))

    def on_connected(self, connection: int) -> None:
        self._inputs.put(lambda: self._deliver(self._callbacks.on_connected, connection))

    def on_disconnected(self, reason: str) -> None:
        self._inputs.put(lambda: self._deliver(self._callbacks.on_disconnected, reason))

    def on_sim_clock(self, moment: datetime, ack: Callable[[], None]) -> None:
        self._inputs.put(lambda: self._advance(moment, ack))

    # --- Feed -----------------------------------------------------------------------------------
    def start(self) -> None:
        """Start delivering, then the WebSocket client."""
        self._thread.start()
        if self._feed is not None:
            self._feed.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the WebSocket client, then delivering (inputs not yet delivered are dropped)."""
        self._stopping.set()
        if self._feed is not None:
            self._feed.stop(timeout)
        self._inputs.put(_STOP)
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    # --- the pacer's thread -------------------------------------------------------------------
    def _run(self) -> None:
        while (deliver := self._inputs.get()) is not _STOP and not self._stopping.is_set():
            try:
                deliver()
            except Exception:  # noqa: BLE001 - one input must not stop the session
                logger.exception("paced session: delivering an input failed")

    def _deliver_tick(self, tick: Tick) -> None:
        # the clock reaches the tick's time first: timers due before it fire before it
        if tick.time > self._clock.now():
            self._clock.advance_to(tick.time)
        self._deliver(self._callbacks.on_tick, tick)

    def _deliver(self, callback: Callable[[Any], None], value: Any) -> None:
        callback(value)
        self._settle(type(value).__name__)

    def _advance(self, moment: datetime, ack: Callable[[], None]) -> None:
        try:
            if moment >= self._clock.now():
                # every tick up to the step's end has been delivered: timers due by then fire
                # (one at a time, each to quiet), those due at that very instant included
                self._clock.advance_to(moment)
            self._settle(f"the clock step to {moment:%H:%M:%S}")
        finally:
            ack()

    def _settle(self, what: str) -> None:
        try:
            self._inflight.wait_quiet(self._quiet_timeout)
        except TimeoutError as exc:
            logger.warning("paced session: still busy after {}: {}", what, exc)
        except GraphFailed as exc:
            logger.error("paced session: the actor graph failed after {}: {}", what, exc)
