"""A simulator session from a recorded session file (the ``../shared/data`` format).

The option ticks are exactly the replay's (:func:`replay.ticks.session_ticks`:
four ticks per recorded bar at :00, :15, :30 and :45), and the bars are the
file's rows. The NIFTY index comes from a recorded spot file when one is given,
else it is estimated from the options by put-call parity, minute by minute.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Literal, Protocol

from loguru import logger

from messages.market import Bar
from replay.data import BarRow, ReplayDataError, load_session, read_bars
from replay.ticks import session_ticks
from simulator.market import Instrument, MarketData, SimTick, with_listed_strikes
from strategy.prices import round_tick

#: Exchange of the options and of the index quote (OpenAlgo names).
OPTION_EXCHANGE = "NFO"
INDEX_EXCHANGE = "NSE_INDEX"

#: English month abbreviations of OpenAlgo symbols (not locale dependent).
MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")

_SYMBOL = re.compile(
    r"^(?P<name>[A-Z]+?)(?P<dd>\d{2})(?P<mon>[A-Z]{3})(?P<yy>\d{2})(?P<strike>\d+(?:\.\d+)?)(?P<type>CE|PE)$"
)


@dataclass(frozen=True, slots=True)
class OptionSymbol:
    """The parts of an OpenAlgo option symbol: underlying ``name``, ``expiry``, ``strike`` rupees, ``option_type``."""

    name: str
    expiry: date
    strike: float
    option_type: Literal["CE", "PE"]


def parse_option_symbol(symbol: str) -> OptionSymbol:
    """Split ``NAME`` + ``DDMMMYY`` + strike + ``CE|PE`` (e.g. ``NIFTY17JUN2115600CE``); ValueError if it is not one."""
    m = _SYMBOL.match(symbol)
    if m is None or m["mon"] not in MONTHS:
        raise ValueError(f"not an OpenAlgo option symbol (NAME+DDMMMYY+strike+CE|PE): {symbol!r}")
    try:
        expiry = date(2000 + int(m["yy"]), MONTHS.index(m["mon"]) + 1, int(m["dd"]))
    except ValueError:
        raise ValueError(f"bad expiry date in option symbol {symbol!r}") from None
    option_type: Literal["CE", "PE"] = "CE" if m["type"] == "CE" else "PE"
    return OptionSymbol(m["name"], expiry, float(m["strike"]), option_type)


class _Closes(Protocol):
    """A bar with a start, a symbol and a close (``BarRow`` or ``messages.market.Bar``)."""

    @property
    def start(self) -> datetime: ...

    @property
    def symbol(self) -> str: ...

    @property
    def close(self) -> float: ...


def parity_spot(bars: Iterable[_Closes]) -> list[tuple[datetime, float]]:
    """Index estimates by put-call parity, one per minute that has a CE and a PE of one strike.

    For each bar start (IST), among the strikes with both a CE and a PE bar,
    take the one where ``|C − P|`` of the closes is smallest and estimate
    ``spot ≈ K + C − P`` (rupees; interest and carry ignored, so it is nearer
    the forward than the spot). Returns ``(minute start, estimate)`` sorted by
    time; minutes without such a pair are left out.
    """
    closes: dict[datetime, dict[tuple[float, str], float]] = defaultdict(dict)
    for bar in bars:
        if not bar.symbol.endswith(("CE", "PE")):
            continue
        parts = parse_option_symbol(bar.symbol)
        closes[bar.start][(parts.strike, parts.option_type)] = bar.close
    out: list[tuple[datetime, float]] = []
    for start in sorted(closes):
        minute = closes[start]
        best: tuple[float, float] | None = None  # (|C - P|, K + C - P)
        for (strike, kind), call in sorted(minute.items()):
            if kind != "CE" or (strike, "PE") not in minute:
                continue
            put = minute[(strike, "PE")]
            if best is None or abs(call - put) < best[0]:
                best = (abs(call - put), strike + call - put)
        if best is not None:
            out.append((start, best[1]))
    return out


def market_from_recorded(
    path: str | Path,
    *,
    spot_path: str | Path | None = None,
    lot_size: int,
    tick_size: float = 0.05,
) -> MarketData:
    """The session of one recorded options file as :class:`MarketData`.

    * Options (exchange ``NFO``, ``lot_size`` contracts, ``tick_size`` rupees):
      every option symbol of the file, expiry/strike/type parsed from the
      symbol; all must share one underlying and one expiry.
    * Ticks: :func:`replay.ticks.session_ticks` of the file's rows (four per
      bar, ``volume`` cumulative contracts), plus the index ticks; sorted by
      (time, symbol). ``bars[symbol]``: the file's rows as 1-minute bars.
    * Index (``NIFTY`` on ``NSE_INDEX``, lot size 1, volume 0): from
      ``spot_path`` (a ``nifty_spot_*.csv.gz`` of the same day, symbol
      ``NIFTY``), ticked the same way, ``index_source="recorded"``; without
      it, :func:`parity_spot` per minute (one tick at :00 of the minute and a
      flat bar with that value), ``index_source="put-call parity"``.

    Raises ValueError (:class:`replay.data.ReplayDataError`) naming the file
    for a missing or malformed file, a symbol that does not parse, mixed
    expiries, a spot file of another day, or no minute to estimate the index.
    """
    if lot_size <= 0 or tick_size <= 0:
        raise ValueError(f"lot_size and tick_size must be positive, got {lot_size} and {tick_size}")
    path = Path(path)
    session = load_session(path)
    instruments: dict[str, Instrument] = {}
    names: set[str] = set()
    expiries: set[date] = set()
    for symbol in session.symbols:
        try:
            parts = parse_option_symbol(symbol)
        except ValueError as exc:
            raise ReplayDataError(f"{path}: {exc}") from None
        names.add(parts.name)
        expiries.add(parts.expiry)
        instruments[symbol] = Instrument(
            symbol=symbol,
            exchange=OPTION_EXCHANGE,
            lot_size=lot_size,
            tick_size=tick_size,
            expiry=parts.expiry,
            strike=parts.strike,
            option_type=parts.option_type,
            name=parts.name,
        )
    if len(names) != 1 or len(expiries) != 1:
        raise ReplayDataError(
            f"{path}: one underlying and one expiry per session, found {sorted(names)} / {sorted(expiries)}"
        )
    underlying = names.pop()
    expiry = expiries.pop()

    ticks = [SimTick(t.symbol, OPTION_EXCHANGE, t.time, t.ltp, t.volume or 0) for t in session_ticks(session.bars)]
    bars: dict[str, list[Bar]] = {symbol: [] for symbol in session.symbols}
    for row in session.bars:
        bars[row.symbol].append(_bar(row))

    if spot_path is not None:
        spot_path = Path(spot_path)
        rows = _index_rows(spot_path, underlying)
        days = {row.start.date() for row in rows}
        if days != {session.day}:
            raise ReplayDataError(
                f"{spot_path}: spot file is for {sorted(days)}, the options file {path} for {session.day}"
            )
        index_ticks = [SimTick(t.symbol, INDEX_EXCHANGE, t.time, t.ltp, 0) for t in session_ticks(rows)]
        index_bars = [_bar(row) for row in rows]
        source = "recorded"
    else:
        estimates = parity_spot(session.bars)
        if not estimates:
            raise ReplayDataError(
                f"{path}: cannot estimate the {underlying} index by put-call parity "
                "(no minute has a CE and a PE of one strike); give spot_path"
            )
        logger.warning(
            "{}: no spot file; the {} index is an estimate by put-call parity (K + C - P per minute), not recorded",
            path.name,
            underlying,
        )
        index_ticks, index_bars = [], []
        for start, value in estimates:
            price = max(round_tick(value, tick_size), tick_size)
            index_ticks.append(SimTick(underlying, INDEX_EXCHANGE, start, price, 0))
            index_bars.append(
                Bar(symbol=underlying, start=start, open=price, high=price, low=price, close=price, volume=0)
            )
        source = "put-call parity"

    instruments[underlying] = Instrument(
        symbol=underlying, exchange=INDEX_EXCHANGE, lot_size=1, tick_size=tick_size, name=underlying
    )
    bars[underlying] = index_bars
    ticks.extend(index_ticks)
    ticks.sort(key=lambda t: (t.time, t.symbol))
    from simulator.synthetic import option_symbol  # it imports this module

    return MarketData(
        day=session.day,
        expiry=expiry,
        instruments=with_listed_strikes(instruments, option_symbol),
        ticks=ticks,
        bars=bars,
        underlying=underlying,
        index_source=source,
    )


def _bar(row: BarRow) -> Bar:
    return Bar(
        symbol=row.symbol,
        start=row.start,
        open=row.open,
        high=row.high,
        low=row.low,
        close=row.close,
        volume=row.volume,
    )


def _index_rows(path: Path, symbol: str) -> list[BarRow]:
    """The ``symbol`` rows of a spot file (same CSV format), sorted by start; ReplayDataError naming the file."""
    rows: dict[datetime, BarRow] = {}
    for line_no, bar in read_bars(path):
        if bar.symbol != symbol:
            continue
        if bar.start in rows:
            raise ReplayDataError(f"{path}:{line_no}: duplicate bar for {symbol} at {bar.start.isoformat()}")
        rows[bar.start] = bar
    if not rows:
        raise ReplayDataError(f"{path}: no rows for the index symbol {symbol!r}")
    return [rows[start] for start in sorted(rows)]


__all__ = [
    "INDEX_EXCHANGE",
    "OPTION_EXCHANGE",
    "OptionSymbol",
    "market_from_recorded",
    "parity_spot",
    "parse_option_symbol",
]
