"""Rounding of rupee prices to the exchange tick grid (strategy.md §5)."""

from __future__ import annotations

import math

#: Tolerance for float noise when comparing against inclusive rule bounds.
EPS = 1e-9


def floor_tick(price: float, tick: float) -> float:
    """The highest multiple of ``tick`` at or below ``price`` (rupees, 2 decimals)."""
    return round(math.floor(round(price / tick, 6)) * tick, 2)


def ceil_tick(price: float, tick: float) -> float:
    """The lowest multiple of ``tick`` at or above ``price`` (rupees, 2 decimals)."""
    return round(math.ceil(round(price / tick, 6)) * tick, 2)


def round_tick(price: float, tick: float) -> float:
    """The nearest multiple of ``tick`` (rupees, 2 decimals)."""
    return round(round(price / tick) * tick, 2)
