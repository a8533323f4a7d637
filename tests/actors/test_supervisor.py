"""Supervisor: a crashed actor is restarted under its name after a backoff; repeated
failures escalate to Halt; fail_fast turns a crash into GraphFailed for whoever waits."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

import pytest

from actors.base import SUPERVISOR, BaseActor, GraphFailed, InFlight
from actors.names import JOURNAL, PORTFOLIO
from actors.supervisor import ActorSpec, Supervisor
from messages.base import Message
from messages.system import Alert, Halt
from tests.actors.probe import Harness, Probe, t

CRASHY = "crashy"


class Boom(Message):
    """Makes :class:`Crashy` raise."""


class Ping(Message):
    n: int


class Crashy(BaseActor):
    """Raises on :class:`Boom`; hands every :class:`Ping` to a probe (so a restarted instance is visible).

    Its ``on_failure`` notes into ``hooks``, just before the base class reports the
    crash, whether the graph already looks quiet and how many alerts the
    supervisor has sent; and ``"reported"`` right after.
    """

    def __init__(self, name, ctx, pings: Probe, hooks: Probe, journal: Probe) -> None:  # noqa: ANN001
        super().__init__(name, ctx)
        self.hooks, self.journal = hooks, journal
        self.handlers = {Boom: self.on_boom, Ping: pings.record}

    def on_boom(self, _boom: Boom) -> None:
        raise RuntimeError("boom")

    def on_failure(self, exception_type, exception_value, traceback) -> None:  # noqa: ANN001
        self.hooks.record(("before report", _looks_quiet(self.router.inflight), len(self.journal.of(Alert))))
        super().on_failure(exception_type, exception_value, traceback)
        self.hooks.record("reported")


def _looks_quiet(inflight: InFlight) -> bool:
    """Would a ``wait_quiet`` return right now?"""
    try:
        inflight.wait_quiet(timeout=0)
    except (TimeoutError, GraphFailed):
        return False
    return True


class Rig:
    def __init__(self, h: Harness, fail_fast: bool = False) -> None:
        self.h = h
        h.expect_failures = True
        self.journal = h.probe(JOURNAL)
        self.portfolio = h.probe(PORTFOLIO)
        self.pings = Probe("pings")
        self.hooks = Probe("hooks")
        ctx = h.ctx
        spec = ActorSpec(CRASHY, lambda: Crashy.start(CRASHY, ctx, self.pings, self.hooks, self.journal))
        h.router.register(CRASHY, spec.factory())
        h.start(Supervisor, SUPERVISOR, {CRASHY: spec}, fail_fast)  # replaces the harness's supervisor probe

    def crash(self, failures_so_far: int) -> None:
        """Make the actor raise and wait until the supervisor has handled the failure."""
        assert self.h.router.tell(CRASHY, Boom())
        self.journal.wait_for(Alert, failures_so_far + 1)
        self.h.quiet()

    def crash_seen(self) -> None:
        """Wait until the crashed actor has reported and the supervisor is done with it."""
        self.hooks.wait_for(str)
        self.journal.wait_for(Alert)
        self.h.quiet()

    def alive(self) -> bool:
        ref = self.h.router.ref(CRASHY)
        return ref is not None and ref.is_alive()


@pytest.fixture
def rig(harness: Harness) -> Rig:
    return Rig(harness)


def test_crashed_actor_is_restarted_under_its_name_after_the_backoff(rig: Rig) -> None:
    h = rig.h
    old = h.router.ref(CRASHY)
    rig.crash(0)

    [alert] = rig.journal.of(Alert)
    assert (alert.level, alert.time) == ("critical", t(9, 15))
    assert "crashy failed" in alert.text and "boom" in alert.text and "restart 1" in alert.text
    assert old.actor_stopped.wait(timeout=5)
    assert h.router.tell(CRASHY, Ping(n=1)) is False  # lost while dead

    h.advance(t(9, 15, 0, 999_000))
    assert h.router.ref(CRASHY) is old, "restarted before the 1 s backoff"
    h.advance(t(9, 15, 1))
    assert rig.alive() and h.router.ref(CRASHY) is not old

    h.tell(CRASHY, Ping(n=2))
    assert rig.pings.received == [Ping(n=2)]
    assert rig.portfolio.received == []


def test_more_than_max_restarts_within_the_window_halts(rig: Rig) -> None:
    h = rig.h
    now = t(9, 15)
    for failure, backoff in enumerate((1, 2, 4)):
        old = h.router.ref(CRASHY)
        rig.crash(failure)
        assert rig.portfolio.received == []
        due = now + timedelta(seconds=backoff)
        h.advance(due - timedelta(milliseconds=1))
        assert h.router.ref(CRASHY) is old, f"restarted before its {backoff} s backoff"
        h.advance(due)
        assert rig.alive() and h.router.ref(CRASHY) is not old
        now = due

    rig.crash(3)  # the 4th failure within 60 s
    assert "restart 4" in rig.journal.of(Alert)[-1].text
    assert rig.portfolio.received == [Halt(reason="supervisor: crashy keeps failing", time=t(9, 15, 7))]


def test_failures_spread_beyond_the_window_do_not_escalate(rig: Rig) -> None:
    h = rig.h
    now: datetime = t(9, 15)
    for failure in range(5):
        rig.crash(failure)
        h.advance(now + timedelta(seconds=1))  # always the first backoff
        assert rig.alive()
        now += timedelta(seconds=62)
        h.advance(now)
    assert all("restart 1" in a.text for a in rig.journal.of(Alert))
    assert rig.portfolio.received == []


def test_fail_fast_makes_wait_quiet_raise_graph_failed(harness: Harness) -> None:
    rig = Rig(harness, fail_fast=True)
    assert harness.router.tell(CRASHY, Boom())
    rig.hooks.wait_for(str)  # the crash has been told to the supervisor
    with pytest.raises(GraphFailed, match="actor crashy failed"):
        harness.inflight.wait_quiet(timeout=5)
    with pytest.raises(GraphFailed):  # and stays failed for every later waiter
        harness.inflight.wait_quiet(timeout=5)


def test_graph_is_not_quiet_while_a_crash_is_unreported(rig: Rig) -> None:
    """SteppedClock.advance_to and the replay driver rely on wait_quiet meaning "everything caused
    by what I sent is done", so a crash must reach the supervisor before the graph looks quiet
    (else fail_fast can miss it: the driver moves on, or finishes, with a dead actor)."""
    assert rig.h.router.tell(CRASHY, Boom())
    rig.crash_seen()
    [(_, quiet, alerts)] = rig.hooks.of(tuple)
    assert not quiet or alerts == 1, "wait_quiet would return before the crash reached the supervisor"


RELEASE = threading.Event()


class BoomLater(Message):
    """Makes :class:`Crashy` wait for :data:`RELEASE`, then raise (so messages queue up behind it)."""


class HeldCrashy(Crashy):
    def __init__(self, *args, **kwargs) -> None:  # noqa: ANN002, ANN003
        super().__init__(*args, **kwargs)
        self.handlers[BoomLater] = self.on_boom_later

    def on_boom_later(self, _boom: BoomLater) -> None:
        RELEASE.wait(5)
        raise RuntimeError("boom, later")


def test_the_messages_a_crashed_actor_never_handled_are_written_off_so_the_graph_goes_quiet(harness: Harness) -> None:
    """The live Pacer waits for quiet after every input: a crash must not leave the count up forever."""
    rig = Rig(harness)
    ctx = harness.ctx
    harness.router.register(CRASHY, HeldCrashy.start(CRASHY, ctx, rig.pings, rig.hooks, rig.journal))
    RELEASE.clear()
    assert harness.router.tell(CRASHY, BoomLater())
    for n in range(3):  # queued behind the message that will crash it
        assert harness.router.tell(CRASHY, Ping(n=n))
    RELEASE.set()
    rig.journal.wait_for(Alert)
    harness.quiet()  # TimeoutError if the three lost pings were still counted
    assert rig.pings.received == []


def test_a_late_timer_fires_after_every_timer_due_at_the_same_time(harness) -> None:
    """A deferred switch at the bar close sees the publication that close caused (actors/clock.py)."""
    probe = harness.probe("target")
    at = harness.clock.now() + timedelta(seconds=30)
    harness.clock.schedule(at, "target", "switch", late=True)
    harness.clock.schedule(at, "target", "close")

    class Chain(BaseActor):
        def __init__(self, name, ctx):  # noqa: ANN001
            super().__init__(name, ctx)
            self.handlers = {str: self.on_text}

        def on_text(self, text: str) -> None:
            # a timer due at this same instant, scheduled while the instant's timers fire
            self.clock.schedule(self.clock.now(), "target", f"{text}: published")

    harness.start(Chain, "chain")
    harness.clock.schedule(at, "chain", "grace close")
    harness.advance(at)
    assert probe.received == ["close", "grace close: published", "switch"]
