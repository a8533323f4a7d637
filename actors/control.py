"""ControlActor: commands from a second terminal and the kill-switch file, live (issue "The trader's desk").

``python run.py pause|resume|stop`` commit a command to the journal's
``controls`` table; this actor, in the running program, applies each one
within a second or so and marks it done. A file at ``KILL_SWITCH_FILE``
does what ``stop`` does. It also tells the journal the program is alive
(the ``runner`` row ``run.py status`` reads).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from loguru import logger

from actors.base import ActorContext, BaseActor
from actors.names import PORTFOLIO
from messages.base import IST
from messages.portfolio import PauseEntries
from messages.system import ControlDue, Halt
from persistence.journal_store import JournalError, JournalStore

#: What ``run.py stop`` and the kill-switch file do: the halt's reason (strategy.md §6: flatten, no entries).
STOP_REASON = "stop_command"
#: A command older than this (wall clock) is not applied: nobody waits for it any more.
MAX_AGE = timedelta(minutes=1)


class ControlActor(BaseActor):
    """In: :class:`ControlDue` (every real second). Out: :class:`PauseEntries` and :class:`Halt` to
    the PortfolioActor. Reads and marks the journal's commands; a failing journal is logged, never raised."""

    def __init__(
        self, name: str, ctx: ActorContext, store: JournalStore, pid: int, started_at: datetime, kill_switch: Path,
    ) -> None:
        super().__init__(name, ctx)
        self.store = store
        self.pid = pid
        self.started_at = started_at
        self.kill_switch = kill_switch
        self.killed = False
        self.handlers = {ControlDue: self.on_control_due}

    def started(self) -> None:
        try:
            self.store.seen(self.pid, self.clock.now().date(), self.started_at, datetime.now(IST))
        except JournalError as exc:
            logger.error("control: the journal is unavailable ({})", exc)

    def on_control_due(self, due: ControlDue) -> None:
        day = self.clock.now().date()
        wall = datetime.now(IST)
        try:
            self.store.seen(self.pid, day, self.started_at, wall)
            for row in self.store.pending_controls():
                if wall - row["issued_at"] > MAX_AGE:  # its terminal gave up on it long ago (Ctrl-C)
                    self.store.control_done(row["id"], None, f"expired: not taken within {MAX_AGE}", wall)
                    logger.warning("control: {} from {} issued at {:%H:%M:%S} expired", row["command"],
                                   row["source"], row["issued_at"])
                    continue
                result = self._apply(row["command"], row["source"], due)
                self.store.control_done(row["id"], day, result, wall)
            if not self.killed and self.kill_switch.exists():
                self.killed = True
                source = f"kill switch file {self.kill_switch}"
                logger.warning("{} found: closing everything and halting for the day", source)
                control_id = self.store.issue_control("stop", source, wall)
                self.store.control_done(control_id, day, self._apply("stop", source, due), wall)
        except JournalError as exc:
            logger.error("control: the journal is unavailable ({}); commands wait", exc)

    def on_stop(self) -> None:
        try:
            self.store.stopped(self.pid, datetime.now(IST))
        except JournalError as exc:
            logger.warning("control: could not record the stop in the journal ({})", exc)

    def _apply(self, command: str, source: str, due: ControlDue) -> str:
        if command in ("pause", "resume"):
            self.tell(PORTFOLIO, PauseEntries(paused=command == "pause", source=source, time=due.time))
        elif command == "stop":
            self.tell(PORTFOLIO, Halt(reason=f"{STOP_REASON} ({source})", time=due.time))
        else:
            logger.error("control: unknown command {!r} from {}; ignored", command, source)
            return f"unknown command {command!r}"
        logger.info("control: {} from {} applied", command, source)
        return "applied"
