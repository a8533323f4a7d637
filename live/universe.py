"""The day's option universe: expiry, ATM and the 42 symbols (strategy.md §1)."""

from __future__ import annotations

import math
from datetime import date, datetime

from messages.base import OptionType

#: The index levels (points) a NIFTY quote may have, inclusive. NIFTY's base is 1,000 (1995) and
#: it trades near 26,000 in 2025: the bounds are wide on purpose, to catch garbage (0, NaN, 1e12,
#: a price in paise), not to judge the market.
SPOT_RANGE = (1_000.0, 1_000_000.0)
#: The largest lot size (contracts) believed; NIFTY's is tens of contracts (65 or 75 in 2025).
MAX_LOT_SIZE = 10_000


class UniverseError(ValueError):
    """An expiry or strike argument, the index quote or the lot size is malformed."""


def expiry_code(expiry: date) -> str:
    """OpenAlgo's expiry in a symbol: ``DDMMMYY`` upper case, e.g. ``30DEC25``."""
    return expiry.strftime("%d%b%y").upper()


def parse_expiry(text: str) -> date:
    """``30DEC25`` (command line) or ``30-DEC-25`` (OpenAlgo ``expiry``) → date. UniverseError if neither."""
    cleaned = text.strip().upper().replace("-", "")
    try:
        return datetime.strptime(cleaned, "%d%b%y").date()
    except ValueError:
        raise UniverseError(f"expiry must look like 30DEC25, got {text!r}") from None


def atm_strike(spot: float, step: int) -> int:
    """NIFTY spot (points) rounded to the nearest strike step (halves round up).

    UniverseError unless ``spot`` is a positive finite number.
    """
    if not math.isfinite(spot) or spot <= 0:
        raise UniverseError(f"spot must be a positive finite number, got {spot}")
    return int((spot + step / 2) // step * step)


def checked_spot(spot: object) -> float:
    """The NIFTY index quote ``spot`` (points) as a float.

    UniverseError unless it is a finite number within :data:`SPOT_RANGE`.
    """
    low, high = SPOT_RANGE
    if isinstance(spot, bool) or not isinstance(spot, int | float) or not low <= spot <= high:
        raise UniverseError(f"NIFTY quote is {spot!r}: must be a number from {low:,.0f} to {high:,.0f} points")
    return float(spot)


def checked_lot_size(lotsize: object) -> int:
    """A lot size (contracts) as an int.

    UniverseError unless it is a whole number from 1 to :data:`MAX_LOT_SIZE`
    (``75`` and ``75.0`` pass; ``"75"``, ``75.5``, 0, NaN do not).
    """
    whole = isinstance(lotsize, int) or (isinstance(lotsize, float) and lotsize.is_integer())
    if isinstance(lotsize, bool) or not whole or not 1 <= lotsize <= MAX_LOT_SIZE:
        raise UniverseError(f"lot size is {lotsize!r}: must be a whole number of contracts from 1 to {MAX_LOT_SIZE:,}")
    return int(lotsize)


def option_series(underlying: str, expiry: date) -> str:
    """What every option symbol of one expiry starts with: ``NIFTY`` + ``DDMMMYY``, e.g. ``NIFTY30DEC25``."""
    return f"{underlying}{expiry_code(expiry)}"


def option_symbol(underlying: str, expiry: date, strike: int, option_type: OptionType) -> str:
    """``NIFTY`` + ``DDMMMYY`` + strike + ``CE|PE``, e.g. ``NIFTY30DEC2526000CE``."""
    return f"{option_series(underlying, expiry)}{strike}{option_type}"


def universe(underlying: str, expiry: date, atm: int, window: int, step: int) -> list[str]:
    """ATM ± ``window`` strikes, CE and PE: ``2·(2·window+1)`` symbols, CE then PE per strike."""
    return [
        option_symbol(underlying, expiry, atm + k * step, option_type)
        for k in range(-window, window + 1)
        for option_type in ("CE", "PE")
    ]


def nearest_expiry(expiries: list[date], today: date) -> date:
    """The first expiry on or after ``today``. UniverseError if there is none."""
    upcoming = sorted(d for d in expiries if d >= today)
    if not upcoming:
        raise UniverseError(f"no expiry on or after {today} among {len(expiries)} listed")
    return upcoming[0]
