"""What a SymbolActor tells the FilterSupervisor, and what the filter decides."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import AwareDatetime

from messages.base import JournalEvent, Message, OptionType
from messages.market import Bar

SwingType = Literal["LOW", "HIGH"]
Decision = Literal["added", "rejected", "qualified", "disqualified", "best", "removed"]


class BarClosed(Message):
    """A symbol closed a 1-minute bar; ``vwap`` is the session VWAP after it (strategy.md §2)."""

    symbol: str
    bar: Bar
    vwap: float
    time: AwareDatetime


class BarsClosed(Message):
    """The bars closed in one instant, every symbol's (the FilterSupervisor hands them to the Journal
    in one message, for the report's charts)."""

    bars: list[BarClosed]
    time: AwareDatetime


class SwingDetected(JournalEvent):
    """A swing was created or updated at bar close (strategy.md §3).

    ``bar_time`` is the start of the swing bar, ``confirmed_at`` the start of
    the bar whose close confirmed it. ``vwap_at_swing`` is frozen at creation.
    ``highest_high`` (rupees) is the highest high of the bars after the swing
    bar at confirmation, or the swing bar's own high if none; used by stage 2.
    """

    EVENT_TYPE: ClassVar[str] = "swing"
    EVENT_EXCLUDE: ClassVar[frozenset[str]] = frozenset({"highest_high", "option_type"})

    symbol: str
    option_type: OptionType
    swing_type: SwingType
    update: bool
    price: float
    bar_time: AwareDatetime
    confirmed_at: AwareDatetime
    vwap_at_swing: float
    highest_high: float


class RunningHighRaised(Message):
    """A trade raised the highest high since the newest unbroken swing low's bar.

    The filter sets its candidate's highest high (strategy.md §4, stage 2) to
    ``price`` when the candidate's swing bar is ``restart_for`` (the first bar
    after that swing bar just started, so the swing bar's own high no longer
    counts), and otherwise to ``max(highest high, price)``.
    """

    symbol: str
    price: float
    time: AwareDatetime
    restart_for: AwareDatetime | None = None


class SwingLowBroken(Message):
    """The first trade strictly below the swing low at ``price`` (strategy.md §3)."""

    symbol: str
    swing_bar_time: AwareDatetime
    price: float
    ltp: float
    time: AwareDatetime


#: What a symbol's engine reports (strategy/symbol_engine.py), in the order it happened.
Signal = BarClosed | SwingDetected | RunningHighRaised | SwingLowBroken


class SymbolSignals(Message):
    """Everything one input (a tick, a grace close, a history batch) changed for one symbol, in order.

    The FilterSupervisor applies them all, and those of every other symbol at
    the same instant, before it publishes a best, so a swing low that the same
    trade creates (by closing the bar) and breaks never becomes an entry order.
    """

    symbol: str
    signals: list[Signal]
    time: AwareDatetime


class ResendBest(Message):
    """A (re)started OrderActor asks the FilterSupervisor for the last best of ``option_type``.

    The answer is an ordinary :class:`EntryIntent` (what the filter last sent,
    ``None`` included): an intent sent while the OrderActor was dead is lost.
    """

    option_type: OptionType
    time: AwareDatetime


class PublishDue(Message):
    """The FilterSupervisor's timer: the instant at ``time`` is over; publish the bests it changed.

    Scheduled at the clock's time of the first input that changed the pool, it
    is delivered after every input already queued (live) or once the clock
    moves past that instant (replay, paced sessions): stage 3 runs once per
    instant (strategy.md §4).
    """

    time: AwareDatetime


class EntryCandidate(Message):
    """The best qualified candidate of one option type, ready to become an order.

    Prices rupees (trigger/limit already on the tick grid), ``quantity``
    contracts = ``lots`` x lot size (strategy.md §4-§5).
    """

    symbol: str
    option_type: OptionType
    swing_price: float
    swing_bar_time: AwareDatetime
    highest_high: float
    sl_price: float
    sl_points: float
    lots: int
    quantity: int
    trigger_price: float
    limit_price: float


class EntryIntent(Message):
    """The best candidate for ``option_type`` changed; ``None`` means no best."""

    option_type: OptionType
    candidate: EntryCandidate | None
    time: AwareDatetime


class CandidateDecided(JournalEvent):
    """A decision of the filter about one candidate (strategy.md §4).

    ``symbol`` is ``None`` only for ``decision="best"`` when no candidate of
    the type qualifies. ``reason`` is one of ``price_low``, ``price_high``,
    ``vwap_premium_low``, ``sl_pct_low``, ``sl_pct_high``, ``lots_zero``,
    ``broken``, ``replaced``, ``session_end``, or empty.
    """

    EVENT_TYPE: ClassVar[str] = "candidate"

    symbol: str | None
    option_type: OptionType
    decision: Decision
    reason: str = ""
    price: float | None = None
    vwap_at_swing: float | None = None
    sl_price: float | None = None
    sl_pct: float | None = None
    quantity: int | None = None
