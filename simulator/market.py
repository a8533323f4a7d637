"""The market a simulator session plays: instruments, ticks and 1-minute bars.

Built either from a recorded session file (``../shared/data`` format) or from
a seeded synthetic session (:mod:`simulator.synthetic`). The server only reads
it; everything here is known in advance, so a session is reproducible.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Literal

from messages.market import Bar


@dataclass(frozen=True, slots=True)
class Instrument:
    """A tradable (or quotable) symbol as OpenAlgo's ``symbol``/``search`` report it.

    ``exchange`` is ``"NFO"`` for options and ``"NSE_INDEX"`` for the NIFTY
    index; ``lot_size`` contracts; ``tick_size`` and ``strike`` rupees.
    """

    symbol: str
    exchange: str
    lot_size: int
    tick_size: float
    expiry: date | None = None
    strike: float | None = None
    option_type: Literal["CE", "PE"] | None = None
    name: str = "NIFTY"


@dataclass(frozen=True, slots=True)
class SimTick:
    """One trade print: ``time`` aware IST, ``ltp`` rupees, ``volume`` cumulative day volume (contracts)."""

    symbol: str
    exchange: str
    time: datetime
    ltp: float
    volume: int


@dataclass
class MarketData:
    """A whole session: instruments, every tick in time order, and 1-minute bars per symbol.

    ``ticks`` are sorted by (time, symbol) and include the index
    (``underlying`` on ``NSE_INDEX``) when the session has it. ``bars[symbol]``
    are the 1-minute OHLCV bars of that symbol (bar start IST, sorted), the
    same trades as the ticks; the server serves a bar from ``history`` only
    once its minute has ended in simulated time.
    """

    day: date
    expiry: date
    instruments: dict[str, Instrument]
    ticks: list[SimTick]
    bars: dict[str, list[Bar]] = field(default_factory=dict)
    underlying: str = "NIFTY"
    #: how the index quote was obtained ("recorded", "synthetic", "put-call parity")
    index_source: str = "recorded"
