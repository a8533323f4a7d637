"""The trader's desk from a second terminal: ``run.py status``, ``pause``, ``resume`` and ``stop``.

Everything goes through the journal at ``DB_PATH`` (SQLite WAL: a second
process reads it while the trader writes it); nothing listens on a port.
``status`` reads what the running (or finished) program journaled; the
commands are committed to the ``controls`` table and applied by the running
program's ControlActor within about a second.
"""

from __future__ import annotations

import time as _time
from collections.abc import Callable
from datetime import date, datetime, timedelta

from messages.base import IST
from persistence.journal_store import JournalStore
from state.orders import JOURNAL_FINAL

#: A program whose ``runner`` row is older than this is not running (it rewrites it every second).
ALIVE = timedelta(seconds=5)

#: What each command does, as a trader is told.
COMMANDS = {
    "pause": "no new entries; the working entry is cancelled; open positions and their stops stay",
    "resume": "entries allowed again",
    "stop": "everything closed at MARKET, stops cancelled, no new entries today (like ±5R)",
}


def render_status(store: JournalStore, day: date | None, now: datetime) -> str:
    """The session's state as the journal holds it: the program, pause and halt, R, positions, orders.

    ``day`` None: the session of the last program that ran on the journal,
    else the journal's latest. ``now`` wall-clock IST (for
    "seen N s ago"). R and rupees of closed positions are the journal's;
    open positions show their entry and stop (their R moves with the market:
    the running program's heartbeat has it).
    """
    runner = store.runner()
    if day is None:
        sessions = store.sessions()
        day = runner["session"] if runner is not None else (sessions[-1] if sessions else now.date())
    lines = [f"session {day}  (journal {store.path})"]
    if runner is None:
        lines.append("trader: never ran on this journal")
    else:
        age = (now - runner["seen_at"]).total_seconds()
        about = f"pid {runner['pid']}, session {runner['session']}, started {runner['started_at']:%H:%M:%S} IST"
        if runner["stopped_at"] is not None:
            lines.append(f"trader: stopped at {runner['stopped_at']:%H:%M:%S} IST ({about})")
        elif age <= ALIVE.total_seconds():
            lines.append(f"trader: RUNNING ({about}, last seen {age:.0f} s ago)")
        else:
            lines.append(
                f"trader: not running, and it did not stop by itself: it crashed or was killed "
                f"({about}, last seen {runner['seen_at']:%H:%M:%S} IST); start it again with the same command"
            )
    halted, reason = store.is_halted(day)
    paused, since, source = store.paused(day)
    if halted:
        lines.append(f"entries: HALTED for the day: {reason}")
    elif paused:
        lines.append(f"entries: PAUSED since {since:%H:%M:%S} IST ({source}); run.py resume to allow them")
    else:
        lines.append("entries: allowed")
    positions = store.positions(day)
    closed = [p for p in positions if p["state"] == "closed"]
    net_r = sum(p["r"] or 0.0 for p in closed)
    pnl = sum(p["pnl"] or 0.0 for p in closed)
    lines.append(f"closed: {len(closed)} trades, {net_r:+.2f}R, {pnl:+,.2f} rupees")
    for p in closed:
        lines.append(
            f"  {p['position_id']:<16} {p['symbol']:<22} x{p['quantity']:<5} {p['entry_price']:>8.2f} -> "
            f"{(p['exit_price'] or 0.0):>8.2f}  {p['reason']:<14} {(p['r'] or 0.0):+.2f}R  {(p['pnl'] or 0.0):+,.2f}"
        )
    held = [p for p in positions if p["state"] == "open"]
    lines.append(f"open positions: {len(held)}")
    for p in held:
        lines.append(
            f"  {p['position_id']:<16} {p['symbol']:<22} short x{p['quantity']:<5} at {p['entry_price']:.2f}, "
            f"stop {p['sl_price']:.2f}, since {p['opened_at']:%H:%M:%S}"
        )
    working = [o for o in store.orders(day) if o["status"] not in JOURNAL_FINAL]
    lines.append(f"working orders: {len(working)}")
    for o in working:
        terms = "MARKET" if o["pricetype"] == "MARKET" else f"{o['pricetype']} trigger {o['trigger_price']:.2f}"
        lines.append(
            f"  {o['orderid']:<16} {o['role'].upper():<5} {o['action']} {o['quantity']} {o['symbol']} {terms}"
        )
    return "\n".join(lines)


def send_command(
    store: JournalStore, command: str, wait: float, sleep: Callable[[float], None] = _time.sleep
) -> tuple[bool, str]:
    """Commit ``command`` for the running program and wait up to ``wait`` s for it to be applied.

    Returns ``(applied, text for the trader)``. Not taken by then: withdrawn
    (marked ``not taken``), so a program started later never applies a stale
    command. Raises ``ValueError`` for an unknown command.
    """
    if command not in COMMANDS:
        raise ValueError(f"unknown command {command!r}; known: {', '.join(COMMANDS)}")
    control_id = store.issue_control(command, f"run.py {command}", datetime.now(IST))
    deadline = _time.monotonic() + wait
    while True:
        row = store.control(control_id)
        if row is not None and row["done_at"] is not None:
            return send_command_result(store, command, control_id)
        if _time.monotonic() >= deadline:
            break
        sleep(0.2)
    if not store.control_done(control_id, None, "not taken: no running trader", datetime.now(IST)):
        return send_command_result(store, command, control_id)  # taken at the last moment
    return False, (
        f"{command}: no running trader took it within {wait:g} s (is it running with DB_PATH={store.path}?); withdrawn"
    )


def send_command_result(store: JournalStore, command: str, control_id: int) -> tuple[bool, str]:
    row = store.control(control_id)
    if row is not None and row["result"] == "applied":
        return True, f"{command}: applied to session {row['session']}: {COMMANDS[command]}"
    return False, f"{command}: not applied: {row['result'] if row else 'unknown'}"
