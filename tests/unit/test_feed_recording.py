"""The feed recording (replay/recording.py): written by the live FeedActor, read back by run.py replay."""

from __future__ import annotations

import gzip
from datetime import date, datetime, time
from pathlib import Path

import pytest

from messages.base import IST
from messages.market import Bar, FeedLost, HistoryBars, Tick
from replay.data import ReplayDataError
from replay.driver import instant_count, load_any, session_inputs
from replay.recording import FeedRecorder, RecordedFeed, Restarted, WarmedUp, is_recording, load_recording, recording_path

DAY = date(2025, 12, 23)
CE = "NIFTY30DEC2526000CE"
PE = "NIFTY30DEC2526000PE"


def t(h: int, m: int, s: float = 0) -> datetime:
    whole = int(s)
    return datetime(2025, 12, 23, h, m, whole, int(round((s - whole) * 1e6)), tzinfo=IST)


def _bar(start: datetime) -> Bar:
    return Bar(symbol=CE, start=start, open=100.0, high=102.5, low=99.0, close=101.0, volume=650)


def _record(path: Path, started: datetime = t(9, 14)) -> FeedRecorder:
    return FeedRecorder(path, DAY, [PE, CE], 65, started)


def test_what_is_recorded_reads_back_in_order(tmp_path: Path) -> None:
    path = recording_path(tmp_path, "baseline_v1", DAY)
    assert path.name == "baseline_v1_feed_2025-12-23.jsonl" and is_recording(path)
    recorder = _record(path)
    history = HistoryBars(symbol=CE, bars=[_bar(t(9, 15))], until=t(9, 16), time=t(9, 16, 0.5))
    recorder.history(t(9, 16, 0.5), history)
    recorder.warm(t(9, 16, 0.5))
    recorder.tick(t(9, 16, 1.25), Tick(symbol=CE, time=t(9, 16, 1.2), ltp=101.5, volume=1300))
    recorder.tick(t(9, 16, 1.25), Tick(symbol=PE, time=t(9, 16, 1.2), ltp=95.0, volume=None))
    recorder.tick(t(9, 16, 2), Tick(symbol=PE, time=t(9, 26), ltp=95.0), dropped="ahead")
    recorder.lost(t(9, 16, 3))
    recorder.close()
    recorder.close()  # a second close does nothing

    feed = load_recording(path)
    assert (feed.day, feed.symbols, feed.lot_size, feed.dropped, feed.starts) == (DAY, [CE, PE], 65, 1, 1)
    assert [item for _at, item in list(feed.inputs())] == [
        history,
        WarmedUp(),
        Tick(symbol=CE, time=t(9, 16, 1.2), ltp=101.5, volume=1300),
        Tick(symbol=PE, time=t(9, 16, 1.2), ltp=95.0, volume=None),
        FeedLost(time=t(9, 16, 3)),
    ]
    assert [at for at, _item in list(feed.inputs())] == [t(9, 16, 0.5), t(9, 16, 0.5), t(9, 16, 1.25), t(9, 16, 1.25), t(9, 16, 3)]
    assert feed.ticks == 2
    # the replay takes inputs of one instant together, as the FeedActor handled them
    assert [(at, len(items)) for at, items in session_inputs(feed)] == [(t(9, 16, 0.5), 2), (t(9, 16, 1.25), 2),
                                                                       (t(9, 16, 3), 1)]
    assert instant_count(feed) == 3
    assert isinstance(load_any(path), RecordedFeed)


def test_a_dry_run_records_to_a_file_of_its_own(tmp_path: Path) -> None:
    assert recording_path(tmp_path, "baseline_v1", DAY, dry_run=True).name == "baseline_v1_dryrun_feed_2025-12-23.jsonl"


def test_a_recording_whose_warm_up_never_ended_is_said_and_a_bad_lot_size_refused(tmp_path: Path) -> None:
    from loguru import logger

    path = tmp_path / "feed.jsonl"
    recorder = _record(path)
    recorder.tick(t(9, 20), Tick(symbol=CE, time=t(9, 20), ltp=100.0, volume=10))
    recorder.close()
    said: list[str] = []
    sink = logger.add(lambda m: said.append(str(m)), level="WARNING")
    try:
        load_recording(path)
    finally:
        logger.remove(sink)
    assert any("the warm-up never ended" in line for line in said), said
    path.write_text(path.read_text().replace('"lot_size":65', '"lot_size":0'))
    with pytest.raises(ReplayDataError, match="lot_size 0"):
        load_recording(path)


def test_a_restart_appends_after_a_line_a_kill_cut_short(tmp_path: Path) -> None:
    path = tmp_path / "feed.jsonl"
    recorder = _record(path)
    recorder.tick(t(9, 20), Tick(symbol=CE, time=t(9, 20), ltp=100.0, volume=10))
    recorder.close()
    with path.open("a") as raw:  # kill -9 in the middle of a line
        raw.write('{"at":"2025-12-23T09:20:01+05:30","tick":{"symbol":"NIFTY30D')
    recorder = _record(path, started=t(9, 25))
    recorder.tick(t(9, 25), Tick(symbol=CE, time=t(9, 25), ltp=101.0, volume=20))
    recorder.close()

    feed = load_recording(path)
    assert feed.starts == 2
    assert [getattr(item, "ltp", item) for _at, item in list(feed.inputs())] == [100.0, Restarted(t(9, 25)), 101.0]


def test_a_torn_last_line_is_skipped(tmp_path: Path) -> None:
    path = tmp_path / "feed.jsonl"
    recorder = _record(path)
    recorder.tick(t(9, 20), Tick(symbol=CE, time=t(9, 20), ltp=100.0, volume=10))
    recorder.close()
    with path.open("a") as raw:
        raw.write('{"at":"2025-12-23T09:20:01+05:30","tick":{"sym')
    assert load_recording(path).ticks == 1


def test_a_malformed_line_inside_is_an_error_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "feed.jsonl"
    recorder = _record(path)
    recorder.tick(t(9, 20), Tick(symbol=CE, time=t(9, 20), ltp=100.0, volume=10))
    recorder.close()
    lines = path.read_text().splitlines()
    lines.insert(1, '{"at":"2025-12-23T09:19:00+05:30","tick":{"symbol":"X","time":"2025-12-23T09:19:00+05:30","ltp":-1}}')
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(ReplayDataError, match=r"feed.jsonl:2:"):
        load_recording(path)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "no header line"),
        ('{"at":"2025-12-23T09:20:00+05:30","lost":true}\n{"at":"2025-12-23T09:20:00+05:30","lost":true}\n',
         "header"),
        ('{"start":"2025-12-23T09:14:00+05:30","day":"2025-12-23","symbols":[],"lot_size":65}\n', "no ticks"),
    ],
)
def test_what_is_not_a_recording_is_refused(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "feed.jsonl"
    path.write_text(text)
    with pytest.raises(ReplayDataError, match=message):
        load_recording(path)
    with pytest.raises(ReplayDataError, match="no such file"):
        load_recording(tmp_path / "missing.jsonl")


def test_a_compressed_recording_reads_the_same(tmp_path: Path) -> None:
    path = tmp_path / "feed.jsonl"
    recorder = _record(path)
    recorder.tick(t(9, 20), Tick(symbol=CE, time=t(9, 20), ltp=100.0, volume=10))
    recorder.close()
    packed = tmp_path / "feed.jsonl.gz"
    packed.write_bytes(gzip.compress(path.read_bytes()))
    assert is_recording(packed)
    assert list(load_recording(packed).inputs()) == list(load_recording(path).inputs())


def test_a_window_keeps_the_end_of_the_warm_up(tmp_path: Path) -> None:
    path = tmp_path / "feed.jsonl"
    recorder = _record(path)
    recorder.warm(t(9, 14, 30))
    for minute in (20, 40, 59):
        recorder.tick(t(10, minute), Tick(symbol=CE, time=t(10, minute), ltp=100.0 + minute, volume=minute))
    recorder.close()
    feed = load_recording(path).window(time(10, 30), time(10, 50))
    assert [item for _at, item in list(feed.inputs())][0] == WarmedUp()
    assert [item.ltp for _at, item in list(feed.inputs()) if isinstance(item, Tick)] == [140.0]
    with pytest.raises(ReplayDataError, match="no ticks"):
        load_recording(path).window(time(11, 0), None)


def test_a_failing_write_stops_recording_without_raising(tmp_path: Path) -> None:
    recorder = _record(tmp_path / "feed.jsonl")
    recorder._file.close()  # as a full disk would fail the next write
    recorder.tick(t(9, 20), Tick(symbol=CE, time=t(9, 20), ltp=100.0, volume=10))
    assert recorder._file is None, "recording stopped"
    recorder.tick(t(9, 20, 1), Tick(symbol=CE, time=t(9, 20, 1), ltp=100.0, volume=10))
    recorder.close()
