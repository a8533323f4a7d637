"""The event log: one compact JSON object per journal event, one file per run.

Each line is ``JournalEvent.event_record()`` (``"type"`` and ``"time"`` in
IST first, then the event's fields) dumped with no spaces and UTF-8 text.
The log adds nothing of its own, so the same events give a byte-identical
file (architecture.md, deterministic replay).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import IO

from messages.base import JournalEvent


class EventLog:
    """JSON Lines writer at ``path``; ``None`` makes every call a no-op.

    The file is created (with its parent directories) and truncated on
    construction, or appended to with ``append`` (a live session restarted
    the same day goes on in the same file); ``OSError`` is raised when that
    fails. Each line reaches
    the operating system as it is written (line buffering), so what a
    trader tails, a halt above all, is there at once and survives a crash.
    """

    def __init__(self, path: str | Path | None, append: bool = False) -> None:
        self.path = None if path is None else Path(path)
        self._file: IO[str] | None = None
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = open(self.path, "a" if append else "w", encoding="utf-8", newline="\n", buffering=1)

    def write(self, event: JournalEvent) -> None:
        """Append ``event`` as one line; ``TypeError`` if it is not a JournalEvent, ``ValueError`` after close."""
        if not isinstance(event, JournalEvent):
            raise TypeError(f"EventLog can only write JournalEvent, not {type(event).__name__}")
        if self.path is None:
            return
        if self._file is None:
            raise ValueError(f"event log {self.path} is closed")
        self._file.write(json.dumps(event.event_record(), separators=(",", ":"), ensure_ascii=False) + "\n")

    def flush(self) -> None:
        """Push buffered lines to the operating system."""
        if self._file is not None:
            self._file.flush()

    def close(self) -> None:
        """Flush and close the file; a second close does nothing."""
        if self._file is not None:
            self._file.close()
            self._file = None

    def __enter__(self) -> "EventLog":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
