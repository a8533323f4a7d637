"""run.py status and the commands, on a journal (live/desk.py): what a second terminal shows and sends."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

from live.desk import render_status, send_command
from messages.base import IST
from messages.orders import OrderSent
from messages.portfolio import PositionEvent
from messages.system import Halted
from persistence.journal_store import JournalStore
from tests.waiting import wait_for

DAY_AT = datetime(2025, 12, 23, 10, 0, tzinfo=IST)
X = "NIFTY26DEC2524500CE"


def position(state: str, pid: str, **closed) -> PositionEvent:
    return PositionEvent(time=DAY_AT, state=state, position_id=pid, symbol=X, option_type="CE", quantity=585,
                         entry_price=147.0, sl_price=158.0, **closed)


def test_status_shows_the_trader_the_halt_r_positions_and_working_orders(tmp_path) -> None:
    now = datetime.now(IST)
    with JournalStore(tmp_path / "j.db") as store:
        store.record(position("open", "E1"))
        store.record(position("closed", "E1", exit_price=158.05, pnl=-6464.25, r=-1.0, reason="stop"))
        store.record(position("open", "E2"))
        store.record(OrderSent(time=DAY_AT, op="place", role="stop", orderid="S2", symbol=X, action="BUY",
                               pricetype="SL", trigger_price=158.0, price=161.0, quantity=585, position_id="E2"))
        store.seen(4242, DAY_AT.date(), now - timedelta(minutes=5), now - timedelta(seconds=1))
        text = render_status(store, None, now)
        assert text.splitlines()[0].startswith("session 2025-12-23")
        assert "trader: RUNNING (pid 4242" in text
        assert "entries: allowed" in text
        assert "closed: 1 trades, -1.00R, -6,464.25 rupees" in text
        assert "open positions: 1" in text and "E2" in text and "stop 158.00" in text
        assert "working orders: 1" in text and "S2" in text and "STOP  BUY 585" in text
        store.record(Halted(time=DAY_AT, reason="daily_stop_r (-5.10R)"))
        later = now + timedelta(seconds=30)
        text = render_status(store, None, later)
        assert "entries: HALTED for the day: daily_stop_r (-5.10R)" in text
        assert "trader: not running, and it did not stop by itself" in text
        store.stopped(4242, later)
        assert "trader: stopped at" in render_status(store, None, later)


def test_a_command_nobody_takes_is_withdrawn(tmp_path) -> None:
    with JournalStore(tmp_path / "j.db") as store:
        applied, text = send_command(store, "pause", wait=0.0, sleep=lambda _s: None)
        assert not applied and "no running trader took it" in text
        assert store.pending_controls() == []  # a trader started later does not apply it


def test_a_command_the_trader_applies_is_reported(tmp_path) -> None:
    with JournalStore(tmp_path / "j.db") as store:
        def trader() -> None:  # the ControlActor's part, by hand
            [row] = wait_for(store.pending_controls, 30.0, "the command in the journal")
            store.control_done(row["id"], DAY_AT.date(), "applied", datetime.now(IST))

        thread = threading.Thread(target=trader, daemon=True)
        thread.start()
        applied, text = send_command(store, "stop", wait=30.0)
        thread.join(10)
        assert applied and text.startswith("stop: applied to session 2025-12-23")


def test_a_withdrawal_never_overwrites_a_command_the_trader_has_applied(tmp_path) -> None:
    with JournalStore(tmp_path / "j.db") as store:
        control = store.issue_control("stop", "run.py stop", datetime.now(IST))
        assert store.control_done(control, DAY_AT.date(), "applied", datetime.now(IST)) is True
        assert store.control_done(control, None, "not taken: no running trader", datetime.now(IST)) is False
        row = store.control(control)
        assert (row["result"], row["session"]) == ("applied", DAY_AT.date())
