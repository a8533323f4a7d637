"""One symbol's market state: bars, VWAP, swings, breaks and running highs.

Pure: ticks and clock times come in as arguments, signals (messages) come out.
The SymbolActor wraps one :class:`SymbolEngine`.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta

from messages.base import option_type_of
from messages.market import Bar
from messages.signals import BarClosed, RunningHighRaised, Signal, SwingDetected, SwingLowBroken
from strategy.bars import BarBuilder
from strategy.swing import SwingDetector
from strategy.tick_check import strike_of, tick_problem
from strategy.vwap import SessionVwap


@dataclass(slots=True)
class _Low:
    """An unbroken swing low and the highest high since its bar."""

    index: int
    bar_time: datetime
    price: float
    highest_high: float
    #: True while no bar after the swing bar has started: the next trade
    #: starts one and replaces ``highest_high`` (strategy.md §4, stage 2).
    awaiting_next_bar: bool


class SymbolEngine:
    """Builds bars and VWAP, detects swings, breaks and new highs for one symbol.

    Signals, in the order they happen:

    * :class:`BarClosed` for every closed bar, then :class:`SwingDetected`
      when that bar's close creates or moves a swing (strategy.md §2-§3);
    * :class:`SwingLowBroken` for each unbroken swing low a trade goes
      strictly below;
    * :class:`RunningHighRaised` when a trade raises the highest high since the
      newest unbroken swing low's bar (and once, when the first bar after a
      swing bar starts, with ``price`` that restarts the running high; the
      filter applies it as described on the message).

    ``unbroken_lows`` are kept oldest first; their prices rise (an older, lower
    low can stay unbroken while a newer one breaks).

    A tick that cannot be real (strategy.md §2: not a finite price > 0, a
    premium at or above the strike, a negative cumulative volume, stamped on
    another day or more than ``max_ahead_seconds`` ahead of the clock), an
    out-of-order one, or one after :meth:`close_session` changes nothing and
    is counted in :attr:`rejected`.
    """

    def __init__(self, symbol: str, grace_seconds: float, max_ahead_seconds: float = 5.0) -> None:
        self.symbol = symbol
        self.option_type = option_type_of(symbol)
        self.builder = BarBuilder(symbol, grace_seconds)
        self.vwap = SessionVwap()
        self.detector = SwingDetector()
        self.bars: list[Bar] = []
        self.vwaps: list[float] = []
        self.unbroken_lows: list[_Low] = []
        #: swing bar start -> time of the trade that broke that swing low
        self.broken_at: dict[datetime, datetime] = {}
        self.last_price: float | None = None
        self.last_time: datetime | None = None
        #: the detector's current swing LOW, while it is unbroken
        self._current_low: _Low | None = None
        #: vwap_at_swing of the detector's current swing (frozen at its creation)
        self._swing_vwap = 0.0
        self.strike = strike_of(symbol)
        self._max_ahead = timedelta(seconds=max_ahead_seconds)
        #: True after :meth:`close_session`
        self.closed = False
        #: ticks stamped at or after this time (the market close, if set) are dropped as ``after_close``
        self.session_close: datetime | None = None
        #: why the last tick was dropped ("" if it was applied)
        self.last_rejection = ""
        #: dropped ticks by reason (:data:`strategy.tick_check.REASONS`, ``out_of_order``, ``after_close``)
        self.rejected: Counter[str] = Counter()

    # --- inputs -----------------------------------------------------------------
    def on_tick(
        self, moment: datetime, price: float, cum_volume: int | None, now: datetime | None = None
    ) -> list[Signal]:
        """Apply one trade; returns the signals it caused (empty for a dropped tick).

        ``moment`` and ``now`` (the clock; ``moment`` itself when not given)
        are aware datetimes, ``price`` rupees, ``cum_volume`` the day's
        cumulative contracts or None. A tick that cannot be real
        (:func:`strategy.tick_check.tick_problem`), an out-of-order one, or
        one after :meth:`close_session` is dropped: it changes nothing, its
        reason is in :attr:`last_rejection` and counted in :attr:`rejected`.
        """
        problem = tick_problem(moment, price, cum_volume, moment if now is None else now, self.strike, self._max_ahead)
        if not problem and (self.closed or (self.session_close is not None and moment >= self.session_close)):
            problem = "after_close"
        if problem:
            return self._reject(problem)
        closed, applied = self.builder.on_tick(moment, price, cum_volume)
        if not applied:  # the builder closes no bar for a tick it drops
            return self._reject("out_of_order")
        self.last_rejection = ""
        signals: list[Signal] = []
        if closed is not None:
            self._on_bar_closed(closed, moment, signals)
        self.last_price, self.last_time = price, moment
        self._on_trade(price, moment, signals)
        return signals

    def on_clock(self, now: datetime) -> list[Signal]:
        """Close the bar in progress if its minute plus the grace has passed."""
        closed = self.builder.close_due(now)
        signals: list[Signal] = []
        if closed is not None:
            self._on_bar_closed(closed, now, signals)
        return signals

    def close_session(self, now: datetime) -> list[Signal]:
        """The market has closed: the bar in progress closes now (its minute has ended),
        then the session is over and later ticks and bars are dropped (strategy.md §2)."""
        signals: list[Signal] = []
        closed = self.builder.close_now()
        if closed is not None:
            self._on_bar_closed(closed, now, signals)
        self.closed = True
        return signals

    def _reject(self, reason: str) -> list[Signal]:
        self.last_rejection = reason
        self.rejected[reason] += 1
        return []

    def on_history_bar(self, bar: Bar, now: datetime) -> list[Signal]:
        """Apply a closed bar from history (warm-up): its high and low trade, then it closes."""
        if self.closed:
            return []
        if self.bars and bar.start <= self.bars[-1].start:
            self.builder.dropped_ticks += 1
            return []
        signals: list[Signal] = []
        self._on_trade(bar.high, bar.start, signals)
        self._on_trade(bar.low, bar.start, signals)
        self.builder.mark_history_bar(bar)
        self.last_price, self.last_time = bar.close, bar.start
        self._on_bar_closed(bar, now, signals)
        return signals

    def apply_history(self, bars: list[Bar], until: datetime, now: datetime) -> list[Signal]:
        """Apply history bars newer than the last closed bar and starting before ``until``.

        A history bar for the minute of the bar in progress replaces it (the
        history has all its trades). Returns the signals, as for ticks.
        """
        signals: list[Signal] = []
        for bar in sorted(bars, key=lambda b: b.start):
            if bar.start >= until or (self.bars and bar.start <= self.bars[-1].start):
                continue
            open_start = self.builder.open_bar_start
            if open_start is not None and bar.start >= open_start:
                self.builder.discard_open_bar()
            signals.extend(self.on_history_bar(bar, now))
        return signals

    def swing_status(self, swing_bar_time: datetime) -> str:
        """The swing low whose bar started at ``swing_bar_time``: ``unbroken``, ``broken`` or ``unknown``."""
        if any(low.bar_time == swing_bar_time for low in self.unbroken_lows):
            return "unbroken"
        return "broken" if swing_bar_time in self.broken_at else "unknown"

    # --- internals ----------------------------------------------------------------
    def _on_bar_closed(self, bar: Bar, now: datetime, signals: list[Signal]) -> None:
        self.bars.append(bar)
        vwap = self.vwap.add(bar.high, bar.low, bar.close, bar.volume)
        self.vwaps.append(vwap)
        signals.append(BarClosed.model_construct(symbol=self.symbol, bar=bar, vwap=vwap, time=now))
        change = self.detector.on_bar(bar.high, bar.low, bar.close)
        if change is None:
            return
        i = len(self.bars) - 1
        k = change.index
        swing_bar = self.bars[k]
        later_highs = [b.high for b in self.bars[k + 1 : i + 1]]
        highest = max(later_highs) if later_highs else swing_bar.high
        # vwap_at_swing: the VWAP at the close of the swing bar when the swing is
        # created; an update keeps it (frozen at formation), LOW or HIGH (strategy.md §3)
        if not change.update:
            self._swing_vwap = self.vwaps[k]
        vwap_at_swing = self._swing_vwap
        if change.swing_type == "LOW":
            if change.update and self._current_low is not None:
                low = self._current_low
                low.index, low.bar_time, low.price = k, swing_bar.start, change.price
                low.highest_high, low.awaiting_next_bar = highest, not later_highs
            else:
                low = _Low(k, swing_bar.start, change.price, highest, not later_highs)
                self.unbroken_lows.append(low)
                self._current_low = low
        else:
            self._current_low = None
        signals.append(
            SwingDetected.model_construct(
                time=now,
                symbol=self.symbol,
                option_type=self.option_type,
                swing_type=change.swing_type,
                update=change.update,
                price=change.price,
                bar_time=swing_bar.start,
                confirmed_at=bar.start,
                vwap_at_swing=vwap_at_swing,
                highest_high=highest,
            )
        )

    def _on_trade(self, price: float, moment: datetime, signals: list[Signal]) -> None:
        lows = self.unbroken_lows
        if not lows:
            return
        if any(price < low.price for low in lows):
            for broken in [low for low in lows if price < low.price]:
                lows.remove(broken)
                self.broken_at[broken.bar_time] = moment
                if broken is self._current_low:
                    self._current_low = None
                signals.append(
                    SwingLowBroken.model_construct(
                        symbol=self.symbol, swing_bar_time=broken.bar_time, price=broken.price, ltp=price, time=moment
                    )
                )
            if not lows:
                return
        newest = lows[-1]
        restart_for = None
        if newest.awaiting_next_bar:
            newest.awaiting_next_bar = False
            newest.highest_high = price
            restart_for = newest.bar_time
        elif price <= newest.highest_high:
            return
        for low in lows:
            if price > low.highest_high:
                low.highest_high = price
        signals.append(
            RunningHighRaised.model_construct(symbol=self.symbol, price=price, time=moment, restart_for=restart_for)
        )
