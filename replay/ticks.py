"""Turning recorded 1-minute bars into ticks for replay."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from itertools import groupby

from messages.market import Tick
from replay.data import BarRow
from strategy.prices import EPS

#: Seconds into the minute of the four ticks made from one bar.
TICK_OFFSETS = (0, 15, 30, 45)


def bar_prices(bar: BarRow) -> tuple[float, float, float, float]:
    """Open; then the nearer of high/low to the open (high on a tie), then the other; then close."""
    # EPS: a tie in rupees must stay a tie despite binary float noise (100.2 - 100.1 > 100.1 - 100.0)
    if bar.high - bar.open <= bar.open - bar.low + EPS:
        return bar.open, bar.high, bar.low, bar.close
    return bar.open, bar.low, bar.high, bar.close


def session_ticks(bars: list[BarRow]) -> Iterator[Tick]:
    """Ticks for a whole session, in time order.

    Each bar becomes four ticks at :00, :15, :30 and :45 of its minute (see
    :func:`bar_prices`). Within one instant, symbols go in name order. The
    cumulative volume of a symbol rises by a third of the bar's volume at each
    of the last three ticks, so the bar rebuilt from them has the recorded
    volume.
    """
    cumulative: dict[str, int] = {}
    for start, minute in groupby(bars, key=lambda b: b.start):
        rows = sorted(minute, key=lambda b: b.symbol)
        prices = {row.symbol: bar_prices(row) for row in rows}
        base = {row.symbol: cumulative.get(row.symbol, 0) for row in rows}
        for k, offset in enumerate(TICK_OFFSETS):
            moment = start + timedelta(seconds=offset)
            for row in rows:
                volume = base[row.symbol] + row.volume * k // 3
                cumulative[row.symbol] = volume
                yield Tick.model_construct(symbol=row.symbol, time=moment, ltp=prices[row.symbol][k], volume=volume)
