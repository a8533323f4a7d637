"""Tick to 1-minute bar building (strategy.md §2)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from messages.market import Bar
from strategy.session import ONE_MINUTE, minute_start


@dataclass(slots=True)
class _OpenBar:
    start: datetime
    open: float
    high: float
    low: float
    close: float
    volume: int


class BarBuilder:
    """Builds one symbol's 1-minute OHLCV bars from ticks.

    * A bar opens at the first tick of a minute (IST) and closes at the first
      tick of a later minute or, through :meth:`close_due`, once the clock is
      past the minute's end plus ``grace_seconds``.
    * Volume is the increase of the cumulative day volume between ticks; the
      first tick after a start or :meth:`reset_volume_baseline` only sets the
      baseline; a falling cumulative volume re-bases and adds nothing.
    * Ticks older than the current bar (or than the last closed bar when none
      is open) are dropped and counted in :attr:`dropped_ticks`.
    """

    def __init__(self, symbol: str, grace_seconds: float) -> None:
        self.symbol = symbol
        self._grace = timedelta(seconds=grace_seconds)
        self._bar: _OpenBar | None = None
        self._last_closed_start: datetime | None = None
        self._last_volume: int | None = None
        self.dropped_ticks = 0

    @property
    def open_bar_start(self) -> datetime | None:
        """Start of the bar in progress, if any."""
        return self._bar.start if self._bar else None

    def reset_volume_baseline(self) -> None:
        """The next tick's cumulative volume becomes the baseline (after a reconnect)."""
        self._last_volume = None

    def on_tick(self, moment: datetime, price: float, cum_volume: int | None) -> tuple[Bar | None, bool]:
        """Apply one tick. Returns ``(bar closed by this tick or None, tick applied)``."""
        start = minute_start(moment)
        bar = self._bar
        if bar is not None and start < bar.start:
            self.dropped_ticks += 1
            return None, False
        if bar is None and self._last_closed_start is not None and start <= self._last_closed_start:
            self.dropped_ticks += 1
            return None, False
        added = self._volume_increase(cum_volume)
        closed = None
        if bar is not None and start > bar.start:
            closed = self._close()
            bar = None
        if bar is None:
            self._bar = _OpenBar(start, price, price, price, price, added)
        else:
            if price > bar.high:
                bar.high = price
            if price < bar.low:
                bar.low = price
            bar.close = price
            bar.volume += added
        return closed, True

    def close_due(self, now: datetime) -> Bar | None:
        """Close the bar in progress if ``now`` is past its end plus the grace."""
        if self._bar is not None and now >= self._bar.start + ONE_MINUTE + self._grace:
            return self._close()
        return None

    def close_now(self) -> Bar | None:
        """Close the bar in progress now, grace or not (the market has closed)."""
        return self._close() if self._bar is not None else None

    def discard_open_bar(self) -> None:
        """Drop the bar in progress (a complete bar for its minute comes from history)."""
        self._bar = None

    def mark_history_bar(self, bar: Bar) -> None:
        """A bar from history was applied directly; later ticks must be newer.

        A bar in progress for a later minute is kept; one for the same or an
        earlier minute is dropped (the history bar supersedes it).
        """
        if self._bar is not None and self._bar.start <= bar.start:
            self._bar = None
        self._last_closed_start = bar.start

    def _volume_increase(self, cum_volume: int | None) -> int:
        if cum_volume is None:
            return 0
        last = self._last_volume
        self._last_volume = cum_volume
        if last is None or cum_volume < last:
            return 0
        return cum_volume - last

    def _close(self) -> Bar:
        bar = self._bar
        assert bar is not None
        self._bar = None
        self._last_closed_start = bar.start
        return Bar.model_construct(
            symbol=self.symbol,
            start=bar.start,
            open=bar.open,
            high=bar.high,
            low=bar.low,
            close=bar.close,
            volume=bar.volume,
        )
