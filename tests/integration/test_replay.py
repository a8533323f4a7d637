"""Replay of a real recorded day through the whole actor graph: invariants and determinism."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest

from config.settings import Settings
from persistence.journal_store import JournalStore
from replay.driver import replay_files
from tests.paths import DAY_0611, DAY_0614, PROJECT_ROOT

pytestmark = pytest.mark.integration

SETTINGS = Settings(_env_file=None, lot_size=75)


def _replay(tmp: Path, name: str, day: Path = DAY_0611) -> tuple[list[dict], Path, list, bytes]:
    events = tmp / f"{name}.jsonl"
    db = tmp / f"{name}.db"
    results = replay_files([day], SETTINGS, events, str(db))
    raw = events.read_bytes()
    lines = [json.loads(line) for line in raw.decode().splitlines()]
    return lines, db, results, raw


@pytest.fixture(scope="module")
def run_0611(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[dict], Path, list, bytes]:
    return _replay(tmp_path_factory.mktemp("replay"), "first")


def test_the_day_produces_swings_candidates_and_trades(run_0611) -> None:
    events, _db, results, _raw = run_0611
    kinds = defaultdict(int)
    for e in events:
        kinds[e["type"]] += 1
    assert kinds["swing"] > 100
    assert kinds["candidate"] > 100
    assert kinds["order"] > 0 and kinds["fill"] > 0
    trades = results[0].trades
    assert trades, "the 2021-06-11 replay should trade"
    assert all(t.exit_price is not None for t in trades), "every position is closed by the end of the day"
    assert [e for e in events if e["type"] == "summary"][-1]["trades"] == len(trades)


def test_every_event_has_type_and_ist_time(run_0611) -> None:
    events, _db, _, _raw = run_0611
    for e in events:
        assert list(e)[:2] == ["type", "time"]
        assert e["time"].endswith("+05:30")
    times = [e["time"] for e in events]
    assert times == sorted(times), "events are written in time order"


def test_limits_are_never_exceeded(run_0611) -> None:
    """Open positions plus working entries stay within 5 total and 3 per type (strategy.md §6)."""
    events, _db, _, _raw = run_0611
    open_positions: dict[str, str] = {}  # position_id -> option type
    working: dict[str, str] = {}  # entry orderid -> option type (no fill yet)
    for e in events:
        if e["type"] == "order" and e["role"] == "entry":
            option_type = e["symbol"][-2:]
            if e["op"] == "place":
                working[e["orderid"]] = option_type
            elif e["op"] == "cancel":
                working.pop(e["orderid"], None)
        elif e["type"] == "fill" and e["role"] == "entry":
            working.pop(e["orderid"], None)
        elif e["type"] == "position":
            if e["state"] == "open":
                open_positions[e["position_id"]] = e["option_type"]
            else:
                open_positions.pop(e["position_id"], None)
        counts = defaultdict(int)
        for option_type in [*open_positions.values(), *working.values()]:
            counts[option_type] += 1
        assert counts["CE"] <= 3 and counts["PE"] <= 3, e
        assert counts["CE"] + counts["PE"] <= 5, e


def test_at_most_one_working_entry_per_option_type(run_0611) -> None:
    events, _db, _, _raw = run_0611
    working: dict[str, set[str]] = {"CE": set(), "PE": set()}
    filled: dict[str, int] = defaultdict(int)
    quantity: dict[str, int] = {}
    for e in events:
        if e["type"] == "order" and e["role"] == "entry":
            side = working[e["symbol"][-2:]]
            if e["op"] == "place":
                side.add(e["orderid"])
                quantity[e["orderid"]] = e["quantity"]
            elif e["op"] == "modify":
                quantity[e["orderid"]] = e["quantity"]
            else:
                side.discard(e["orderid"])
        elif e["type"] == "fill" and e["role"] == "entry":
            filled[e["orderid"]] += e["quantity"]
            if filled[e["orderid"]] >= quantity[e["orderid"]]:
                working[e["symbol"][-2:]].discard(e["orderid"])
        assert len(working["CE"]) <= 1 and len(working["PE"]) <= 1, e


def test_every_entry_fill_is_followed_by_a_stop_for_the_filled_quantity(run_0611) -> None:
    events, _db, _, _raw = run_0611
    fills = [i for i, e in enumerate(events) if e["type"] == "fill" and e["role"] == "entry"]
    assert fills
    for i in fills:
        fill = events[i]
        following = next(e for e in events[i + 1 :] if e["type"] == "order")
        assert following["op"] == "place" and following["role"] == "stop"
        assert following["position_id"] == fill["orderid"]
        assert following["quantity"] == fill["quantity"]
        assert following["action"] == "BUY" and following["pricetype"] == "SL"
        assert following["price"] == pytest.approx(following["trigger_price"] + 3.0)


def test_journal_positions_equal_the_event_log(run_0611) -> None:
    events, db, results, _raw = run_0611
    closed = {e["position_id"]: e for e in events if e["type"] == "position" and e["state"] == "closed"}
    store = JournalStore(db)
    try:
        rows = store.positions(results[0].session.day)
        summary = store.summary(results[0].session.day)
    finally:
        store.close()
    assert {r["position_id"] for r in rows} == set(closed)
    for row in rows:
        e = closed[row["position_id"]]
        assert row["state"] == "closed"
        for key in ("symbol", "quantity", "entry_price", "sl_price", "exit_price", "pnl", "r", "reason"):
            assert row[key] == e[key], key
    assert summary is not None
    # the summary sums unrounded R; each event's R is rounded to 4 decimals
    assert summary["net_r"] == pytest.approx(sum(e["r"] for e in closed.values()), abs=1e-4 * len(closed))
    assert summary["trades"] == len(closed)


def test_the_trade_table_matches_the_journal(run_0611) -> None:
    events, _db, results, _raw = run_0611
    closed = {e["position_id"]: e for e in events if e["type"] == "position" and e["state"] == "closed"}
    for trade in results[0].trades:
        assert trade.r == closed[trade.position_id]["r"]
        assert trade.reason == closed[trade.position_id]["reason"]


def test_replay_is_deterministic(run_0611, tmp_path: Path) -> None:
    _events, _db, first_results, first_raw = run_0611
    _again, _db2, again_results, again_raw = _replay(tmp_path, "second")
    assert again_raw == first_raw
    assert again_results[0].trades == first_results[0].trades


@pytest.mark.slow  # the real command twice, in processes of their own
def test_cli_replays_two_sessions_and_prints_tables(tmp_path: Path) -> None:
    events = tmp_path / "events.jsonl"
    cmd = [sys.executable, "run.py", "replay", str(DAY_0611), str(DAY_0614), "--lot-size", "75", "--events", str(events)]
    first = subprocess.run(cmd, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=300, check=True)
    first_events = events.read_bytes()
    second = subprocess.run(cmd, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=300, check=True)
    assert first.stdout == second.stdout
    assert events.read_bytes() == first_events
    assert "== 2021-06-11" in first.stdout and "== 2021-06-14" in first.stdout
    assert "== all sessions" in first.stdout
    assert "net R" in first.stdout


def _recording_of(day: Path, out: Path, restart=None) -> None:  # noqa: ANN001 - restart: an IST time or None
    """A feed recording of a bar file's own ticks (as the simulator sends them), warmed up at the open; with
    ``restart``, the program stops there and starts again, warming up from the history as the FeedActor does."""
    from itertools import groupby

    from messages.market import Bar, HistoryBars
    from replay.data import load_session
    from replay.recording import FeedRecorder
    from replay.ticks import session_ticks
    from strategy.session import at

    session = load_session(day)
    opening = at(session.day, SETTINGS.market_open)
    again = at(session.day, restart) if restart else None
    recorder = FeedRecorder(out, session.day, session.symbols, 75, opening)
    recorder.warm(opening)
    for moment, instant in groupby(session_ticks(session.bars), key=lambda tick: tick.time):
        if again is not None and moment >= again:
            recorder.close()
            recorder = FeedRecorder(out, session.day, session.symbols, 75, again)
            for symbol in session.symbols:
                bars = [Bar(symbol=symbol, start=b.start, open=b.open, high=b.high, low=b.low, close=b.close,
                            volume=b.volume) for b in session.bars if b.symbol == symbol and b.start < again]
                recorder.history(again, HistoryBars(symbol=symbol, bars=bars, until=again, time=again))
            recorder.warm(again)
            again = None
        for tick in instant:
            recorder.tick(moment, tick)
    recorder.close()


@pytest.mark.parametrize(("day", "restart"), [(DAY_0614, None), (DAY_0611, "10:30")])
def test_a_feed_recording_of_the_same_ticks_replays_to_the_same_trades(tmp_path: Path, capsys, day: Path,  # noqa: ANN001
                                                                        restart: str | None) -> None:
    """run.py replay reads a live day's feed recording: recorded with the bar file's own ticks, it trades
    exactly as the bar file does; with a restart in it (at 10:30 on 2021-06-11, a position open), the replay
    stops its program and starts another on the same journal and broker, which recovers as live: same trades."""
    from datetime import time as clock_time

    from run import main

    recording = tmp_path / "baseline_v1_feed.jsonl"
    _recording_of(day, recording, clock_time.fromisoformat(restart) if restart else None)

    assert main(["replay", str(day), "--lot-size", "75"]) == 0
    from_bars = capsys.readouterr().out
    assert main(["--log-level", "INFO", "replay", str(recording)]) == 0  # its lot size is the recording's own
    replayed = capsys.readouterr()

    def trades(report: str) -> list[str]:
        return [line for line in report.splitlines() if line.startswith("NIFTY") or line.startswith("trades")]

    assert len(trades(from_bars)) > 1, "the day must trade"
    assert trades(replayed.out) == trades(from_bars)
    if restart:
        assert f"the recorded program started again at {restart}:00" in replayed.err
        assert "recovered from the journal: 1 positions (1 open)" in replayed.err
