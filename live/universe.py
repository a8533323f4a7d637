"""The day's option universe: expiry, ATM and the 42 symbols (strategy.md §1)."""

from __future__ import annotations

from datetime import date, datetime

from messages.base import OptionType


class UniverseError(ValueError):
    """An expiry or strike argument is malformed."""


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
    """NIFTY spot (points) rounded to the nearest strike step (halves round up)."""
    if spot <= 0:
        raise UniverseError(f"spot must be positive, got {spot}")
    return int((spot + step / 2) // step * step)


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
