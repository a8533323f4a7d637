"""load_session: the recorded 2021-06-11 file, and small hand-written files for every error."""

from __future__ import annotations

import gzip
from collections import Counter
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from messages.base import IST
from replay.data import COLUMNS, BarRow, ReplayDataError, load_session

ROOT = Path(__file__).resolve().parents[2]  # the project root
DATA = ROOT.parent / "shared" / "data"  # ../shared/data, read in place
OPTIONS_0611 = DATA / "nifty_options_2021-06-11.csv.gz"
SPOT_0611 = DATA / "nifty_spot_2021-06-11.csv.gz"

HEADER = ",".join(COLUMNS)
CE = "NIFTY17JUN2115700CE"
PE = "NIFTY17JUN2115700PE"


def write(tmp_path: Path, lines: list[str], name: str = "session.csv", gz: bool = False) -> Path:
    path = tmp_path / name
    text = "\n".join(lines) + "\n"
    if gz:
        with gzip.open(path, "wt", encoding="utf-8") as f:
            f.write(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def ist(hour: int, minute: int, day: int = 11) -> datetime:
    return datetime(2021, 6, day, hour, minute, tzinfo=IST)


# --- the real file ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def real():
    return load_session(OPTIONS_0611)


def test_real_file_day_and_symbols(real) -> None:
    assert real.path == OPTIONS_0611
    assert real.day == date(2021, 6, 11)
    strikes = range(15600, 15851, 50)
    assert real.symbols == [f"NIFTY17JUN21{k}{t}" for k in strikes for t in ("CE", "PE")]
    assert len(real.symbols) == 12
    assert real.skipped_symbols == []


def test_real_file_has_375_bars_per_symbol_09_15_to_15_29(real) -> None:
    assert len(real.bars) == 12 * 375
    assert Counter(b.symbol for b in real.bars) == {s: 375 for s in real.symbols}
    starts = sorted({b.start for b in real.bars})
    assert starts == [ist(9, 15) + timedelta(minutes=i) for i in range(375)]
    assert starts[-1] == ist(15, 29)


def test_real_file_bars_are_sorted_by_start_then_symbol_in_ist(real) -> None:
    keys = [(b.start, b.symbol) for b in real.bars]
    assert keys == sorted(keys)
    assert len(set(keys)) == len(keys)
    assert {b.start.utcoffset() for b in real.bars} == {timedelta(hours=5, minutes=30)}


def test_real_file_first_and_last_rows(real) -> None:
    assert real.bars[0] == BarRow(ist(9, 15), "NIFTY17JUN2115600CE", 215.65, 231.5, 215.6, 230.25, 35400)
    assert real.bars[1] == BarRow(ist(9, 15), "NIFTY17JUN2115600PE", 49.95, 49.95, 42.6, 42.6, 189075)
    assert real.bars[-1].start == ist(15, 29)
    assert real.bars[-1].symbol == "NIFTY17JUN2115850PE"


def test_real_file_bars_are_consistent(real) -> None:
    for b in real.bars:
        assert 0 < b.low <= min(b.open, b.close) <= max(b.open, b.close) <= b.high
        assert b.volume >= 0 and b.volume % 75 == 0  # real volume, units, lot 75


def test_spot_file_has_no_option_rows() -> None:
    with pytest.raises(ReplayDataError, match="no option rows"):
        load_session(SPOT_0611)


# --- small files -----------------------------------------------------------------------


def test_small_file_plain_and_gzip_read_the_same(tmp_path: Path) -> None:
    lines = [
        HEADER,
        f"2021-06-11T09:16:00+05:30,{CE},10.0,12.5,9.5,11.0,750,",
        f"2021-06-11T09:15:00+05:30,{PE},20.0,21.0,19.0,20.5,150,300",
        f"2021-06-11T09:15:00+05:30,{CE},10.5,10.5,9.0,10.0,,",
    ]
    plain = load_session(write(tmp_path, lines))
    zipped = load_session(write(tmp_path, lines, name="session.csv.gz", gz=True))
    expected = [
        BarRow(ist(9, 15), CE, 10.5, 10.5, 9.0, 10.0, 0),  # empty volume is 0
        BarRow(ist(9, 15), PE, 20.0, 21.0, 19.0, 20.5, 150),
        BarRow(ist(9, 16), CE, 10.0, 12.5, 9.5, 11.0, 750),
    ]
    assert plain.bars == expected
    assert zipped.bars == expected
    assert plain.symbols == zipped.symbols == [CE, PE]
    assert plain.day == date(2021, 6, 11)


def test_timestamps_in_another_offset_are_converted_to_ist(tmp_path: Path) -> None:
    path = write(tmp_path, [HEADER, f"2021-06-11T03:45:00+00:00,{CE},10,11,9,10,75,"])
    session = load_session(path)
    assert session.bars[0].start == ist(9, 15)
    assert session.bars[0].start.tzinfo is IST
    assert session.day == date(2021, 6, 11)


def test_the_day_is_the_ist_day(tmp_path: Path) -> None:
    # 20:00 UTC on the 10th is 01:30 IST on the 11th: one IST day, not two UTC days
    path = write(
        tmp_path,
        [
            HEADER,
            f"2021-06-10T20:00:00+00:00,{CE},10,11,9,10,75,",
            f"2021-06-11T09:15:00+05:30,{CE},10,11,9,10,75,",
        ],
    )
    assert load_session(path).day == date(2021, 6, 11)


def test_non_option_rows_are_skipped_and_listed(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        [
            HEADER,
            "2021-06-11T09:15:00+05:30,NIFTY,15796.45,15803.15,15788.9,15798.2,0,",
            f"2021-06-11T09:15:00+05:30,{CE},10,11,9,10,75,",
            "2021-06-11T09:15:00+05:30,BANKNIFTY,35000,35010,34990,35005,0,",
            "2021-06-11T09:16:00+05:30,NIFTY,15798.7,15807.15,15796.6,15806.9,0,",
        ],
    )
    session = load_session(path)
    assert session.skipped_symbols == ["BANKNIFTY", "NIFTY"]
    assert session.symbols == [CE]
    assert [b.symbol for b in session.bars] == [CE]


def test_blank_lines_are_ignored(tmp_path: Path) -> None:
    path = write(tmp_path, [HEADER, "", f"2021-06-11T09:15:00+05:30,{CE},10,11,9,10,75,", ""])
    assert len(load_session(path).bars) == 1


# --- errors ------------------------------------------------------------------------------


def test_missing_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.csv.gz"
    with pytest.raises(ReplayDataError, match="no such file") as info:
        load_session(missing)
    assert str(missing) in str(info.value)


def test_a_directory_is_not_a_session_file(tmp_path: Path) -> None:
    with pytest.raises(ReplayDataError, match="no such file"):
        load_session(tmp_path)


@pytest.mark.parametrize(
    "header",
    [
        "timestamp,symbol,open,high,low,close,volume",  # oi missing
        "time,symbol,open,high,low,close,volume,oi",
        "timestamp,symbol,high,open,low,close,volume,oi",  # order matters
        f"2021-06-11T09:15:00+05:30,{CE},10,11,9,10,75,",  # no header at all
    ],
)
def test_bad_header(tmp_path: Path, header: str) -> None:
    path = write(tmp_path, [header, f"2021-06-11T09:15:00+05:30,{CE},10,11,9,10,75,"])
    with pytest.raises(ReplayDataError, match="header must be timestamp,symbol,open,high,low,close,volume,oi"):
        load_session(path)


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.csv"
    path.write_text("")
    with pytest.raises(ReplayDataError, match="header"):
        load_session(path)


def test_header_only(tmp_path: Path) -> None:
    with pytest.raises(ReplayDataError, match="no option rows"):
        load_session(write(tmp_path, [HEADER]))


@pytest.mark.parametrize(
    ("bad_row", "words"),
    [
        (f"2021-06-11T09:16:00+05:30,{CE},10,11,9,10,75", "expected 8 fields, got 7"),
        (f"2021-06-11T09:16:00+05:30,{CE},10,11,9,10,75,,", "expected 8 fields, got 9"),
        (f"2021-06-11 9h16,{CE},10,11,9,10,75,", "Invalid isoformat"),
        (f"2021-06-11T09:16:00,{CE},10,11,9,10,75,", "without a UTC offset"),
        (f"2021-06-11T09:16:00+05:30,{CE},ten,11,9,10,75,", "could not convert"),
        (f"2021-06-11T09:16:00+05:30,{CE},10,11,9,12,75,", "inconsistent bar"),  # close above high
        (f"2021-06-11T09:16:00+05:30,{CE},8,11,9,10,75,", "inconsistent bar"),  # open below low
        (f"2021-06-11T09:16:00+05:30,{CE},10,11,9,8.5,75,", "inconsistent bar"),  # close below low
        (f"2021-06-11T09:16:00+05:30,{CE},11.5,11,9,10,75,", "inconsistent bar"),  # open above high
        (f"2021-06-11T09:16:00+05:30,{CE},0,0,0,0,75,", "inconsistent bar"),  # zero prices
        (f"2021-06-11T09:16:00+05:30,{CE},10,11,9,10,-75,", "inconsistent bar"),  # negative volume
    ],
)
def test_a_malformed_row_names_its_line_number(tmp_path: Path, bad_row: str, words: str) -> None:
    path = write(
        tmp_path,
        [
            HEADER,
            f"2021-06-11T09:15:00+05:30,{CE},10,11,9,10,75,",
            "",  # a blank line still counts as a line
            bad_row,
            f"2021-06-11T09:17:00+05:30,{CE},10,11,9,10,75,",
        ],
    )
    with pytest.raises(ReplayDataError) as info:
        load_session(path)
    message = str(info.value)
    assert message.startswith(f"{path}:4: ")
    assert words in message


def test_a_malformed_non_option_row_is_still_an_error(tmp_path: Path) -> None:
    path = write(tmp_path, [HEADER, f"2021-06-11T09:15:00+05:30,{CE},10,11,9,10,75,", "2021-06-11T09:15:00+05:30,NIFTY,x,1,1,1,0,"])
    with pytest.raises(ReplayDataError, match=":3: "):
        load_session(path)


def test_two_days_in_one_file(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        [
            HEADER,
            f"2021-06-11T15:29:00+05:30,{CE},10,11,9,10,75,",
            f"2021-06-14T09:15:00+05:30,{CE},10,11,9,10,75,",
        ],
    )
    with pytest.raises(ReplayDataError, match=r"one session per file, found \[datetime.date\(2021, 6, 11\), datetime.date\(2021, 6, 14\)\]"):
        load_session(path)


def test_a_spot_row_of_another_day_does_not_count_as_a_second_session(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        [
            HEADER,
            f"2021-06-11T09:15:00+05:30,{CE},10,11,9,10,75,",
            "2021-06-14T09:15:00+05:30,NIFTY,15700,15710,15690,15705,0,",
        ],
    )
    session = load_session(path)
    assert session.day == date(2021, 6, 11)
    assert session.skipped_symbols == ["NIFTY"]


def test_a_plain_file_named_gz_is_a_read_error(tmp_path: Path) -> None:
    path = write(tmp_path, [HEADER, f"2021-06-11T09:15:00+05:30,{CE},10,11,9,10,75,"], name="session.csv.gz")
    with pytest.raises(ReplayDataError, match="cannot read"):
        load_session(path)


def test_a_duplicate_bar_is_an_error_naming_its_line(tmp_path: Path) -> None:
    row = f"2021-06-11T09:15:00+05:30,{CE},10,11,9,10,75,"
    with pytest.raises(ReplayDataError, match=r":3: duplicate bar"):
        load_session(write(tmp_path, [HEADER, row, row]))
