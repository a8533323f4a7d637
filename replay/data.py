"""Reading recorded session files (the ``../shared/data`` CSV format)."""

from __future__ import annotations

import csv
import gzip
import io
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import date, datetime, time
from pathlib import Path

from messages.base import IST

COLUMNS = ["timestamp", "symbol", "open", "high", "low", "close", "volume", "oi"]


class ReplayDataError(ValueError):
    """A session file is missing, malformed or mixes sessions; the message says where."""


@dataclass(frozen=True, slots=True)
class BarRow:
    """One recorded 1-minute bar: ``start`` IST, prices rupees, ``volume`` contracts."""

    start: datetime
    symbol: str
    open: float
    high: float
    low: float
    close: float
    volume: int


@dataclass(frozen=True)
class RecordedSession:
    """One file: its trading day, the option bars sorted by (start, symbol), and what was skipped."""

    path: Path
    day: date
    bars: list[BarRow]
    symbols: list[str]
    skipped_symbols: list[str]

    def window(self, start: time | None, end: time | None) -> "RecordedSession":
        """Only the bars starting at or after ``start`` and before ``end`` (IST wall times)."""
        bars = [
            b
            for b in self.bars
            if (start is None or b.start.time() >= start) and (end is None or b.start.time() < end)
        ]
        if not bars:
            raise ReplayDataError(f"{self.path}: no bars between {start} and {end}")
        return replace(self, bars=bars, symbols=sorted({b.symbol for b in bars}))


def read_bars(path: str | Path) -> Iterator[tuple[int, BarRow]]:
    """Every bar of a gzip (or plain) session CSV with its line number, in file order.

    Raises :class:`ReplayDataError` for a missing or unreadable file, a bad
    header, or a malformed row (naming the line).
    """
    path = Path(path)
    if not path.is_file():
        raise ReplayDataError(f"{path}: no such file")
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rt", encoding="utf-8", newline="") as raw:
            text = raw.read()
    except (OSError, UnicodeDecodeError, EOFError) as exc:
        raise ReplayDataError(f"{path}: cannot read ({exc})") from None
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if header != COLUMNS:
        raise ReplayDataError(f"{path}: header must be {','.join(COLUMNS)}, got {header}")
    for line_no, row in enumerate(reader, start=2):
        if not row:
            continue
        try:
            yield line_no, _parse(row)
        except (ValueError, IndexError) as exc:
            raise ReplayDataError(f"{path}:{line_no}: {exc}") from None


def load_session(path: str | Path) -> RecordedSession:
    """Read a session file with columns ``timestamp,symbol,open,high,low,close,volume,oi``.

    Rows whose symbol is not an option (not ending in CE/PE, e.g. the NIFTY
    spot) are skipped and listed. Raises :class:`ReplayDataError` as
    :func:`read_bars` does, and for a duplicate (timestamp, symbol) (with its
    line number), more than one trading day, or no option rows.
    """
    path = Path(path)
    bars: list[BarRow] = []
    skipped: set[str] = set()
    days: set[date] = set()
    seen: set[tuple[datetime, str]] = set()
    for line_no, bar in read_bars(path):
        if not bar.symbol.endswith(("CE", "PE")):
            skipped.add(bar.symbol)
            continue
        if (bar.start, bar.symbol) in seen:
            raise ReplayDataError(f"{path}:{line_no}: duplicate bar for {bar.symbol} at {bar.start.isoformat()}")
        seen.add((bar.start, bar.symbol))
        days.add(bar.start.date())
        bars.append(bar)
    if not bars:
        raise ReplayDataError(f"{path}: no option rows (symbols ending in CE or PE)")
    if len(days) > 1:
        raise ReplayDataError(f"{path}: one session per file, found {sorted(days)}")
    bars.sort(key=lambda b: (b.start, b.symbol))
    return RecordedSession(path, days.pop(), bars, sorted({b.symbol for b in bars}), sorted(skipped))


def _parse(row: list[str]) -> BarRow:
    if len(row) != len(COLUMNS):
        raise ValueError(f"expected {len(COLUMNS)} fields, got {len(row)}")
    start = datetime.fromisoformat(row[0])
    if start.tzinfo is None:
        raise ValueError(f"timestamp without a UTC offset: {row[0]!r}")
    start = start.astimezone(IST)
    o, h, low, c = (float(x) for x in row[2:6])
    volume = int(float(row[6] or 0))
    if min(o, h, low, c) <= 0 or not (low <= min(o, c) and max(o, c) <= h) or volume < 0:
        raise ValueError(f"inconsistent bar {row}")
    return BarRow(start, row[1], o, h, low, c, volume)
