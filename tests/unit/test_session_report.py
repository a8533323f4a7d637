"""run.py report's content (report/session.py): triggers and stops over time, the R curve, from a journal."""

from __future__ import annotations

from datetime import date, datetime, time

import pytest

from messages.base import IST
from persistence.journal_store import JournalStore
from report.session import Level, build_report, levels

DAY = date(2024, 7, 24)
END = datetime(2024, 7, 24, 15, 30, tzinfo=IST)


def t(h: int, m: int, s: int = 0) -> datetime:
    return datetime(2024, 7, 24, h, m, s, tzinfo=IST)


def ev(orderid: str, role: str, op: str, when: datetime, trigger: float | None = None) -> dict:
    return {"orderid": orderid, "role": role, "op": op, "time": when, "trigger_price": trigger, "symbol": "X",
            "action": "SELL" if role == "entry" else "BUY", "average_price": None}


def test_a_trigger_holds_until_the_next_modify_cancel_or_fill() -> None:
    events = [
        ev("e1", "entry", "place", t(10, 0), 100.0),
        ev("e1", "entry", "modify", t(10, 5), 98.0),
        ev("e1", "entry", "cancel", t(10, 7)),
        ev("e2", "entry", "place", t(10, 8), 97.0),
        ev("e2", "entry", "fill", t(10, 9), 97.0),
        ev("s1", "stop", "place", t(10, 9), 107.0),  # still working at the end
        ev("x1", "exit", "place", t(10, 20), 0.0),  # a MARKET exit has no trigger to draw
    ]
    assert levels(events, END) == [
        Level("entry", 100.0, t(10, 0), t(10, 5)),
        Level("entry", 98.0, t(10, 5), t(10, 7)),
        Level("entry", 97.0, t(10, 8), t(10, 9)),
        Level("stop", 107.0, t(10, 9), END),
    ]


def test_an_order_the_broker_ended_ends_its_level_then() -> None:
    """A stop the broker rejected has no event of ours after its place: its line ends when its order went final."""
    events = [ev("s1", "stop", "place", t(10, 5), 107.0), ev("s2", "stop", "place", t(10, 6), 107.0)]
    assert levels(events, END, {"s1": t(10, 5, 30)}) == [
        Level("stop", 107.0, t(10, 5), t(10, 5, 30)),
        Level("stop", 107.0, t(10, 6), END),
    ]


def test_a_journal_with_nothing_of_the_day_is_a_clear_error(tmp_path) -> None:  # noqa: ANN001
    with JournalStore(tmp_path / "j.db") as store, pytest.raises(ValueError, match="holds nothing of 2024-07-24"):
        build_report(store, DAY, time(9, 15), time(15, 30))
