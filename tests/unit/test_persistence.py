"""The journal store (SQLite tables, batching, recovery queries) and the event log."""

from __future__ import annotations

import json
import sqlite3
from datetime import date, datetime, timedelta, timezone
from typing import ClassVar

import peewee
import pytest

from messages.base import IST, JournalEvent
from messages.orders import OrderFilled, OrderSent
from messages.portfolio import PositionEvent, SessionSummary
from messages.signals import CandidateDecided, SwingDetected
from messages.system import Alert, Halted
from persistence import schema
from persistence.event_log import EventLog
from persistence.journal_store import JournalError, JournalStore
from state.portfolio import rebuild as rebuild_portfolio

DAY = date(2021, 6, 11)
SYM = "NIFTY17JUN2115500CE"


def at(hour: int, minute: int, second: int = 0) -> datetime:
    return datetime(2021, 6, 11, hour, minute, second, tzinfo=IST)


def sent(op: str = "place", orderid: str = "E1", t: datetime | None = None, **kw) -> OrderSent:
    fields = dict(
        op=op, role="entry", orderid=orderid, symbol=SYM, action="SELL", pricetype="SL",
        trigger_price=99.95, price=99.0, quantity=150, position_id=None,
    )
    fields.update(kw)
    return OrderSent(time=t or at(9, 30), **fields)


def filled(quantity: int, price: float, orderid: str = "E1", t: datetime | None = None) -> OrderFilled:
    return OrderFilled(
        time=t or at(9, 31), orderid=orderid, role="entry", symbol=SYM, action="SELL",
        quantity=quantity, average_price=price, position_id=orderid,
    )


def swing(t: datetime, price: float = 98.5) -> SwingDetected:
    return SwingDetected(
        time=t, symbol=SYM, option_type="CE", swing_type="LOW", update=False, price=price,
        bar_time=at(9, 20), confirmed_at=at(9, 22), vwap_at_swing=101.25, highest_high=104.0,
    )


@pytest.fixture
def store():
    s = JournalStore(":memory:")
    yield s
    s.close()


# ---------------------------------------------------------------- orders and fills


def test_order_sent_upserts_the_order_and_logs_each_op(store):
    store.record(sent("place", t=at(9, 30)))
    store.record(sent("modify", t=at(9, 31), trigger_price=98.95, price=98.0))

    [order] = store.open_orders(DAY)
    assert order["orderid"] == "E1"
    assert order["session"] == DAY
    assert (order["role"], order["symbol"], order["action"], order["pricetype"]) == ("entry", SYM, "SELL", "SL")
    assert (order["trigger_price"], order["price"], order["quantity"]) == (98.95, 98.0, 150)
    assert order["status"] == "modified"
    assert (order["filled_quantity"], order["average_price"]) == (0, 0.0)
    assert order["created_at"] == at(9, 30)
    assert order["updated_at"] == at(9, 31)
    assert order["position_id"] is None

    store.record(sent("cancel", t=at(9, 32), trigger_price=98.95, price=98.0))
    assert store.open_orders(DAY) == []
    assert store.count("orders") == 1
    assert store.count("order_events") == 3


def test_partial_fills_accumulate_a_weighted_average_on_the_order(store):
    store.record(sent("place", quantity=150))
    store.record(filled(50, 100.0, t=at(9, 31)))

    [order] = store.open_orders(DAY)
    assert (order["status"], order["filled_quantity"], order["average_price"]) == ("partial", 50, 100.0)

    store.record(filled(100, 103.0, t=at(9, 32)))
    assert store.open_orders(DAY) == []  # complete is final
    row = sqlite_rows(store, "SELECT status, filled_quantity, average_price, updated_at FROM orders")
    assert row[0][:2] == ("complete", 150)
    assert row[0][2] == pytest.approx((50 * 100.0 + 100 * 103.0) / 150)
    assert row[0][3] == "2021-06-11T09:32:00+05:30"

    fills = sqlite_rows(store, "SELECT session, orderid, role, symbol, action, quantity, average_price, position_id, time FROM fills ORDER BY id")
    assert fills == [
        ("2021-06-11", "E1", "entry", SYM, "SELL", 50, 100.0, "E1", "2021-06-11T09:31:00+05:30"),
        ("2021-06-11", "E1", "entry", SYM, "SELL", 100, 103.0, "E1", "2021-06-11T09:32:00+05:30"),
    ]
    events = sqlite_rows(store, "SELECT op, trigger_price, price, quantity, average_price FROM order_events ORDER BY id")
    assert events == [
        ("place", 99.95, 99.0, 150, None),
        ("fill", 99.95, 99.0, 50, 100.0),
        ("fill", 99.95, 99.0, 100, 103.0),
    ]


def test_a_late_fill_of_a_cancelled_order_does_not_reopen_it(store):
    store.record(sent("place", quantity=150))
    store.record(sent("cancel", t=at(9, 32)))
    store.record(filled(75, 100.0, t=at(9, 33)))
    assert store.open_orders(DAY) == []
    assert sqlite_rows(store, "SELECT status, filled_quantity FROM orders") == [("cancelled", 75)]


def test_a_fill_of_an_unjournaled_order_is_still_recorded(store):
    store.record(filled(75, 100.0, orderid="X9"))
    assert store.count("fills") == 1
    assert store.count("orders") == 0
    assert sqlite_rows(store, "SELECT op, trigger_price, price, quantity FROM order_events") == [("fill", None, None, 75)]


def test_a_stop_order_keeps_its_position_id_across_a_modify(store):
    store.record(sent("place", orderid="S1", role="stop", action="BUY", pricetype="SL", position_id="E1"))
    store.record(sent("modify", orderid="S1", role="stop", action="BUY", pricetype="SL", quantity=300, t=at(9, 35)))
    [order] = store.open_orders(DAY)
    assert (order["role"], order["position_id"], order["quantity"]) == ("stop", "E1", 300)


# ---------------------------------------------------------------- positions


def test_position_opens_grows_and_closes(store):
    base = dict(position_id="E1", symbol=SYM, option_type="CE", entry_price=100.0, sl_price=110.0)
    store.record(PositionEvent(time=at(9, 31), state="open", quantity=50, **base))
    store.record(PositionEvent(time=at(9, 32), state="open", quantity=150, **{**base, "entry_price": 102.0}))

    [pos] = store.positions(DAY)
    assert (pos["state"], pos["quantity"], pos["entry_price"], pos["sl_price"]) == ("open", 150, 102.0, 110.0)
    assert pos["opened_at"] == at(9, 31)
    assert (pos["exit_price"], pos["pnl"], pos["r"], pos["closed_at"]) == (None, None, None, None)

    store.record(PositionEvent(
        time=at(10, 5), state="closed", quantity=150, exit_price=95.0, pnl=1050.0, r=0.875,
        reason="target", **{**base, "entry_price": 102.0},
    ))
    [pos] = store.positions(DAY)
    assert pos["state"] == "closed"
    assert (pos["exit_price"], pos["pnl"], pos["r"], pos["reason"]) == (95.0, 1050.0, 0.875, "target")
    assert pos["opened_at"] == at(9, 31)
    assert pos["closed_at"] == at(10, 5)
    assert pos["session"] == DAY


def test_closed_trades_are_what_a_restart_restores(store):
    base = dict(symbol=SYM, option_type="CE", quantity=150, entry_price=102.0, sl_price=110.0)
    store.record(PositionEvent(time=at(9, 31), state="open", position_id="E1", **base))
    store.record(PositionEvent(time=at(9, 40), state="open", position_id="E2", **base))
    store.record(PositionEvent(
        time=at(10, 5), state="closed", exit_price=95.0, pnl=1050.0, r=0.875, reason="stop", position_id="E1", **base,
    ))
    positions, _ = rebuild_portfolio(store, DAY)  # what a restarted PortfolioActor starts with
    [trade] = [p for p in positions.values() if p.open_quantity == 0]
    assert (trade.position_id, trade.quantity, trade.entry_price, trade.exit_price) == ("E1", 150, 102.0, 95.0)
    assert (trade.entry_time, trade.exit_time, trade.pnl, trade.r, trade.reason) == (at(9, 31), at(10, 5), 1050.0, 0.875, "stop")


def test_event_lines_reach_the_file_as_they_are_written(tmp_path):
    """A trader tailing the log sees a halt at once, not at exit (and a crash loses no line)."""
    path = tmp_path / "events.jsonl"
    log = EventLog(path)
    log.write(_events()[0])
    assert len(path.read_text(encoding="utf-8").splitlines()) == 1
    log.close()


def test_positions_are_per_session(store):
    base = dict(symbol=SYM, option_type="PE", quantity=75, entry_price=50.0, sl_price=55.0)
    store.record(PositionEvent(time=at(9, 31), state="open", position_id="A", **base))
    store.record(PositionEvent(time=at(9, 31) + timedelta(days=1), state="open", position_id="B", **base))
    assert [p["position_id"] for p in store.positions(DAY)] == ["A"]
    assert [p["position_id"] for p in store.positions(DAY + timedelta(days=1))] == ["B"]


# ---------------------------------------------------------------- other events


def test_swing_lands_in_swings(store):
    store.record(swing(at(9, 23)))
    store.flush()
    rows = sqlite_rows(store, "SELECT session, symbol, swing_type, is_update, price, bar_time, confirmed_at, vwap_at_swing, time FROM swings")
    assert rows == [(
        "2021-06-11", SYM, "LOW", 0, 98.5, "2021-06-11T09:20:00+05:30",
        "2021-06-11T09:22:00+05:30", 101.25, "2021-06-11T09:23:00+05:30",
    )]


def test_candidate_decision_lands_with_nulls_for_missing_values(store):
    store.record(CandidateDecided(
        time=at(9, 23), symbol=SYM, option_type="CE", decision="rejected", reason="sl_pct_low",
        price=98.5, vwap_at_swing=101.25, sl_price=99.0, sl_pct=0.5, quantity=None,
    ))
    store.record(CandidateDecided(time=at(9, 24), symbol=None, option_type="PE", decision="best"))
    store.flush()
    rows = sqlite_rows(store, "SELECT session, time, symbol, option_type, decision, reason, price, vwap_at_swing, sl_price, sl_pct, quantity FROM candidate_decisions ORDER BY id")
    assert rows == [
        ("2021-06-11", "2021-06-11T09:23:00+05:30", SYM, "CE", "rejected", "sl_pct_low", 98.5, 101.25, 99.0, 0.5, None),
        ("2021-06-11", "2021-06-11T09:24:00+05:30", None, "PE", "best", "", None, None, None, None, None),
    ]


def test_session_summary_is_upserted_by_session(store):
    first = dict(session=DAY, trades=2, wins=1, net_r=0.5, max_drawdown_r=-1.0, pnl=1200.0, halted=False)
    store.record(SessionSummary(time=at(15, 30), **first))
    store.record(SessionSummary(time=at(15, 31), **{**first, "trades": 3, "halted": True, "halt_reason": "15:15"}))
    assert store.summary(DAY) == dict(
        session=DAY, trades=3, wins=1, net_r=0.5, max_drawdown_r=-1.0, pnl=1200.0, halted=True, halt_reason="15:15",
    )
    assert store.summary(DAY + timedelta(days=1)) is None
    assert store.count("daily_summary") == 1


def test_halt_sets_the_session_flag_and_keeps_the_first_reason(store):
    assert store.is_halted(DAY) == (False, "")
    store.record(Halted(time=at(11, 0), reason="+5R"))
    store.record(Halted(time=at(15, 15), reason="15:15"))
    assert store.is_halted(DAY) == (True, "+5R")
    assert sqlite_rows(store, "SELECT session, halted, halt_reason, halted_at FROM sessions") == [
        ("2021-06-11", 1, "+5R", "2021-06-11T11:00:00+05:30"),
    ]
    assert store.is_halted(DAY + timedelta(days=1)) == (False, "")


def test_alert_lands_in_alerts(store):
    store.record(Alert(time=at(9, 40), level="warning", text="feed gap 12 s — back-filling"))
    store.flush()
    assert sqlite_rows(store, "SELECT session, time, level, text FROM alerts") == [
        ("2021-06-11", "2021-06-11T09:40:00+05:30", "warning", "feed gap 12 s — back-filling"),
    ]


def test_unknown_event_class_raises_type_error_naming_it(store):
    class Mystery(JournalEvent):
        EVENT_TYPE: ClassVar[str] = "mystery"

    with pytest.raises(TypeError, match="Mystery"):
        store.record(Mystery(time=at(9, 30)))
    with pytest.raises(TypeError, match="str"):
        store.record("not an event")  # type: ignore[arg-type]
    store.flush()  # nothing was buffered
    assert sum(store.count(t) for t in ("orders", "swings", "alerts", "sessions")) == 0


def test_count_of_an_unknown_table_raises_value_error(store):
    with pytest.raises(ValueError, match="nope"):
        store.count("nope")


# ---------------------------------------------------------------- times and sessions


def test_datetimes_round_trip_and_are_stored_in_ist(store):
    utc_time = datetime(2021, 6, 11, 3, 50, 30, 250000, tzinfo=timezone.utc)  # 09:20:30.25 IST
    store.record(PositionEvent(
        time=utc_time, state="open", position_id="E1", symbol=SYM, option_type="CE",
        quantity=75, entry_price=100.0, sl_price=110.0,
    ))
    [pos] = store.positions(DAY)
    assert pos["opened_at"] == utc_time
    assert pos["opened_at"].utcoffset() == timedelta(hours=5, minutes=30)
    assert sqlite_rows(store, "SELECT opened_at FROM positions") == [("2021-06-11T09:20:30.250000+05:30",)]


def test_session_is_the_ist_date_of_the_event_time(store):
    late_utc_evening = datetime(2021, 6, 10, 19, 0, tzinfo=timezone.utc)  # 00:30 IST on the 11th
    store.record(Halted(time=late_utc_evening, reason="test"))
    assert store.is_halted(DAY) == (True, "test")
    assert store.is_halted(date(2021, 6, 10)) == (False, "")


# ---------------------------------------------------------------- files, batching, restart


def test_halt_survives_closing_and_reopening(tmp_path):
    path = tmp_path / "journal.db"
    first = JournalStore(path)
    first.record(Halted(time=at(12, 0), reason="-5R"))
    first.close()

    second = JournalStore(path)
    try:
        assert second.is_halted(DAY) == (True, "-5R")
    finally:
        second.close()


def test_buffered_batch_is_committed_on_flush_and_at_batch_size(tmp_path):
    path = tmp_path / "journal.db"
    writer = JournalStore(path, batch_size=3, flush_on=frozenset())
    reader = JournalStore(path)
    try:
        writer.record(swing(at(9, 23)))
        writer.record(swing(at(9, 24)))
        assert reader.count("swings") == 0  # buffered, not committed
        writer.flush()
        assert reader.count("swings") == 2

        for minute in (25, 26, 27):
            writer.record(swing(at(9, minute)))
        assert reader.count("swings") == 5  # the third record filled the batch
    finally:
        writer.close()
        reader.close()


def test_state_events_commit_at_once_by_default(tmp_path):
    path = tmp_path / "journal.db"
    writer = JournalStore(path)
    reader = JournalStore(path)
    try:
        writer.record(swing(at(9, 23)))
        writer.record(sent("place"))
        assert reader.count("orders") == 1
        assert reader.count("swings") == 1  # committed with the order, in order
    finally:
        writer.close()
        reader.close()


def test_close_flushes_and_later_use_raises(tmp_path):
    path = tmp_path / "journal.db"
    store = JournalStore(path, flush_on=frozenset())
    store.record(swing(at(9, 23)))
    store.close()
    store.close()
    with pytest.raises(JournalError, match="closed"):
        store.record(swing(at(9, 24)))
    with JournalStore(path) as again:
        assert again.count("swings") == 1


def test_file_database_uses_wal(tmp_path):
    path = tmp_path / "journal.db"
    JournalStore(path).close()
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_unopenable_database_raises_journal_error_naming_the_path(tmp_path):
    with pytest.raises(JournalError, match="journal database") as info:
        JournalStore(tmp_path)  # a directory
    assert str(tmp_path) in str(info.value)

    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"this is not an sqlite database, not at all" * 100)
    with pytest.raises(JournalError, match="garbage.db"):
        JournalStore(garbage)


# ---------------------------------------------------------------- event log


def _events() -> list[JournalEvent]:
    return [
        swing(at(9, 23)),
        sent("place"),
        filled(150, 99.5),
        Alert(time=datetime(2021, 6, 11, 4, 10, tzinfo=timezone.utc), level="info", text="₹ ok"),
    ]


def test_event_log_writes_one_compact_object_per_line(tmp_path):
    path = tmp_path / "logs" / "events.jsonl"
    with EventLog(path) as log:
        for event in _events():
            log.write(event)

    text = path.read_text(encoding="utf-8")
    lines = text.splitlines()
    assert text.endswith("\n") and len(lines) == 4
    for line in lines:
        assert ", " not in line and ": " not in line
        record = json.loads(line)
        assert list(record)[:2] == ["type", "time"]
        assert record["time"].endswith("+05:30")
    assert [json.loads(line)["type"] for line in lines] == ["swing", "order", "fill", "alert"]
    assert json.loads(lines[3]) == {"type": "alert", "time": "2021-06-11T09:40:00+05:30", "level": "info", "text": "₹ ok"}
    assert "₹" in lines[3]  # not \u-escaped
    assert "highest_high" not in lines[0]  # excluded by the event


def test_event_log_is_byte_identical_across_runs_and_truncates(tmp_path):
    path = tmp_path / "events.jsonl"
    contents = []
    for _ in range(2):
        log = EventLog(path)
        for event in _events():
            log.write(event)
        log.flush()
        contents.append(path.read_bytes())
        log.close()
    assert contents[0] == contents[1]
    assert contents[0].count(b"\n") == 4


def test_a_live_event_log_goes_on_after_a_restart(tmp_path):
    """Live (``append``): the same day's file keeps what the run before the crash wrote."""
    path = tmp_path / "events.jsonl"
    for _ in range(2):
        with EventLog(path, append=True) as log:
            for event in _events():
                log.write(event)
    assert path.read_bytes().count(b"\n") == 8


def test_event_log_without_path_is_a_no_op(tmp_path):
    log = EventLog(None)
    log.write(swing(at(9, 23)))
    log.flush()
    log.close()
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------- helpers


def sqlite_rows(store: JournalStore, sql: str) -> list[tuple]:
    """Raw rows as stored, read through the store's own connection after a flush."""
    store.flush()
    return [tuple(row) for row in store._db.execute_sql(sql).fetchall()]


# ---------------------------------------------------------------- schema version and migrations


def test_a_new_journal_gets_the_schema_version(tmp_path):
    path = tmp_path / "j.db"
    JournalStore(path).close()
    assert sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0] == schema.SCHEMA_VERSION


def test_a_journal_from_before_versioning_is_taken_as_version_1_migrated_and_keeps_its_rows(tmp_path):
    path = tmp_path / "j.db"
    with JournalStore(path) as store:
        store.record(Halted(time=at(10, 0), reason="daily_stop_r (-5.01R)"))
    with sqlite3.connect(path) as raw:  # as a journal written before versioning (and before order_intents)
        raw.execute("DROP TABLE order_intents")
        raw.execute("PRAGMA user_version = 0")
    with JournalStore(path) as store:
        assert store.is_halted(DAY) == (True, "daily_stop_r (-5.01R)")
        assert store.unsettled_intents(DAY) == []
    assert sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0] == schema.SCHEMA_VERSION


def test_a_journal_of_a_newer_schema_is_refused_and_left_alone(tmp_path):
    path = tmp_path / "j.db"
    JournalStore(path).close()
    with sqlite3.connect(path) as raw:
        raw.execute(f"PRAGMA user_version = {schema.SCHEMA_VERSION + 1}")
    before = path.read_bytes()
    with pytest.raises(JournalError, match="newer version"):
        JournalStore(path)
    assert path.read_bytes() == before


def test_an_older_journal_is_migrated_in_one_step_per_version(tmp_path, monkeypatch):
    path = tmp_path / "j.db"
    with JournalStore(path) as store:
        store.record(Halted(time=at(10, 0), reason="force_exit"))
    steps: list[int] = []
    nxt = schema.SCHEMA_VERSION + 1

    def add_note(migrator):
        steps.append(nxt)
        return [migrator.add_column("sessions", "note", peewee.TextField(default=""))]

    monkeypatch.setattr(schema, "SCHEMA_VERSION", nxt)
    monkeypatch.setitem(schema.MIGRATIONS, nxt, add_note)
    with JournalStore(path) as store:
        assert store.is_halted(DAY) == (True, "force_exit")
    raw = sqlite3.connect(path)
    assert raw.execute("PRAGMA user_version").fetchone()[0] == nxt
    assert "note" in [row[1] for row in raw.execute("PRAGMA table_info(sessions)")]
    JournalStore(path).close()  # at the new version now: nothing to do
    assert steps == [nxt]


def test_a_truncated_journal_is_a_clear_error_never_a_reset(tmp_path):
    path = tmp_path / "j.db"
    with JournalStore(path) as store:
        for minute in range(30):
            store.record(sent("place", orderid=f"O{minute}"))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(JournalError, match="not reset"):
        JournalStore(path)
    assert path.stat().st_size == len(data) // 2


def test_a_second_process_opens_an_up_to_date_journal_while_the_trader_writes(tmp_path):
    """run.py status / pause beside a running trader: opening the journal writes nothing, so a write lock
    held by the trader does not make it fail ("database is locked")."""
    path = tmp_path / "journal.db"
    JournalStore(path).close()
    writer = sqlite3.connect(path, timeout=0)
    writer.execute("BEGIN IMMEDIATE")  # the trader, mid-commit
    try:
        with JournalStore(path) as second:
            assert second.runner() is None
    finally:
        writer.rollback()
        writer.close()


def _bar_closed(start: datetime, close: float, vwap: float):  # noqa: ANN202
    from messages.market import Bar
    from messages.signals import BarClosed

    bar = Bar(symbol=SYM, start=start, open=100.0, high=max(101.0, close), low=99.0, close=close, volume=150)
    return BarClosed(symbol=SYM, bar=bar, vwap=vwap, time=start + timedelta(minutes=1))


def test_closed_bars_are_kept_per_symbol_and_minute_a_rebuilt_one_replacing_it(store):
    store.record(_bar_closed(at(9, 15), 100.5, 100.1))
    store.record(_bar_closed(at(9, 16), 100.7, 100.2))
    store.record(_bar_closed(at(9, 15), 100.9, 100.3))  # rebuilt by the warm-up after a restart
    assert store.count("bars") == 2 and store.last_bar_start(DAY) == at(9, 16)
    assert store.last_bar_start(date(2021, 6, 14)) is None
    rows = store.bars(DAY, SYM)
    assert [(r["start"], r["close"], r["vwap"], r["volume"]) for r in rows] == [
        (at(9, 15), 100.9, 100.3, 150), (at(9, 16), 100.7, 100.2, 150)
    ]
    assert store.bars(DAY, "NIFTY17JUN2115600CE") == []
    assert store.sessions() == [DAY], "a day with bars and no order is a session too (run.py report, status)"


def test_a_version_3_journal_gains_the_bars_table(tmp_path):
    path = tmp_path / "j.db"
    with JournalStore(path) as store:
        store.record(Halted(time=at(10, 0), reason="stop"))
    with sqlite3.connect(path) as raw:
        raw.execute("DROP TABLE bars")
        raw.execute("PRAGMA user_version = 3")
    with JournalStore(path) as store:
        store.record(_bar_closed(at(9, 15), 100.5, 100.1))
        assert store.count("bars") == 1 and store.is_halted(DAY) == (True, "stop")
