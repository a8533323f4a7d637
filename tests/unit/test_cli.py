"""The command line: every command is documented, bad input gets a clear error and exit 2; how signals stop it."""

from __future__ import annotations

import signal
from collections.abc import Iterator

import pytest
from loguru import logger

import run
from tests.waiting import wait_for


def empty_env(tmp_path) -> str:  # noqa: ANN001
    """An empty settings file: the defaults."""
    path = tmp_path / "empty.env"
    path.touch()
    return str(path)


def test_help_lists_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        run.main(["--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    for command in ("check", "status", "pause", "resume", "stop", "replay", "sim", "demo"):
        assert command in text
    for option in ("--expiry", "--atm", "--dry-run", "--switch-to-analyzer", "--sim-clock", "--events"):
        assert option in text


@pytest.mark.parametrize("command", ["check", "status", "pause", "resume", "stop", "replay", "sim", "demo"])
def test_each_command_has_its_own_help(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        run.main([command, "--help"])
    assert exit_info.value.code == 0
    assert "usage:" in capsys.readouterr().out


def test_a_missing_env_file_is_an_error_not_ignored(tmp_path, capsys: pytest.CaptureFixture[str]) -> None:  # noqa: ANN001
    assert run.main(["--env-file", str(tmp_path / "nope.env"), "status"]) == 2
    err = capsys.readouterr().err
    assert "--env-file" in err and "nope.env: no such file" in err


def test_options_work_after_the_command_and_the_log_level_in_any_case() -> None:
    args = run.build_parser().parse_args(["check", "--expiry", "30DEC25", "--atm", "26000", "--sim-clock",
                                          "--log-level", "debug", "--env-file", "x.env"])
    assert (args.expiry, args.atm, args.sim_clock, args.log_level, args.env_file) == ("30DEC25", 26000, True, "DEBUG", "x.env")
    before = run.build_parser().parse_args(["--log-level", "info", "--expiry", "30DEC25", "check"])
    assert (before.log_level, before.expiry, before.sim_clock) == ("INFO", "30DEC25", False)
    assert run.build_parser().parse_args(["replay", "f.csv", "--log-level", "Warning"]).log_level == "WARNING"


def test_an_unknown_log_level_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        run.main(["--log-level", "loud", "status"])
    assert exit_info.value.code == 2
    assert "expected one of TRACE" in capsys.readouterr().err


def test_live_without_an_api_key_is_refused(tmp_path, capsys: pytest.CaptureFixture[str]) -> None:  # noqa: ANN001
    env = tmp_path / ".env"
    env.write_text("PAPER_TRADING=true\n")
    assert run.main(["--env-file", str(env)]) == 2
    assert "OPENALGO_API_KEY is not set" in capsys.readouterr().err


def test_a_bad_setting_is_named(tmp_path, capsys: pytest.CaptureFixture[str]) -> None:  # noqa: ANN001
    env = tmp_path / ".env"
    env.write_text("MAX_SL_PCT=lots\n")
    assert run.main(["--env-file", str(env), "replay", "x.csv"]) == 2
    assert "MAX_SL_PCT" in capsys.readouterr().err


def test_replay_of_a_missing_file_is_a_clear_error(tmp_path, capsys: pytest.CaptureFixture[str]) -> None:  # noqa: ANN001
    assert run.main(["--env-file", empty_env(tmp_path), "replay", str(tmp_path / "missing.csv.gz")]) == 2
    assert "no such file" in capsys.readouterr().err


def test_replay_refuses_to_overwrite_a_journal(tmp_path, capsys: pytest.CaptureFixture[str]) -> None:  # noqa: ANN001
    db = tmp_path / "j.db"
    db.write_text("")
    assert run.main(["--env-file", empty_env(tmp_path), "replay", "x.csv", "--db", str(db)]) == 2
    assert "already exists" in capsys.readouterr().err


def test_sim_with_a_missing_data_file_is_a_clear_error(tmp_path, capsys: pytest.CaptureFixture[str]) -> None:  # noqa: ANN001
    code = run.main(["--env-file", empty_env(tmp_path), "sim", "--data", str(tmp_path / "missing.csv.gz")])
    assert code == 2
    assert "missing.csv.gz" in capsys.readouterr().err


def test_sim_and_demo_take_a_fill_model_and_refuse_an_unknown_one(capsys: pytest.CaptureFixture[str]) -> None:
    parser = run.build_parser()
    sim = parser.parse_args(["sim", "--synthetic", "1", "--paced", "--fill-model", "openalgo-sandbox"])
    assert (sim.paced, sim.fill_model) == (True, "openalgo-sandbox")
    demo = parser.parse_args(["demo"])
    assert (demo.paced, demo.fill_model, demo.speed) == (True, "exchange", 300.0)
    with pytest.raises(SystemExit):
        parser.parse_args(["demo", "--fill-model", "ideal"])
    assert "invalid choice: 'ideal'" in capsys.readouterr().err


@pytest.fixture
def handlers_kept() -> Iterator[None]:
    """This process's SIGINT and SIGTERM handlers as they were before the test (StopSignals keeps its own after a
    signal, as the program it runs ends then)."""
    before = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}
    yield
    for signum, handler in before.items():
        signal.signal(signum, handler)


@pytest.fixture
def warned() -> Iterator[list[str]]:
    lines: list[str] = []
    sink = logger.add(lambda message: lines.append(message.record["message"]), level="WARNING")
    yield lines
    logger.remove(sink)


def test_the_first_signal_stops_and_a_later_one_is_logged_and_ignored(handlers_kept: None, warned: list[str]) -> None:
    called: list[str] = []
    with run.StopSignals("it stops") as signals:
        signals.on_stop(lambda: called.append(signals.name))
        signal.raise_signal(signal.SIGTERM)
        wait_for(signals.event.is_set, what="the stop")
        signal.raise_signal(signal.SIGINT)  # nothing is raised here: stopping goes on
        signal.raise_signal(signal.SIGTERM)
        later: list[str] = []
        signals.on_stop(lambda: later.append("at once"))
    # leaving it logs what came before
    assert called == ["SIGTERM"] and later == ["at once"] and signals.signum == signal.SIGTERM
    assert warned == [
        "SIGTERM: stopping (it stops)",
        "already stopping; SIGINT ignored (it stops)",
        "already stopping; SIGTERM ignored (it stops)",
    ]
    assert signal.getsignal(signal.SIGINT) == signal.getsignal(signal.SIGTERM) == signal.SIG_IGN, "until the end"


def test_without_a_signal_the_previous_handlers_come_back(handlers_kept: None) -> None:
    before = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    with run.StopSignals("it stops") as signals:
        assert signal.getsignal(signal.SIGINT) == signals._handler == signal.getsignal(signal.SIGTERM)
    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == before
    assert not signals.event.is_set() and signals.name == ""


def test_sim_on_a_port_in_use_is_a_clear_error(tmp_path, capsys: pytest.CaptureFixture[str]) -> None:  # noqa: ANN001
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        code = run.main(["--env-file", empty_env(tmp_path), "sim", "--synthetic", "1", "--rest-port", str(port),
                         "--ws-port", "0"])
    assert code == 2
    err = capsys.readouterr().err
    assert f"cannot serve on 127.0.0.1 ports {port}" in err and "Traceback" not in err
