"""The market a simulator session plays: instruments, ticks and 1-minute bars.

Built either from a recorded session file (``../shared/data`` format) or from
a seeded synthetic session (:mod:`simulator.synthetic`). The server only reads
it; everything here is known in advance, so a session is reproducible.
"""

from __future__ import annotations

from collections.abc import Callable
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


#: Strikes a simulated broker lists beyond those a session trades, each side: a real one lists
#: every strike of the expiry, so a restart whose ATM has moved still finds its whole universe.
LISTED_BEYOND = 20


def with_listed_strikes(
    instruments: dict[str, Instrument],
    symbol_of: Callable[[date, float, str, str], str],
    beyond: int = LISTED_BEYOND,
    step: float | None = None,
) -> dict[str, Instrument]:
    """``instruments`` plus the untraded options a broker lists too (no ticks, no bars: an illiquid strike).

    Every strike on the traded strikes' grid (``step`` points, default their
    smallest gap) from the lowest less ``beyond`` steps to the highest plus ``beyond``, CE
    and PE, with the traded ones' expiry, lot size, tick size and name.
    ``symbol_of(expiry, strike, option_type, name)`` spells a symbol.
    """
    options = [i for i in instruments.values() if i.strike is not None and i.expiry is not None]
    strikes = sorted({i.strike for i in options})
    if step is None and len(strikes) < 2:
        return dict(instruments)
    step = step or min(b - a for a, b in zip(strikes, strikes[1:]))
    model = options[0]
    listed = dict(instruments)
    strike = strikes[0] - beyond * step
    while strike <= strikes[-1] + beyond * step + 1e-9:
        for option_type in ("CE", "PE"):
            symbol = symbol_of(model.expiry, strike, option_type, model.name)
            listed.setdefault(symbol, Instrument(
                symbol, model.exchange, model.lot_size, model.tick_size, expiry=model.expiry, strike=strike,
                option_type=option_type, name=model.name,
            ))
        strike += step
    return listed
