"""``run.py check`` against the simulator: every pre-flight step passes and is reported."""

from __future__ import annotations

from pathlib import Path

import pytest

import run
from simulator.server import SimulatorServer
from tests.contract.small_market import build_market

KEY = "check-key"


@pytest.fixture
def sim() -> SimulatorServer:
    server = SimulatorServer(build_market(), api_key=KEY, speed=60).start()
    yield server
    server.stop()


def _env(tmp_path: Path, sim: SimulatorServer, key: str, paper: bool = True) -> str:
    env = tmp_path / ".env"
    env.write_text(
        f"OPENALGO_HOST={sim.rest_url}\nOPENALGO_WS_URL={sim.ws_url}\nOPENALGO_API_KEY={key}\n"
        f"PAPER_TRADING={'true' if paper else 'false'}\n"
    )
    return str(env)


def test_check_reports_every_step(sim: SimulatorServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = run.main(["--env-file", _env(tmp_path, sim, KEY), "--expiry", "17JUN21", "--atm", "15800", "check"])
    out = capsys.readouterr().out
    assert code == 0, out
    for fact in ("broker", "analyze (paper)", "available cash", "17JUN21", "15800", "75 contracts", "42"):
        assert fact in out


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
