"""``run.py check`` against the simulator: every pre-flight step passes and is reported."""

from __future__ import annotations

import dataclasses
import socket
from pathlib import Path

import pytest

import run
from live import preflight
from simulator.market import with_listed_strikes
from simulator.server import SimulatorServer
from simulator.synthetic import option_symbol
from tests.contract.small_market import build_market

KEY = "check-key"


@pytest.fixture
def sim() -> SimulatorServer:
    market = build_market()
    # the broker lists every strike of the expiry on the 50-point grid, traded or not
    listed = dataclasses.replace(market, instruments=with_listed_strikes(market.instruments, option_symbol, step=50))
    server = SimulatorServer(listed, api_key=KEY, speed=60).start()
    yield server
    server.stop()


def _env(tmp_path: Path, sim: SimulatorServer, key: str, paper: bool = True, **more: str) -> str:
    env = tmp_path / ".env"
    settings = {"OPENALGO_HOST": sim.rest_url, "OPENALGO_WS_URL": sim.ws_url, "OPENALGO_API_KEY": key,
                "PAPER_TRADING": "true" if paper else "false", "DB_PATH": str(tmp_path / "journal.db"), **more}
    env.write_text("".join(f"{name}={value}\n" for name, value in settings.items()))
    return str(env)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_check_reports_every_step(sim: SimulatorServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = run.main(["--env-file", _env(tmp_path, sim, KEY), "--expiry", "17JUN21", "--atm", "15800", "check"])
    out = capsys.readouterr().out
    assert code == 0, out
    for fact in ("broker", "analyze (paper)", "available cash", "17JUN21", "15800", "75 contracts", "42"):
        assert fact in out


def test_check_takes_its_options_after_the_command_and_the_simulators_clock(
    sim: SimulatorServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The README's ``run.py check --expiry …``; ``--sim-clock``: the simulator's day (2021-06-11), not today's,
    so the nearest expiry is found without --expiry."""
    code = run.main(["--env-file", _env(tmp_path, sim, KEY), "check", "--sim-clock", "--atm", "15800"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "17JUN21" in out and "15800" in out


@pytest.mark.parametrize(
    ("fault", "args", "fail"),
    [
        ("server down", [], "FAIL  server     OpenAlgo is not reachable at http://127.0.0.1:"),
        ("unknown expiry", ["--expiry", "02JAN26"], "FAIL  expiry     expiry 02JAN26 is not one the broker lists"),
        ("ATM far from spot", ["--atm", "30000"], "FAIL  ATM        --atm 30000 is 14,2"),
        ("no WebSocket", [], "FAIL  websocket  no authenticated WebSocket at ws://127.0.0.1:"),
        ("journal unwritable", [], "FAIL  journal    cannot create the journal"),
        ("low funds", [], "FAIL  margin     available cash and collateral 100,000.00 rupees are below the"),
    ],
)
def test_each_fault_is_its_own_fail_line_with_advice_and_exit_1(
    sim: SimulatorServer, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
    fault: str, args: list[str], fail: str,
) -> None:
    monkeypatch.setattr(preflight, "PING_PATIENCE", 0.5)  # a server that is down does not come up in the test
    monkeypatch.setattr(preflight, "WS_WAIT", 2.0)
    more = {}
    if fault == "server down":
        more["OPENALGO_HOST"] = f"http://127.0.0.1:{_closed_port()}"
    if fault == "no WebSocket":
        more["OPENALGO_WS_URL"] = f"ws://127.0.0.1:{_closed_port()}"
        # the clock is compared when the server's is read, not before the seconds the WebSocket took
        monkeypatch.setattr(preflight, "WS_WAIT", 4.0)
        monkeypatch.setattr(preflight, "CLOCK_TOLERANCE", 1.5)
    if fault == "low funds":
        sim.funds = 100_000.0
    if fault == "journal unwritable":
        more["DB_PATH"] = str(tmp_path / "no" / "such" / "folder" / "journal.db")
    env = _env(tmp_path, sim, KEY, **more)
    clock = ["--sim-clock"] if fault != "server down" else []
    code = run.main(["--env-file", env, "check", *clock, *args])
    out = capsys.readouterr().out
    assert code == 1, out
    assert fail in out, out
    lines = out.splitlines()
    advice = lines[[i for i, line in enumerate(lines) if line.startswith("FAIL")][0] + 1]
    assert advice.strip().startswith("->"), out
    if fault == "no WebSocket":
        assert "PASS  clock" in out, out


def test_check_with_a_wrong_key_fails_clearly(sim: SimulatorServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = run.main(["--env-file", _env(tmp_path, sim, "wrong"), "--expiry", "17JUN21", "--atm", "15800", "check"])
    out = capsys.readouterr().out
    assert code == 1
    assert "FAIL" in out and "refused the API key" in out
    assert "wrong" not in out.replace("refused the API key", "")


def test_check_refuses_paper_trading_against_a_live_mode_server(
    sim: SimulatorServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sim.analyze_mode = False
    code = run.main(["--env-file", _env(tmp_path, sim, KEY), "--expiry", "17JUN21", "--atm", "15800", "check"])
    assert code == 1
    assert "LIVE mode" in capsys.readouterr().out
