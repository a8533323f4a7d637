"""The trade log and daily summary CSVs (persistence/trade_files.py): views of the journal, whole each time."""

from __future__ import annotations

import csv
from datetime import date, datetime

from messages.base import IST
from messages.portfolio import PositionEvent, SessionSummary
from persistence.journal_store import JournalStore
from persistence.trade_files import TRADE_COLUMNS, TradeFiles

X = "NIFTY26DEC2524500CE"


def at(day: int, h: int, m: int) -> datetime:
    return datetime(2025, 12, day, h, m, tzinfo=IST)


def closed(day: int, pid: str, r: float, pnl: float) -> list[PositionEvent]:
    base = dict(position_id=pid, symbol=X, option_type="CE", quantity=585, entry_price=147.0, sl_price=158.0)
    return [
        PositionEvent(time=at(day, 10, 0), state="open", **base),
        PositionEvent(time=at(day, 11, 0), state="closed", exit_price=140.0, pnl=pnl, r=r, reason="force_exit", **base),
    ]


def rows(path) -> list[dict]:  # noqa: ANN001
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def test_one_row_per_closed_trade_and_per_day_of_every_session(tmp_path) -> None:
    files = TradeFiles(tmp_path / "logs", "baseline_v1")
    with JournalStore(tmp_path / "j.db") as store:
        for event in closed(22, "A1", 0.64, 4095.0) + closed(23, "B1", -1.0, -6435.0):
            store.record(event)
        store.record(PositionEvent(time=at(23, 12, 0), state="open", position_id="B2", symbol=X, option_type="CE",
                                   quantity=585, entry_price=150.0, sl_price=160.0))  # still open: not a trade yet
        store.record(SessionSummary(time=at(23, 15, 30), session=date(2025, 12, 23), trades=1, wins=0, net_r=-1.0,
                                    max_drawdown_r=-1.0, pnl=-6435.0, halted=False, halt_reason=""))
        files.write(store)
    assert files.trades.name == "baseline_v1_live_trades.csv"
    trades = rows(files.trades)
    assert [(t["date"], t["position_id"], t["reason"], t["r"], t["pnl_rupees"]) for t in trades] == [
        ("2025-12-22", "A1", "force_exit", "0.64", "4095.0"), ("2025-12-23", "B1", "force_exit", "-1.0", "-6435.0"),
    ]
    assert list(trades[0]) == list(TRADE_COLUMNS)
    assert trades[1]["entry_time"] == "2025-12-23T10:00:00+05:30" and trades[1]["exit_price"] == "140.0"
    [day] = rows(files.summary)
    assert (day["date"], day["trades"], day["net_r"], day["pnl_rupees"], day["halted"]) == (
        "2025-12-23", "1", "-1.0", "-6435.0", "False"
    )
    assert not list((tmp_path / "logs").glob("*.partial"))
