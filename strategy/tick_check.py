"""Which ticks can be real (strategy.md §2, "a tick that cannot be real")."""

from __future__ import annotations

import math
import re
from datetime import datetime, timedelta

from messages.base import IST

#: How far a tick's timestamp may be ahead of the clock by default (strategy.md §2; ``TICK_MAX_AHEAD_SECONDS``).
MAX_AHEAD = timedelta(seconds=5)

#: Why a tick was rejected; the words the heartbeat counts by.
REASONS = ("price_not_finite", "price_not_positive", "price_above_strike", "volume_negative", "other_day", "ahead")

_STRIKE = re.compile(r"^[A-Z]+\d{2}[A-Z]{3}\d{2}(\d+)(?:CE|PE)$")


def strike_of(symbol: str) -> int | None:
    """The strike (points) of an OpenAlgo option symbol such as ``NIFTY30DEC2526000CE``; None if it has none."""
    match = _STRIKE.match(symbol)
    return int(match.group(1)) if match else None


def tick_problem(
    moment: datetime,
    price: float,
    cum_volume: int | None,
    now: datetime,
    strike: int | None = None,
    max_ahead: timedelta = MAX_AHEAD,
) -> str:
    """``""`` if a tick can be real, else why not (one of :data:`REASONS`).

    A tick is applied only when its price (rupees) is a finite number > 0 —
    and, for an option with a known ``strike``, below the strike: no premium
    reaches it within a day (a PE's whole payoff is the strike; a CE's would
    need the index to double) — its cumulative volume (contracts) is not
    negative, and its timestamp is on the clock's IST day and at most
    ``max_ahead`` ahead of ``now``. Out-of-order ticks are the bar
    builder's to drop.
    """
    if not isinstance(price, int | float) or isinstance(price, bool) or not math.isfinite(price):
        return "price_not_finite"
    if price <= 0:
        return "price_not_positive"
    if strike is not None and price >= strike:
        return "price_above_strike"
    if cum_volume is not None and cum_volume < 0:
        return "volume_negative"
    if moment.astimezone(IST).date() != now.astimezone(IST).date():
        return "other_day"
    if moment - now > max_ahead:
        return "ahead"
    return ""
