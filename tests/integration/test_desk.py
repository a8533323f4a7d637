"""The trader's desk from a second terminal during a simulated session (issue "The trader's desk").

The simulator (``run.py sim --paced``) and the trader (``run.py --sim-clock``)
run as processes of their own with one journal; ``run.py status``, ``pause``,
``resume`` and ``stop`` run as third processes with the same settings, as a
trader types them. The kill-switch file does what ``stop`` does.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.test_shutdown import Command
from tests.paths import PROJECT_ROOT
from tests.waiting import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow]

KEY = "desk-test-key-0123456789"
#: Seconds for a process to come up and trade (about 3 s on an idle 2-core box).
UP = 120.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Desk:
    """The simulator and a trader running; :meth:`run` is a third terminal."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.env_file = tmp / "empty.env"
        self.env_file.touch()
        rest, ws = free_port(), free_port()
        self.env = {
            **os.environ, "OPENALGO_API_KEY": KEY, "OPENALGO_HOST": f"http://127.0.0.1:{rest}",
            "OPENALGO_WS_URL": f"ws://127.0.0.1:{ws}", "DB_PATH": str(tmp / "journal.db"),
            "LOG_DIR": str(tmp / "logs"), "KILL_SWITCH_FILE": str(tmp / "KILL_SWITCH"),
        }
        self.sim = Command("--env-file", str(self.env_file), "sim", "--synthetic", "1", "--paced", "--speed", "20",
                           "--start", "09:30", "--end", "15:30", "--rest-port", str(rest), "--ws-port", str(ws),
                           "--api-key", KEY)
        wait_for(lambda: self.sim.said("REST") or not self.sim.running(), UP, "the simulator up")
        self.trader = Command("--env-file", str(self.env_file), "--sim-clock", "--switch-to-analyzer", env=self.env)
        wait_for(lambda: self.trader.said("warm-up done") or not self.trader.running(), UP, "the trader trading")
        assert self.trader.running(), self.trader.output

    def run(self, *args: str) -> tuple[int, str]:
        done = subprocess.run([sys.executable, "run.py", "--env-file", str(self.env_file), *args], cwd=PROJECT_ROOT,
                              env=self.env, capture_output=True, text=True, timeout=120)
        return done.returncode, done.stdout + done.stderr

    def close(self) -> None:
        for command in (self.trader, self.sim):
            command.kill()


@pytest.fixture
def desk(tmp_path: Path) -> Iterator[Desk]:
    desk = Desk(tmp_path)
    yield desk
    desk.close()


def test_status_pause_resume_and_stop_from_a_second_terminal(desk: Desk) -> None:
    code, text = desk.run("status")
    assert code == 0 and "trader: RUNNING" in text and "entries: allowed" in text, text
    code, text = desk.run("pause")
    assert code == 0 and text.startswith("pause: applied to session 2025-12-23"), text
    wait_for(lambda: desk.trader.said("entries PAUSED (run.py pause)"), UP, "the trader pausing")
    code, text = desk.run("status")
    assert "entries: PAUSED since" in text, text
    code, text = desk.run("resume")
    assert code == 0 and text.startswith("resume: applied"), text
    wait_for(lambda: desk.trader.said("entries RESUMED (run.py resume)"), UP, "the trader resuming")
    code, text = desk.run("stop")
    assert code == 0 and text.startswith("stop: applied"), text
    wait_for(lambda: desk.trader.said("HALT: stop_command (run.py stop)"), UP, "the trader halting")
    code, text = desk.run("status")
    assert "entries: HALTED for the day: stop_command (run.py stop)" in text, text
    assert "open positions: 0" in text, text


def test_the_kill_switch_file_halts_the_running_trader(desk: Desk) -> None:
    (desk.tmp / "KILL_SWITCH").touch()
    wait_for(lambda: desk.trader.said("HALT: stop_command (kill switch file"), UP, "the trader halting")
    desk.trader.send(2)  # Ctrl-C: it stops by itself
    desk.trader.wait(60)
    code, text = desk.run("status")
    assert "trader: stopped at" in text and "entries: HALTED" in text, text


def test_a_command_without_a_running_trader_is_withdrawn(tmp_path: Path) -> None:
    env_file = tmp_path / "empty.env"
    env_file.touch()
    env = {**os.environ, "DB_PATH": str(tmp_path / "none.db")}
    done = subprocess.run([sys.executable, "run.py", "--env-file", str(env_file), "pause"], cwd=PROJECT_ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "no journal at DB_PATH" in done.stderr
