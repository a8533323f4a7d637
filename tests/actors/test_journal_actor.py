"""JournalActor: every JournalEvent lands in the JournalStore (SQLite) and the EventLog (JSON Lines)."""

from __future__ import annotations

import json
from pathlib import Path

import pykka
import pytest
from loguru import logger

from actors.journal import JournalActor
from actors.names import JOURNAL
from messages.market import Tick
from messages.orders import OrderFilled, OrderSent
from messages.portfolio import PositionEvent, SessionSummary
from messages.signals import CandidateDecided, SwingDetected
from messages.system import Alert, Halted, Stop
from persistence.event_log import EventLog
from persistence.journal_store import JournalStore
from persistence.trade_files import TradeFiles
from persistence.trade_lines import trade_line
from tests.actors.probe import DAY, Harness, t

SYM = "NIFTY17JUN2115500CE"
ENTRY_SENT = OrderSent(time=t(10, 5), op="place", role="entry", orderid="E1", symbol=SYM, action="SELL",
                       pricetype="SL", trigger_price=149.95, price=146.95, quantity=650)


class Rig:
    def __init__(self, h: Harness, store: JournalStore, events: EventLog, path: Path) -> None:
        self.h, self.store, self.events, self.path = h, store, events, path

    def lines(self) -> list[dict]:
        """The event log after a Stop ask has flushed it."""
        self.h.ask(JOURNAL, Stop())
        return [json.loads(line) for line in self.path.read_text(encoding="utf-8").splitlines()]


@pytest.fixture
def rig(harness: Harness, tmp_path: Path):
    store = JournalStore(tmp_path / "journal.db")
    path = tmp_path / "events.jsonl"
    events = EventLog(path)
    harness.start(JournalActor, JOURNAL, store, events)
    yield Rig(harness, store, events, path)
    pykka.ActorRegistry.stop_all()  # the actor flushes on stop; the files are closed after it
    store.close()
    events.close()


def one_of_each() -> list:
    return [
        SwingDetected(
            time=t(9, 23, 1), symbol=SYM, option_type="CE", swing_type="LOW", update=False, price=150.0,
            bar_time=t(9, 20), confirmed_at=t(9, 22), vwap_at_swing=140.0, highest_high=157.0,
        ),
        CandidateDecided(time=t(9, 23, 1), symbol=SYM, option_type="CE", decision="added", price=150.0,
                         vwap_at_swing=140.0),
        OrderSent(time=t(9, 23, 1), op="place", role="entry", orderid="E1", symbol=SYM, action="SELL",
                  pricetype="SL", trigger_price=149.95, price=146.95, quantity=650),
        OrderFilled(time=t(9, 24), orderid="E1", role="entry", symbol=SYM, action="SELL", quantity=650,
                    average_price=149.9, position_id="E1"),
        PositionEvent(time=t(9, 24), state="open", position_id="E1", symbol=SYM, option_type="CE", quantity=650,
                      entry_price=149.9, sl_price=158.0),
        Halted(time=t(10, 0), reason="daily_target_r (5.00R)"),
        Alert(time=t(10, 0), level="critical", text="halted"),
        SessionSummary(time=t(15, 30), session=DAY, trades=1, wins=1, net_r=5.0, max_drawdown_r=0.0, pnl=26000.0,
                       halted=True, halt_reason="daily_target_r (5.00R)"),
    ]


def test_every_event_lands_in_the_event_log_in_arrival_order(rig: Rig) -> None:
    events = one_of_each()
    rig.h.tell(JOURNAL, *events)
    lines = rig.lines()
    assert [line["type"] for line in lines] == ["swing", "candidate", "order", "fill", "position", "halt", "alert",
                                                "summary"]
    assert lines == [e.event_record() for e in events]
    assert lines[0]["time"] == "2021-06-11T09:23:01+05:30"
    assert "highest_high" not in lines[0]  # excluded from the swing record


def test_every_event_lands_in_the_journal_store(rig: Rig) -> None:
    rig.h.tell(JOURNAL, *one_of_each())
    rig.h.ask(JOURNAL, Stop())
    counts = {table: rig.store.count(table) for table in (
        "swings", "candidate_decisions", "orders", "order_events", "fills", "positions", "sessions", "alerts",
        "daily_summary",
    )}
    assert counts == {
        "swings": 1, "candidate_decisions": 1, "orders": 1, "order_events": 2, "fills": 1, "positions": 1,
        "sessions": 1, "alerts": 1, "daily_summary": 1,
    }
    assert rig.store.is_halted(DAY) == (True, "daily_target_r (5.00R)")
    [pos] = rig.store.positions(DAY)
    assert (pos["position_id"], pos["state"], pos["quantity"], pos["entry_price"]) == ("E1", "open", 650, 149.9)
    assert rig.store.open_orders(DAY) == []  # the entry filled completely
    assert rig.store.summary(DAY)["net_r"] == 5.0


def test_a_failing_store_write_keeps_the_event_log_and_the_actor(rig: Rig) -> None:
    rig.store.close()
    alert = Alert(time=t(10, 0), level="warning", text="after the store closed")
    rig.h.tell(JOURNAL, alert)  # Harness.quiet fails if the actor crashed
    assert rig.lines() == [alert.event_record()]


def test_a_message_that_is_no_journal_event_is_ignored(rig: Rig) -> None:
    rig.h.tell(JOURNAL, Tick(symbol=SYM, time=t(9, 30), ltp=150.0))
    assert rig.lines() == []


def test_each_order_fill_position_and_halt_is_one_info_line(harness, tmp_path) -> None:
    lines: list[str] = []
    sink = logger.add(lambda message: lines.append(message.record["message"]), level="INFO",
                      filter=lambda record: record["name"] == "actors.journal")
    try:
        with JournalStore(tmp_path / "j.db") as store, EventLog(None) as events:
            harness.start(JournalActor, JOURNAL, store, events)
            harness.tell(JOURNAL, ENTRY_SENT)
            harness.quiet()
    finally:
        logger.remove(sink)
    assert lines == [trade_line(ENTRY_SENT)]


def test_live_the_trade_files_follow_each_closed_position(harness, tmp_path) -> None:
    files = TradeFiles(tmp_path / "logs", "baseline_v1")
    base = dict(position_id="E1", symbol=SYM, option_type="CE", quantity=650, entry_price=150.0, sl_price=158.0)
    with JournalStore(tmp_path / "j.db") as store, EventLog(None) as events:
        harness.start(JournalActor, JOURNAL, store, events, files)
        harness.tell(JOURNAL, PositionEvent(time=t(10, 0), state="open", **base))
        harness.quiet()
        assert not files.trades.exists()  # nothing closed yet
        harness.tell(JOURNAL, PositionEvent(time=t(10, 30), state="closed", exit_price=158.05, pnl=-5232.5, r=-1.006,
                                            reason="stop", **base))
        harness.quiet()
        assert "E1" in files.trades.read_text() and files.summary.exists()


def test_its_heartbeat_line_says_how_far_behind_it_is(rig: Rig, capsys) -> None:  # noqa: ANN001
    """Issue "The trader's desk": the heartbeat gives the journal's lag."""
    from messages.portfolio import StatusDue

    h = rig.h
    h.advance(t(10, 5, 3))
    h.tell(JOURNAL, ENTRY_SENT)  # stamped 10:05:00, handled at 10:05:03: it waited 3 s
    h.tell(JOURNAL, StatusDue(time=t(10, 5, 2)))  # the heartbeat of 10:05:02 reached it 1 s late
    h.tell(JOURNAL, StatusDue(time=t(10, 5, 3)))  # the next: nothing handled since, nothing behind
    lines = [line for line in capsys.readouterr().err.splitlines() if "[HEARTBEAT] journal" in line]
    assert len(lines) == 2, lines
    assert "1 events in the last minute, the longest waited 3.00 s; 1.00 s behind now; 0 waiting" in lines[0]
    assert "0 events in the last minute, the longest waited 0.00 s; 0.00 s behind now" in lines[1]
