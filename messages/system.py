"""System messages: halts, alerts, actor failures."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import AwareDatetime

from messages.base import JournalEvent, Message


class Halted(JournalEvent):
    """Trading halted for the rest of the session (±R limit, 15:15, supervisor escalation)."""

    EVENT_TYPE: ClassVar[str] = "halt"

    reason: str


class Alert(JournalEvent):
    """Something a trader must know about now."""

    EVENT_TYPE: ClassVar[str] = "alert"

    level: Literal["info", "warning", "critical"]
    text: str


class Halt(Message):
    """Command to the PortfolioActor: flatten everything and take no new entries."""

    reason: str
    time: AwareDatetime


class ControlDue(Message):
    """Every real second, live: the ControlActor looks for commands from a second terminal."""

    time: AwareDatetime


class ActorFailed(Message):
    """An actor's handler raised; pykka stopped it. Sent to the Supervisor."""

    name: str
    error: str


class Stop(Message):
    """Ask: finish pending work (flush files) before the graph stops."""
