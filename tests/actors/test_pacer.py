"""The Pacer (live/pacing.py): a paced session's feed goes into the graph one input at a time, each to quiet.

The WebSocket client is played by the test (it calls the Pacer's ``on_*``
methods, as the client's thread would); the graph is a relay actor that
takes three hops per tick before it reports downstream, and a probe.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from actors.base import ActorContext, BaseActor
from live.pacing import Pacer
from messages.base import Message
from messages.market import Tick
from tests.actors.probe import QUIET, Harness, Probe, t
from tests.waiting import wait_for

CE = "NIFTY17JUN2115800CE"


class Hop(Message):
    """One more hop of the relay's work on ``tick``."""

    tick: Tick
    left: int
    seen_at: datetime


class Relayed(Message):
    """The relay finished with ``tick``; the clock read ``seen_at`` when the tick arrived."""

    tick: Tick
    seen_at: datetime


class Relay(BaseActor):
    """Three hops through its own mailbox per tick, then :class:`Relayed` to ``downstream``."""

    def __init__(self, name: str, ctx: ActorContext) -> None:
        super().__init__(name, ctx)
        self.handlers = {Tick: self.on_tick, Hop: self.on_hop}

    def on_tick(self, tick: Tick) -> None:
        self.tell(self.name, Hop(tick=tick, left=3, seen_at=self.clock.now()))

    def on_hop(self, hop: Hop) -> None:
        if hop.left:
            self.tell(self.name, hop.model_copy(update={"left": hop.left - 1}))
        else:
            self.tell("downstream", Relayed(tick=hop.tick, seen_at=hop.seen_at))


class Callbacks:
    """The FeedActor's callbacks, reduced to tells."""

    def __init__(self, harness: Harness) -> None:
        self.router = harness.router

    def on_tick(self, tick: Tick) -> None:
        self.router.tell("relay", tick)

    def on_order_update(self, update: Any) -> None:
        self.router.tell("downstream", update)

    def on_connected(self, connection: int) -> None:
        self.router.tell("downstream", Tick(symbol="connected", time=t(9, 15), ltp=connection))

    def on_disconnected(self, reason: str) -> None:
        raise RuntimeError(f"callback failed on purpose: {reason}")


def tick(second: int) -> Tick:
    return Tick(symbol=CE, time=t(10, 0, second), ltp=100.0 + second)


def make_pacer(harness: Harness) -> tuple[Pacer, Probe]:
    downstream = harness.probe("downstream")
    harness.start(Relay, "relay")
    pacer = Pacer(Callbacks(harness), harness.clock, harness.inflight, quiet_timeout=QUIET)
    pacer.start()
    return pacer, downstream


def acknowledger(downstream: Probe, acks: list[list[Any]]) -> Callable[[], None]:
    """An ``ack`` that records what downstream had received when it was called."""
    return lambda: acks.append(downstream.received)


def test_inputs_go_in_one_at_a_time_each_to_quiet_and_the_step_is_acknowledged_last(harness: Harness) -> None:
    pacer, downstream = make_pacer(harness)
    harness.clock.schedule(t(10, 0, 2), "downstream", "timer at 10:00:02")
    acks: list[list[Any]] = []
    try:
        # as the WebSocket client's thread: everything at once, no waiting
        pacer.on_tick(tick(1))
        pacer.on_tick(tick(3))
        pacer.on_sim_clock(t(10, 0, 3, 500_000), acknowledger(downstream, acks))
        wait_for(lambda: acks, timeout=QUIET, what="the acknowledgement")
    finally:
        pacer.stop()
    relayed = [m for m in downstream.received if isinstance(m, Relayed)]
    # each tick was finished (three hops) before the next input went in; the timer due between
    # the ticks fired between them; the clock stood at each tick's time when it arrived
    assert [m if isinstance(m, str) else m.tick.time.second for m in downstream.received] == [1, "timer at 10:00:02", 3]
    assert [m.seen_at for m in relayed] == [t(10, 0, 1), t(10, 0, 3)]
    assert acks == [downstream.received]
    assert harness.clock.now() == t(10, 0, 3, 500_000)


def test_a_failing_callback_is_logged_and_the_inputs_after_it_still_go_in(harness: Harness) -> None:
    pacer, downstream = make_pacer(harness)
    acks: list[list[Any]] = []
    try:
        pacer.on_disconnected("gone")
        pacer.on_connected(2)
        pacer.on_tick(tick(5))
        pacer.on_sim_clock(t(10, 0, 6), acknowledger(downstream, acks))
        wait_for(lambda: acks, timeout=QUIET, what="the acknowledgement")
    finally:
        pacer.stop()
    assert [m.symbol if isinstance(m, Tick) else m.tick.symbol for m in downstream.received] == ["connected", CE]


def test_a_step_to_a_time_already_passed_is_acknowledged_without_moving_the_clock(harness: Harness) -> None:
    pacer, downstream = make_pacer(harness)
    acks: list[list[Any]] = []
    try:
        pacer.on_tick(tick(8))
        pacer.on_sim_clock(t(10, 0, 7), acknowledger(downstream, acks))
        wait_for(lambda: acks, timeout=QUIET, what="the acknowledgement")
    finally:
        pacer.stop()
    assert harness.clock.now() == t(10, 0, 8)


def test_a_step_ending_on_the_last_ticks_time_fires_the_timers_due_at_that_instant(harness: Harness) -> None:
    """A tick stamped exactly at the step's end moves the clock there; a timer the graph set for
    that instant (the filter's once-per-instant publication) must fire before the acknowledgement."""
    pacer, downstream = make_pacer(harness)
    acks: list[list[Any]] = []
    try:
        pacer.on_tick(tick(4))
        wait_for(lambda: [m for m in downstream.received if isinstance(m, Relayed)], timeout=QUIET, what="the tick")
        harness.clock.schedule(t(10, 0, 4), "downstream", "published at 10:00:04")
        pacer.on_sim_clock(t(10, 0, 4), acknowledger(downstream, acks))
        wait_for(lambda: acks, timeout=QUIET, what="the acknowledgement")
    finally:
        pacer.stop()
    assert acks[0][-1] == "published at 10:00:04"
