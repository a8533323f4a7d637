"""The live feed's recording: what the FeedActor handed the strategy, one JSON line each, and its replay.

Live (and dry-run) sessions write every tick they receive for the universe's
symbols, with the time it was received and, for a tick the FeedActor
dropped as impossible (strategy.md §2), the reason; and every history batch
(warm-up, back-fill after a reconnect), every lost connection and the end of
the warm-up, in the order the FeedActor handled them. ``run.py replay`` reads
such a file (``.jsonl``, or ``.jsonl.gz`` once compressed) and hands the same
inputs to the SymbolActors at the same clock times, so a live day replays
with the ticks it had, not four per minute bar.

One file per day (``LOG_DIR/<strategy>_feed_<YYYY-MM-DD>.jsonl``); a restart
the same day appends to it after a new header line. Lines:

* ``{"start": ISO, "day": "YYYY-MM-DD", "symbols": [...], "lot_size": N}`` — a program started;
* ``{"at": ISO, "tick": {"symbol", "time", "ltp", "volume"}}`` (plus ``"dropped": reason``);
* ``{"at": ISO, "history": {"symbol", "until", "reconnected", "bars": [[start, o, h, l, c, v], ...]}}``;
* ``{"at": ISO, "lost": true}`` — the connection dropped;
* ``{"at": ISO, "warm": true}`` — the warm-up ended: trading starts.

``at`` is the clock's time when the FeedActor handled the input (IST, with
offset), prices rupees, volumes contracts (cumulative for the day on ticks).
"""

from __future__ import annotations

import gzip
import json
import time as monotonic_time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import date, datetime, time
from pathlib import Path
from typing import TextIO

from loguru import logger

from messages.base import IST
from messages.market import Bar, FeedLost, HistoryBars, Tick
from replay.data import ReplayDataError

#: The recording's file name suffix; ``run.py replay`` takes a file ending so (or with ``.gz`` after it) as one.
SUFFIX = ".jsonl"
#: Buffered lines reach the file at least this often (real seconds): a kill loses no more than this.
FLUSH_SECONDS = 1.0


@dataclass(frozen=True)
class WarmedUp:
    """The recorded end of the warm-up (trading starts)."""


@dataclass(frozen=True)
class Restarted:
    """The program started again at ``time`` (IST; a later header of the file): it had stopped or crashed."""

    time: datetime


#: One recorded input: what the FeedActor handed on at that moment, or a start of the program again.
FeedInput = Tick | HistoryBars | FeedLost | WarmedUp | Restarted


def recording_path(log_dir: Path, strategy_name: str, day: date, dry_run: bool = False) -> Path:
    """Where a live session of ``day`` records its feed (a dry run in a file of its own: it may run beside
    the live session, and is not a restart of it)."""
    kind = "dryrun_feed" if dry_run else "feed"
    return Path(log_dir) / f"{strategy_name}_{kind}_{day.isoformat()}{SUFFIX}"


def is_recording(path: str | Path) -> bool:
    """``path`` names a feed recording (``*.jsonl`` or ``*.jsonl.gz``), not a 1-minute bar file."""
    name = Path(path).name
    return name.endswith((SUFFIX, SUFFIX + ".gz"))


class FeedRecorder:
    """Appends the feed's inputs to a recording (see the module docstring); one writer: the FeedActor.

    Lines are buffered and reach the file with the first line written
    :data:`FLUSH_SECONDS` after the last flush, at :meth:`flush` (the FeedActor's
    heartbeat) and at :meth:`close`. A write that fails (disk full) is logged once as an
    ERROR and recording stops; trading goes on. Raises ``OSError`` only from
    the constructor, when the file cannot be opened.
    """

    def __init__(self, path: Path, day: date, symbols: list[str], lot_size: int, started: datetime) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        torn = self.path.exists() and self.path.stat().st_size > 0 and not _ends_with_newline(self.path)
        self._file: TextIO | None = self.path.open("a", encoding="utf-8")
        self._flushed = monotonic_time.monotonic()
        if torn:  # a kill cut the last line: it stays a line of its own, which the reader skips
            self._file.write("\n")
        self._line({"start": started.isoformat(), "day": day.isoformat(), "symbols": sorted(symbols),
                    "lot_size": lot_size})
        logger.info("recording the feed to {}", self.path)

    def tick(self, at: datetime, tick: Tick, dropped: str = "") -> None:
        """A tick received (``dropped``: why the FeedActor did not pass it on)."""
        line = {"at": at.isoformat(), "tick": {
            "symbol": tick.symbol, "time": tick.time.isoformat(), "ltp": tick.ltp, "volume": tick.volume}}
        if dropped:
            line["dropped"] = dropped
        self._line(line)

    def history(self, at: datetime, history: HistoryBars) -> None:
        """History bars handed to a SymbolActor (warm-up or back-fill)."""
        bars = [[b.start.isoformat(), b.open, b.high, b.low, b.close, b.volume] for b in history.bars]
        self._line({"at": at.isoformat(), "history": {
            "symbol": history.symbol, "until": history.until.isoformat(), "reconnected": history.reconnected,
            "bars": bars}})

    def lost(self, at: datetime) -> None:
        """The connection dropped."""
        self._line({"at": at.isoformat(), "lost": True})

    def warm(self, at: datetime) -> None:
        """The warm-up ended."""
        self._line({"at": at.isoformat(), "warm": True})

    def flush(self) -> None:
        """What is buffered to the file now (the FeedActor's heartbeat: a quiet feed writes nothing that
        would flush it)."""
        if self._file is not None:
            try:
                self._file.flush()
                self._flushed = monotonic_time.monotonic()
            except OSError as exc:
                self._failed(exc)

    def close(self) -> None:
        """Flush and close; a second close does nothing."""
        if self._file is not None:
            try:
                self._file.close()
            except OSError as exc:
                logger.error("the feed recording {} could not be completed: {}", self.path, exc)
            self._file = None

    def _line(self, line: dict) -> None:
        if self._file is None:
            return
        try:
            self._file.write(json.dumps(line, separators=(",", ":")) + "\n")
        except (OSError, ValueError) as exc:
            self._failed(exc)
            return
        if monotonic_time.monotonic() - self._flushed >= FLUSH_SECONDS:
            self.flush()

    def _failed(self, exc: Exception) -> None:
        logger.error("recording the feed to {} failed, recording stops (trading goes on): {}", self.path, exc)
        try:
            self._file.close()
        except OSError:
            pass
        self._file = None


def _ends_with_newline(path: Path) -> bool:
    with path.open("rb") as raw:
        raw.seek(-1, 2)
        return raw.read(1) == b"\n"


#: A recorded tick as held in memory: (symbol, its time IST, last price rupees, cumulative volume contracts or
#: None). A day of a million ticks stays a few hundred MB, not a GB of Tick messages.
TickRow = tuple[str, datetime, float, int | None]


@dataclass(frozen=True)
class RecordedFeed:
    """A feed recording read back: its day, universe, lot size and inputs in order, each with its clock time.

    Ticks the live FeedActor dropped are not among the inputs (they never
    reached the strategy); ``dropped`` counts them. A restart of the program
    (a later header) is a :class:`Restarted` input. ``rows`` holds ticks as
    :data:`TickRow`; :meth:`inputs` gives them as :class:`Tick` messages.
    """

    path: Path
    day: date
    symbols: list[str]
    lot_size: int
    rows: list[tuple[datetime, TickRow | FeedInput]]
    dropped: int = 0
    #: program starts in the file (1 + restarts)
    starts: int = 1

    def inputs(self) -> Iterator[tuple[datetime, FeedInput]]:
        """Every input with the clock time it was handled at, in order."""
        for at, item in self.rows:
            if type(item) is tuple:
                symbol, moment, ltp, volume = item
                yield at, Tick.model_construct(symbol=symbol, time=moment, ltp=ltp, volume=volume)
            else:
                yield at, item

    @property
    def ticks(self) -> int:
        return sum(1 for _at, item in self.rows if type(item) is tuple)

    def window(self, start: time | None, end: time | None) -> "RecordedFeed":
        """Only the inputs handled at or after ``start`` and before ``end`` (IST wall times).

        The end of the warm-up and the restarts are kept wherever they fall, so a window still trades.
        Raises :class:`ReplayDataError` when no tick is left.
        """
        kept = [
            (at, item) for at, item in self.rows
            if isinstance(item, WarmedUp | Restarted)
            or ((start is None or at.time() >= start) and (end is None or at.time() < end))
        ]
        if not any(type(item) is tuple for _at, item in kept):
            raise ReplayDataError(f"{self.path}: no ticks between {start} and {end}")
        return replace(self, rows=kept)


def load_recording(path: str | Path) -> RecordedFeed:
    """Read a feed recording (plain or gzip), line by line.

    A line a kill cut short (the last line, or one right before a restart's
    header) is skipped with a WARNING. Raises :class:`ReplayDataError` for a
    missing or unreadable file, no header line first, a malformed line
    elsewhere (naming it), more than one day, a bad lot size, or no tick.
    """
    path = Path(path)
    if not path.is_file():
        raise ReplayDataError(f"{path}: no such file")
    opener = gzip.open if path.suffix == ".gz" else open
    header: dict | None = None
    rows: list[tuple[datetime, TickRow | FeedInput]] = []
    symbols: set[str] = set()
    names: dict[str, str] = {}  # one string per symbol, shared by its rows
    dropped = starts = 0
    #: (line number, error) of a line that did not parse: cut short by a kill if nothing but a header follows
    torn: tuple[int, Exception] | None = None
    try:
        with opener(path, "rt", encoding="utf-8") as raw:
            for line_no, text in enumerate(raw, start=1):
                if not text.strip():
                    continue
                if torn is not None:
                    if not text.startswith('{"start"'):
                        raise ReplayDataError(f"{path}:{torn[0]}: {torn[1]}")
                    _skipped_torn(path, torn[0])
                    torn = None
                try:
                    line = json.loads(text)
                    if "start" in line:
                        starts += 1
                        if header is not None and line["day"] != header["day"]:
                            raise ValueError(f"a second day {line['day']} (one day per recording, {header['day']} first)")
                        if header is not None:
                            started = _time(line["start"])
                            rows.append((started, Restarted(started)))
                        header = line
                        symbols.update(line["symbols"])
                        continue
                    if header is None:
                        raise ValueError("the first line must be a recording header ({\"start\": ...})")
                    at = _time(line["at"])
                    if "tick" in line:
                        if line.get("dropped"):
                            dropped += 1
                            continue
                        t = line["tick"]
                        tick = Tick(symbol=t["symbol"], time=_time(t["time"]), ltp=t["ltp"], volume=t["volume"])
                        rows.append((at, (names.setdefault(tick.symbol, tick.symbol), tick.time, tick.ltp, tick.volume)))
                    elif "history" in line:
                        h = line["history"]
                        bars = [
                            Bar(symbol=h["symbol"], start=_time(b[0]), open=b[1], high=b[2], low=b[3], close=b[4],
                                volume=b[5])
                            for b in h["bars"]
                        ]
                        rows.append((at, HistoryBars(symbol=h["symbol"], bars=bars, until=_time(h["until"]),
                                                     reconnected=bool(h["reconnected"]), time=at)))
                    elif line.get("lost"):
                        rows.append((at, FeedLost(time=at)))
                    elif line.get("warm"):
                        rows.append((at, WarmedUp()))
                    else:
                        raise ValueError(f"unknown line {text[:80]!r}")
                except (ValueError, KeyError, TypeError, IndexError) as exc:
                    torn = (line_no, exc)
    except (OSError, UnicodeDecodeError, EOFError) as exc:
        raise ReplayDataError(f"{path}: cannot read ({exc})") from None
    if torn is not None:
        _skipped_torn(path, torn[0])
    if header is None:
        raise ReplayDataError(f"{path}: not a feed recording (no header line)")
    lot_size = header.get("lot_size")
    if isinstance(lot_size, bool) or not isinstance(lot_size, int) or lot_size < 1:
        raise ReplayDataError(f"{path}: the header's lot_size {lot_size!r} is not a whole number of contracts from 1")
    recording = RecordedFeed(path, date.fromisoformat(header["day"]), sorted(symbols), lot_size, rows, dropped, starts)
    if recording.ticks == 0:
        raise ReplayDataError(f"{path}: no ticks recorded")
    if not any(isinstance(item, WarmedUp) for _at, item in rows):
        logger.warning("{}: the warm-up never ended in this recording: its replay places no order", path)
    return recording


def _skipped_torn(path: Path, line_no: int) -> None:
    logger.warning("{}:{}: skipped a line cut short (the program was stopped while writing it)", path, line_no)


def _time(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise ValueError(f"time without a UTC offset: {text!r}")
    return moment.astimezone(IST)
