"""Stopping on a signal, and a second signal while it stops (issue "Crash-only", item 5).

Each subprocess test runs the real command (settings from an empty env file,
as in ``test_demo.py``), waits until the session trades (its event log holds
an entry order, or a fill), signals it, waits until it says it is stopping,
and signals it again at once, while it stops. SIGINT or SIGTERM ends a demo
(the live path) with exit 0: no new entries, the working entry cancelled,
stops left at the broker, the journal flushed; the second signal is logged
("already stopping; …") and changes nothing. A replay stops at its next
step and exits 130. Never a traceback, never a write to a closed journal.
The last test: Ctrl-C inside ``Graph.stop`` of a program without handlers.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pykka
import pytest

from actors.base import InFlight, Router
from actors.clock import SteppedClock
from actors.supervisor import Graph
from broker.gateway import BrokerGateway
from broker.simulated import SimulatedBroker
from config.settings import Settings
from persistence.event_log import EventLog
from persistence.journal_store import JournalStore
from tests.actors.probe import QUIET, t
from tests.paths import DAY_0611, DAY_0614, PROJECT_ROOT
from tests.waiting import wait_for

pytestmark = pytest.mark.integration

WINDOW = ["--start", "11:50", "--end", "12:20"]
#: Seconds until the session trades: about 5 s after the start on an idle 2-core box.
TRADING_WAIT = 180.0
#: Seconds from the first signal to the exit (measured: well under a second).
STOP_WAIT = 30.0


class Command:
    """``python run.py ARGS`` in a subprocess; its stdout and stderr are collected line by line as it runs."""

    def __init__(self, *args: str, env: dict[str, str] | None = None) -> None:
        self.popen = subprocess.Popen(
            [sys.executable, "run.py", *args],
            cwd=PROJECT_ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            encoding="utf-8",
        )
        self.out: list[str] = []
        self.err: list[str] = []
        self._readers = [
            threading.Thread(target=self._read, args=(self.popen.stdout, self.out), daemon=True),
            threading.Thread(target=self._read, args=(self.popen.stderr, self.err), daemon=True),
        ]
        for reader in self._readers:
            reader.start()

    @staticmethod
    def _read(stream, lines: list[str]) -> None:  # noqa: ANN001
        for line in stream:
            lines.append(line)

    def running(self) -> bool:
        return self.popen.poll() is None

    def said(self, text: str) -> bool:
        return any(text in line for line in list(self.err) + list(self.out))

    def send(self, signum: int) -> None:
        self.popen.send_signal(signum)

    def wait(self, timeout: float) -> int:
        code = self.popen.wait(timeout)
        for reader in self._readers:
            reader.join(10)
        return code

    @property
    def output(self) -> str:
        return "".join(self.out) + "".join(self.err)

    def kill(self) -> None:
        if self.running():
            self.popen.kill()
        self.popen.wait(30)


@pytest.fixture
def commands() -> Iterator[list[Command]]:
    """Commands a test starts; any still running at its end is killed."""
    started: list[Command] = []
    yield started
    for command in started:
        command.kill()


def events_of(path: Path) -> list[dict]:
    if not path.exists():
        return []
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    return [json.loads(line) for line in lines if line.endswith("\n")]  # the last may be half written


def entry_placed(path: Path) -> bool:
    return any(e["type"] == "order" and e["op"] == "place" and e["role"] == "entry" for e in events_of(path))


def entry_filled(path: Path) -> bool:
    return any(e["type"] == "fill" and e["role"] == "entry" for e in events_of(path))


def stop_twice(
    command: Command,
    events: Path,
    first: int,
    second: int,
    at_once: bool = False,
    trading: Callable[[Path], bool] = entry_placed,
) -> tuple[int, float]:
    """Once the command trades (``trading(events)``): ``first``, then ``second`` as soon as it says it is
    stopping (``at_once``: right after ``first``, for a command that stops in less time than a test takes to
    read that line).

    Returns its exit code and the seconds from the first signal to its exit.
    """
    wait_for(lambda: not command.running() or trading(events), TRADING_WAIT, trading.__name__)
    assert command.running(), "it ended before it was signalled:\n" + command.output
    signalled = time.monotonic()
    command.send(first)
    if not at_once:
        wait_for(lambda: not command.running() or command.said("stopping"), STOP_WAIT, "a line saying it is stopping")
    command.send(second)
    try:
        code = command.wait(STOP_WAIT)
    except subprocess.TimeoutExpired:
        pytest.fail(f"still running {STOP_WAIT:g} s after the first signal:\n{command.output}")
    elapsed = time.monotonic() - signalled
    print(f"{signal.Signals(first).name} then {signal.Signals(second).name}: exit {code} after {elapsed:.3f} s")
    return code, elapsed


def assert_stopped_cleanly(command: Command, first: int, second: int) -> None:
    output = command.output
    assert "Traceback" not in output, output
    assert "is closed" not in output, output
    assert f"{signal.Signals(first).name}: stopping (" in output, output
    assert f"already stopping; {signal.Signals(second).name} ignored" in output, output


def start_demo(tmp_path: Path, commands: list[Command]) -> tuple[Command, Path]:
    env_file = tmp_path / "empty.env"
    env_file.touch()
    events = tmp_path / "events.jsonl"
    command = Command("--env-file", str(env_file), "demo", *WINDOW, "--events", str(events))
    commands.append(command)
    return command, events


def assert_the_session_ended_as_a_stop_does(command: Command, events: Path) -> set[str]:
    """No working entry left (each cancelled or filled), every open position's stop still at the broker, the
    trades listed. Returns the positions left open."""
    output = command.output
    assert "stopping before the close: working entries are cancelled, stops stay at the broker" in output, output
    assert "== 2025-12-23  simulator" in output, output
    log = events_of(events)
    orders = [e for e in log if e["type"] == "order"]
    entries = {e["orderid"] for e in orders if e["op"] == "place" and e["role"] == "entry"}
    done = {e["orderid"] for e in orders if e["op"] == "cancel"} | {
        e["orderid"] for e in log if e["type"] == "fill" and e["role"] == "entry"
    }
    assert entries and entries <= done, f"entries {sorted(entries)}, cancelled or filled {sorted(done)}"
    positions = [e for e in log if e["type"] == "position"]
    still_open = {e["position_id"] for e in positions if e["state"] == "open"} - {
        e["position_id"] for e in positions if e["state"] == "closed"
    }
    for position_id in still_open:
        stops = [e["op"] for e in orders if e["role"] == "stop" and e["position_id"] == position_id]
        assert stops.count("place") > stops.count("cancel"), (position_id, stops)
    if still_open:
        assert f"WARNING: {len(still_open)} position(s) still open, each with its stop at the broker." in output
    return still_open


@pytest.mark.slow  # the real command in a process of its own: the program's, not the interpreter's
@pytest.mark.parametrize(
    ("first", "second"), [(signal.SIGINT, signal.SIGINT), (signal.SIGTERM, signal.SIGINT)], ids=["int-int", "term-int"]
)
def test_a_signal_stops_the_demo_and_a_second_one_is_ignored(
    first: int, second: int, tmp_path: Path, commands: list[Command]
) -> None:
    command, events = start_demo(tmp_path, commands)
    code, elapsed = stop_twice(command, events, first, second)
    assert code == 0, command.output
    assert elapsed < STOP_WAIT
    assert_stopped_cleanly(command, first, second)
    assert_the_session_ended_as_a_stop_does(command, events)


@pytest.mark.slow
def test_a_position_open_at_the_signal_keeps_its_stop_at_the_broker(tmp_path: Path, commands: list[Command]) -> None:
    """Signalled just after the first entry filled (its position lasts some six simulated minutes)."""
    command, events = start_demo(tmp_path, commands)
    code, _elapsed = stop_twice(command, events, signal.SIGINT, signal.SIGINT, trading=entry_filled)
    assert code == 0, command.output
    assert_stopped_cleanly(command, signal.SIGINT, signal.SIGINT)
    assert assert_the_session_ended_as_a_stop_does(command, events), "a position is open at the stop"


def test_ctrl_c_stops_a_replay_with_exit_130_and_a_whole_journal(tmp_path: Path, commands: list[Command]) -> None:
    """A replay stops within some 20 ms: the SIGTERM comes right after the Ctrl-C (two Ctrl-Cs that close together
    would be handled as one), so either may be the one it takes: exit 130 for the Ctrl-C (143 for the SIGTERM)."""
    env_file = tmp_path / "empty.env"
    env_file.touch()
    events, db = tmp_path / "events.jsonl", tmp_path / "journal.db"
    files = [str(DAY_0611), str(DAY_0614)]  # about a second each: signalled in the first
    command = Command(
        "--env-file", str(env_file), "replay", *files, "--lot-size", "75", "--events", str(events), "--db", str(db)
    )
    commands.append(command)
    code, _elapsed = stop_twice(command, events, signal.SIGINT, signal.SIGTERM, at_once=True)
    taken, ignored = signal.SIGINT, signal.SIGTERM
    if command.said("SIGTERM: stopping"):
        taken, ignored = ignored, taken
    assert code == 128 + taken, command.output
    assert_stopped_cleanly(command, taken, ignored)
    assert f"replay interrupted by {signal.Signals(taken).name}: " in command.output
    assert "== " not in "".join(command.out), "no report for an interrupted replay"
    # every event reached the journal before it was closed
    log = events_of(events)
    with JournalStore(str(db)) as store:
        assert store.count("orders") > 0
        assert store.count("fills") == sum(1 for e in log if e["type"] == "fill")


def test_an_interrupt_while_the_graph_stops_is_held_until_every_actor_has_stopped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A program without signal handlers (a bench script, a test): Ctrl-C lands in ``Graph.stop`` while it waits
    for the first actor to stop. The others are stopped all the same, before the journal is closed."""
    settings = Settings(_env_file=None, lot_size=75)
    inflight = InFlight()
    router = Router(inflight)
    clock = SteppedClock(router, inflight, t(11, 0), QUIET)
    gateway = BrokerGateway(SimulatedBroker(clock.now, 75, 0.05), clock.now, delay=0.0, orders_per_second=None)
    stop = pykka.ActorRef.stop
    interrupted: list[pykka.ActorRef] = []

    def stop_interrupted_once(ref: pykka.ActorRef, **kwargs: object) -> object:
        if interrupted:
            return stop(ref, **kwargs)
        interrupted.append(ref)
        stop(ref, block=False)  # asked to stop, then Ctrl-C while waiting for it
        raise KeyboardInterrupt

    with JournalStore(tmp_path / "journal.db") as store, EventLog(None) as events:
        graph = Graph(settings, clock, router, gateway, store, events, ["NIFTY17JUN2115600CE", "NIFTY17JUN2115600PE"])
        graph.start(clock.now())
        refs = [router.ref(name) for name in router.names()]
        try:
            monkeypatch.setattr(pykka.ActorRef, "stop", stop_interrupted_once)
            with pytest.raises(KeyboardInterrupt):
                graph.stop()
            running = [ref for ref in refs if ref.is_alive()]
        finally:
            monkeypatch.undo()
            for ref in refs:
                ref.stop()
    assert len(interrupted) == 1 and len(refs) == 8
    assert running == [] and router.names() == []
