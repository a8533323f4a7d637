"""Replay lot sizes: one for every file or one per date, and the volumes' word on it (replay/lots.py)."""

from __future__ import annotations

import io
import sys
from datetime import date

import pytest

import run
from replay.lots import parse_lot_sizes, volume_lot

CE = "NIFTY17JUN2115600CE"


def test_one_lot_size_for_every_file_or_one_per_date() -> None:
    assert parse_lot_sizes([]) == (None, {})
    assert parse_lot_sizes(["75"]) == (75, {})
    assert parse_lot_sizes(["2021-06-11=75", "2024-07-24=25", "50"]) == (
        50, {date(2021, 6, 11): 75, date(2024, 7, 24): 25}
    )


@pytest.mark.parametrize("bad", ["x", "0", "2021-13-01=75", "2021-06-11=", "2021-06-11=-5"])
def test_a_bad_lot_size_is_named(bad: str) -> None:
    with pytest.raises(ValueError, match="--lot-size"):
        parse_lot_sizes([bad])


def test_two_plain_lot_sizes_are_refused() -> None:
    with pytest.raises(ValueError, match="one plain N at most"):
        parse_lot_sizes(["75", "25"])


def test_the_volumes_say_the_lot() -> None:
    assert volume_lot([75, 150, 0, 225]) == 75
    assert volume_lot([0, 0]) is None


def a_day(tmp_path, minutes: int) -> tuple[str, str]:  # noqa: ANN001
    """A recorded file of one lot-75 option, ``minutes`` bars from 09:15, and an empty settings file."""
    path = tmp_path / "nifty_options_2021-06-11.csv"
    rows = ["timestamp,symbol,open,high,low,close,volume,oi"]
    rows += [f"2021-06-11T09:{15 + m}:00+05:30,{CE},100,101,99,100,{75 * (m + 1)}," for m in range(minutes)]
    path.write_text("\n".join(rows) + "\n")
    env = tmp_path / "empty.env"
    env.touch()
    return str(path), str(env)


def test_replay_warns_when_the_volumes_disagree_with_the_lot_size(tmp_path, capsys) -> None:  # noqa: ANN001
    path, env = a_day(tmp_path, 5)
    assert run.main(["--env-file", env, "replay", path]) == 0  # LOT_SIZE 65 for lot-75 data
    first = capsys.readouterr()
    assert "its volumes are multiples of 75 contracts, not of the lot size 65" in first.err
    assert "--lot-size 2021-06-11=75" in first.err and "P&L" in first.out
    assert run.main(["--env-file", env, "replay", path, "--lot-size", "2021-06-11=75"]) == 0
    assert "its volumes are multiples" not in capsys.readouterr().err


def test_replay_shows_its_progress_in_a_terminal_only(tmp_path, monkeypatch) -> None:  # noqa: ANN001
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    path, env = a_day(tmp_path, 3)
    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    assert run.main(["--env-file", env, "replay", path, "--lot-size", "75"]) == 0
    assert "replay 1 session(s)" in terminal.getvalue() and "12/12" in terminal.getvalue()


def test_the_opening_bar_with_its_pre_open_quantity_does_not_make_a_warning(tmp_path, capsys) -> None:  # noqa: ANN001
    """The 2024-07 files: the 09:15 bar's volume holds the pre-open auction's, in any number of contracts."""
    path, env = a_day(tmp_path, 5)
    text = open(path).read().replace("2021-06-11T09:15:00+05:30,NIFTY17JUN2115600CE,100,101,99,100,75,",
                                     "2021-06-11T09:15:00+05:30,NIFTY17JUN2115600CE,100,101,99,100,1234,")
    assert ",1234," in text
    open(path, "w").write(text)
    assert run.main(["--env-file", env, "replay", path, "--lot-size", "75"]) == 0
    assert "its volumes are multiples" not in capsys.readouterr().err
