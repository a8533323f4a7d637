"""Market data: ticks and bars."""

from __future__ import annotations

from typing import Literal

from pydantic import AwareDatetime, Field, model_validator

from messages.base import Message


class Tick(Message):
    """One trade print for a symbol.

    ``ltp`` rupees; ``volume`` is the exchange's cumulative day volume in
    contracts (quote mode), ``None`` when the source does not carry it.
    """

    symbol: str = Field(min_length=1)
    time: AwareDatetime
    ltp: float = Field(gt=0)
    volume: int | None = Field(default=None, ge=0)


class Bar(Message):
    """A closed 1-minute OHLCV bar; ``start`` is the minute's start in IST (strategy.md §2)."""

    symbol: str
    start: AwareDatetime
    open: float = Field(gt=0)
    high: float = Field(gt=0)
    low: float = Field(gt=0)
    close: float = Field(gt=0)
    volume: int = Field(ge=0)

    @model_validator(mode="after")
    def _consistent(self) -> "Bar":
        if not (self.low <= self.open <= self.high and self.low <= self.close <= self.high):
            raise ValueError(f"inconsistent OHLC for {self.symbol} at {self.start}")
        return self


class HistoryBars(Message):
    """Closed 1-minute bars from the broker's history, oldest first (warm-up or back-fill).

    The SymbolActor applies those newer than its last closed bar and starting
    before ``until`` (complete minutes only), replacing a partial bar in
    progress for the same minute. With ``reconnected`` the next tick only sets
    the cumulative-volume baseline (strategy.md §2).
    """

    symbol: str
    bars: list[Bar]
    until: AwareDatetime
    reconnected: bool = False
    time: AwareDatetime


class WatchSymbols(Message):
    """The actor ``watcher`` wants the ticks of exactly ``symbols`` from the FeedActor (replaces its set)."""

    watcher: str
    symbols: frozenset[str]
    time: AwareDatetime


class ResendWatch(Message):
    """A (re)started FeedActor asks its watchers for their :class:`WatchSymbols` again."""

    time: AwareDatetime


class FeedLost(Message):
    """The market-data connection is down: a bar in progress stays open (not grace-closed)
    until the back-fill after the reconnect completes or replaces it."""

    time: AwareDatetime


class GetBars(Message):
    """Ask a SymbolActor for its closed bars of the session (``list[Bar]``, oldest first)."""


class GetSwingState(Message):
    """Ask a SymbolActor for its current state around the swing low of ``swing_bar_time``.

    Replies :class:`SwingState`. The OrderActor asks before it places an
    entry: entry decisions use the symbol's current state (strategy.md §5).
    """

    swing_bar_time: AwareDatetime


class SwingState(Message):
    """A SymbolActor's latest trade (rupees, IST time; None before the first) and the swing
    low asked about: ``unbroken``, ``broken`` (at ``broken_at``), or ``unknown`` to it (say,
    after a restart)."""

    symbol: str
    last_price: float | None
    last_time: AwareDatetime | None
    swing: Literal["unbroken", "broken", "unknown"]
    broken_at: AwareDatetime | None = None
