"""ControlActor: run.py pause|resume|stop and the kill-switch file reach the PortfolioActor (issue
"The trader's desk"); the journal says the program is alive."""

from __future__ import annotations

from datetime import datetime, timedelta

from actors.control import ControlActor
from actors.names import CONTROL, PORTFOLIO
from messages.base import IST
from messages.system import ControlDue, Halt
from persistence.journal_store import JournalStore
from tests.actors.probe import DAY, Harness

#: when the program started, wall clock
WALL = datetime.now(IST).replace(microsecond=0) - timedelta(seconds=1)


def start(harness: Harness, store: JournalStore, kill_switch) -> None:  # noqa: ANN001
    harness.start(ControlActor, CONTROL, store, 4242, WALL, kill_switch)


def due(harness: Harness) -> None:
    harness.tell(CONTROL, ControlDue(time=harness.clock.now()))
    harness.quiet()


def test_each_command_is_applied_once_and_marked_done(harness: Harness, tmp_path) -> None:
    portfolio = harness.probe(PORTFOLIO)
    with JournalStore(tmp_path / "j.db") as store:
        start(harness, store, tmp_path / "KILL_SWITCH")
        ids = [store.issue_control(c, f"run.py {c}", WALL) for c in ("pause", "resume", "stop", "dance")]
        due(harness)
        due(harness)  # nothing twice
        assert [(type(m).__name__, getattr(m, "paused", None)) for m in portfolio.received] == [
            ("PauseEntries", True), ("PauseEntries", False), ("Halt", None),
        ]
        assert portfolio.of(Halt)[0].reason == "stop_command (run.py stop)"
        results = [store.control(i) for i in ids]
        assert [r["result"] for r in results] == ["applied", "applied", "applied", "unknown command 'dance'"]
        assert {r["session"] for r in results} == {DAY}
        assert store.pending_controls() == []
        assert store.paused(DAY)[0] is False  # paused, then resumed


def test_a_pause_applied_is_remembered_for_the_session(harness: Harness, tmp_path) -> None:
    harness.probe(PORTFOLIO)
    with JournalStore(tmp_path / "j.db") as store:
        start(harness, store, tmp_path / "KILL_SWITCH")
        store.issue_control("pause", "run.py pause", WALL)
        due(harness)
        paused, since, source = store.paused(DAY)
        assert (paused, source) == (True, "run.py pause") and since is not None


def test_the_kill_switch_file_stops_once(harness: Harness, tmp_path) -> None:
    portfolio = harness.probe(PORTFOLIO)
    switch = tmp_path / "KILL_SWITCH"
    with JournalStore(tmp_path / "j.db") as store:
        start(harness, store, switch)
        due(harness)
        assert portfolio.received == []
        switch.touch()
        due(harness)
        due(harness)
        [halt] = portfolio.of(Halt)
        assert halt.reason == f"stop_command (kill switch file {switch})"


def test_the_program_is_seen_alive_in_the_journal_and_its_stop_too(harness: Harness, tmp_path) -> None:
    harness.probe(PORTFOLIO)
    with JournalStore(tmp_path / "j.db") as store:
        assert store.runner() is None
        ref = harness.start(ControlActor, CONTROL, store, 4242, WALL, tmp_path / "KILL_SWITCH")
        harness.quiet()
        runner = store.runner()
        assert (runner["pid"], runner["session"], runner["started_at"], runner["stopped_at"]) == (4242, DAY, WALL, None)
        first = runner["seen_at"]
        due(harness)
        assert store.runner()["seen_at"] >= first >= WALL
        ref.stop()
        assert store.runner()["stopped_at"] is not None


def test_a_stale_command_is_not_applied(harness: Harness, tmp_path) -> None:
    """Issued long ago by a terminal that gave up (Ctrl-C while it waited): a later trader must not stop."""
    portfolio = harness.probe(PORTFOLIO)
    with JournalStore(tmp_path / "j.db") as store:
        start(harness, store, tmp_path / "KILL_SWITCH")
        old = store.issue_control("stop", "run.py stop", datetime.now(IST) - timedelta(minutes=5))
        due(harness)
        assert portfolio.received == []
        assert store.control(old)["result"].startswith("expired")
