"""Lot sizes for replay: one for every file, or one per session date (``--lot-size 2021-06-11=75``).

A recorded file does not say its lot size, but its volumes do: every
1-minute volume is a whole number of lots. :func:`volume_lot` finds the
largest lot they agree with, so a wrong lot size (lot-75 data traded as
lot 65: quantities of 650) is said, not silently replayed.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import date


def parse_lot_sizes(values: Iterable[str]) -> tuple[int | None, dict[date, int]]:
    """``["75"]`` or ``["2021-06-11=75", "2024-07-24=25"]`` (contracts) → (for every file, per date).

    Raises ``ValueError`` naming the bad value: not ``N`` or ``YYYY-MM-DD=N``
    with N a whole number of contracts from 1, or a second plain ``N``.
    """
    default: int | None = None
    by_day: dict[date, int] = {}
    for value in values:
        day_text, _, number = value.rpartition("=")
        try:
            lot = int(number)
            day = date.fromisoformat(day_text) if day_text else None
        except ValueError:
            raise ValueError(f"--lot-size {value!r}: give N or YYYY-MM-DD=N (contracts per lot)") from None
        if lot < 1:
            raise ValueError(f"--lot-size {value!r}: a lot is at least 1 contract")
        if day is None:
            if default is not None:
                raise ValueError(f"--lot-size {value!r}: one plain N at most (then YYYY-MM-DD=N for the others)")
            default = lot
        else:
            by_day[day] = lot
    return default, by_day


def volume_lot(volumes: Iterable[int]) -> int | None:
    """The largest number every positive volume (contracts) is a multiple of; None without any."""
    found = 0
    for volume in volumes:
        if volume > 0:
            found = math.gcd(found, volume)
    return found or None
