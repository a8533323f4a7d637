"""Tick to 1-minute bar building (strategy.md §2)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from messages.base import IST
from strategy.bars import BarBuilder

SYM = "NIFTY17JUN2115500CE"
IST_OFFSET = timedelta(hours=5, minutes=30)


def t(hour: int, minute: int, second: int = 0, micro: int = 0) -> datetime:
    return datetime(2021, 6, 11, hour, minute, second, micro, tzinfo=IST)


def builder(grace: float = 2.0) -> BarBuilder:
    return BarBuilder(SYM, grace_seconds=grace)


def ohlcv(bar) -> tuple[float, float, float, float, int]:
    return (bar.open, bar.high, bar.low, bar.close, bar.volume)


# --- alignment and OHLC -------------------------------------------------------------


def test_ohlc_and_bar_start_is_minute_start_in_ist() -> None:
    b = builder()
    assert b.on_tick(t(9, 15, 5), 100.0, None) == (None, True)
    assert b.on_tick(t(9, 15, 20), 103.0, None) == (None, True)
    assert b.on_tick(t(9, 15, 40), 98.0, None) == (None, True)
    assert b.on_tick(t(9, 15, 59, 999_999), 101.0, None) == (None, True)
    assert b.open_bar_start == t(9, 15)
    closed, applied = b.on_tick(t(9, 16, 0), 102.0, None)
    assert applied is True
    assert closed is not None
    assert closed.symbol == SYM
    assert closed.start == t(9, 15)
    assert closed.start.utcoffset() == IST_OFFSET
    assert (closed.start.hour, closed.start.minute, closed.start.second) == (9, 15, 0)
    assert ohlcv(closed) == (100.0, 103.0, 98.0, 101.0, 0)
    assert b.open_bar_start == t(9, 16)


def test_ticks_in_utc_are_aligned_to_the_ist_minute() -> None:
    b = builder()
    utc = timezone.utc
    b.on_tick(datetime(2021, 6, 11, 3, 45, 10, tzinfo=utc), 100.0, None)  # 09:15:10 IST
    b.on_tick(datetime(2021, 6, 11, 3, 45, 59, tzinfo=utc), 104.0, None)  # 09:15:59 IST
    assert b.open_bar_start == t(9, 15)
    assert b.open_bar_start.utcoffset() == IST_OFFSET
    closed, _ = b.on_tick(datetime(2021, 6, 11, 3, 46, 0, tzinfo=utc), 99.0, None)  # 09:16:00 IST
    assert closed is not None
    assert closed.start == t(9, 15)
    assert closed.start.utcoffset() == IST_OFFSET
    assert (closed.start.hour, closed.start.minute) == (9, 15)
    assert ohlcv(closed) == (100.0, 104.0, 100.0, 104.0, 0)
    assert b.open_bar_start.utcoffset() == IST_OFFSET
    assert (b.open_bar_start.hour, b.open_bar_start.minute) == (9, 16)


def test_single_tick_bar() -> None:
    b = builder()
    b.on_tick(t(9, 15, 30), 150.5, None)
    closed = b.close_due(t(9, 16, 2))
    assert closed is not None
    assert ohlcv(closed) == (150.5, 150.5, 150.5, 150.5, 0)


# --- volume -----------------------------------------------------------------------


def test_volume_is_increase_of_cumulative_volume_first_tick_only_sets_baseline() -> None:
    b = builder()
    b.on_tick(t(9, 15, 5), 100.0, 1000)  # baseline only
    b.on_tick(t(9, 15, 10), 101.0, 1010)
    b.on_tick(t(9, 15, 20), 102.0, 1025)
    closed, _ = b.on_tick(t(9, 16, 1), 103.0, 1040)
    assert closed is not None
    assert closed.volume == 25  # 1025 - 1000; the closing tick's 15 belongs to the next bar
    b.on_tick(t(9, 16, 30), 104.0, 1041)
    closed, _ = b.on_tick(t(9, 17, 0), 105.0, 1100)
    assert closed is not None
    assert closed.volume == 16  # 15 + 1


def test_reset_volume_baseline_next_tick_adds_nothing() -> None:
    b = builder()
    b.on_tick(t(9, 15, 5), 100.0, 1000)
    b.on_tick(t(9, 15, 10), 100.0, 1010)  # +10
    b.reset_volume_baseline()  # e.g. a reconnect
    b.on_tick(t(9, 15, 30), 100.0, 5000)  # baseline again: +0, not +3990
    b.on_tick(t(9, 15, 40), 100.0, 5007)  # +7
    closed = b.close_due(t(9, 16, 2))
    assert closed is not None
    assert closed.volume == 17


def test_reset_before_a_new_bar_gives_that_bar_no_jump() -> None:
    b = builder()
    b.on_tick(t(9, 15, 5), 100.0, 1000)
    b.on_tick(t(9, 15, 10), 100.0, 1010)
    b.reset_volume_baseline()
    closed, _ = b.on_tick(t(9, 16, 5), 100.0, 9000)
    assert closed is not None and closed.volume == 10
    b.on_tick(t(9, 16, 6), 100.0, 9002)
    closed = b.close_due(t(9, 17, 2))
    assert closed is not None and closed.volume == 2


def test_falling_cumulative_volume_adds_nothing_and_rebases() -> None:
    b = builder()
    b.on_tick(t(9, 15, 5), 100.0, 1000)
    b.on_tick(t(9, 15, 10), 100.0, 1010)  # +10
    b.on_tick(t(9, 15, 20), 100.0, 900)  # falls: +0, new baseline 900
    b.on_tick(t(9, 15, 30), 100.0, 905)  # +5 from 900 (not -95 nor +0 from 1010)
    closed = b.close_due(t(9, 16, 2))
    assert closed is not None
    assert closed.volume == 15


def test_volume_never_negative_even_if_a_bar_only_falls() -> None:
    b = builder()
    b.on_tick(t(9, 15, 5), 100.0, 1000)
    closed, _ = b.on_tick(t(9, 16, 5), 100.0, 400)
    assert closed is not None and closed.volume == 0
    b.on_tick(t(9, 16, 6), 100.0, 300)
    closed = b.close_due(t(9, 17, 2))
    assert closed is not None
    assert closed.volume == 0


def test_tick_without_volume_adds_nothing_and_keeps_baseline() -> None:
    b = builder()
    b.on_tick(t(9, 15, 5), 100.0, 1000)
    b.on_tick(t(9, 15, 6), 100.0, None)
    b.on_tick(t(9, 15, 7), 100.0, 1012)
    closed = b.close_due(t(9, 16, 2))
    assert closed is not None
    assert closed.volume == 12


# --- closing ----------------------------------------------------------------------


def test_close_due_exactly_at_minute_end_plus_grace() -> None:
    b = builder(grace=2.0)
    b.on_tick(t(9, 15, 10), 100.0, None)
    assert b.close_due(t(9, 16, 0)) is None
    assert b.close_due(t(9, 16, 1, 999_999)) is None  # 1 µs before end + grace
    assert b.open_bar_start == t(9, 15)
    closed = b.close_due(t(9, 16, 2))  # exactly end + grace
    assert closed is not None
    assert closed.start == t(9, 15)
    assert b.open_bar_start is None
    assert b.close_due(t(9, 16, 3)) is None  # nothing left to close


def test_close_due_uses_the_configured_grace() -> None:
    b = builder(grace=5.0)
    b.on_tick(t(9, 15, 10), 100.0, None)
    assert b.close_due(t(9, 16, 4, 999_999)) is None
    assert b.close_due(t(9, 16, 5)) is not None


def test_close_due_accepts_utc_clock() -> None:
    b = builder()
    b.on_tick(t(9, 15, 10), 100.0, None)
    assert b.close_due(datetime(2021, 6, 11, 3, 46, 1, tzinfo=timezone.utc)) is None
    closed = b.close_due(datetime(2021, 6, 11, 3, 46, 2, tzinfo=timezone.utc))
    assert closed is not None and closed.start == t(9, 15)


def test_close_due_without_any_tick_is_none() -> None:
    assert builder().close_due(t(9, 20)) is None


def test_minute_without_trade_makes_no_bar() -> None:
    b = builder()
    b.on_tick(t(9, 15, 10), 100.0, None)
    closed, _ = b.on_tick(t(9, 17, 5), 101.0, None)  # 09:16 had no trade
    assert closed is not None and closed.start == t(9, 15)
    assert b.open_bar_start == t(9, 17)
    closed, _ = b.on_tick(t(9, 18, 0), 102.0, None)
    assert closed is not None and closed.start == t(9, 17)
    assert ohlcv(closed) == (101.0, 101.0, 101.0, 101.0, 0)


def test_quiet_minute_after_grace_close_makes_no_bar() -> None:
    b = builder()
    b.on_tick(t(9, 15, 10), 100.0, None)
    assert b.close_due(t(9, 16, 2)) is not None
    assert b.close_due(t(9, 17, 2)) is None  # no trade in 09:16: no bar
    assert b.close_due(t(9, 18, 2)) is None
    assert b.open_bar_start is None


def test_tick_after_grace_close_opens_new_bar_without_closing_anything() -> None:
    b = builder()
    b.on_tick(t(9, 15, 10), 100.0, 1000)
    b.on_tick(t(9, 15, 20), 100.0, 1010)
    assert b.close_due(t(9, 16, 2)) is not None
    closed, applied = b.on_tick(t(9, 16, 3), 99.0, 1030)
    assert (closed, applied) == (None, True)
    assert b.open_bar_start == t(9, 16)
    closed = b.close_due(t(9, 17, 2))
    assert closed is not None
    assert ohlcv(closed) == (99.0, 99.0, 99.0, 99.0, 20)


# --- stale, out-of-order and duplicate ticks -----------------------------------------


def test_tick_older_than_current_bar_is_dropped_and_counted() -> None:
    b = builder()
    b.on_tick(t(9, 15, 10), 100.0, 1000)
    b.on_tick(t(9, 16, 10), 105.0, 1010)
    b.on_tick(t(9, 16, 20), 106.0, 1020)
    assert b.dropped_ticks == 0
    assert b.on_tick(t(9, 15, 59), 50.0, 5000) == (None, False)  # older than the 09:16 bar
    assert b.dropped_ticks == 1
    assert b.open_bar_start == t(9, 16)
    b.on_tick(t(9, 16, 30), 106.0, 1025)  # baseline untouched by the dropped tick: +5
    closed = b.close_due(t(9, 17, 2))
    assert closed is not None
    assert ohlcv(closed) == (105.0, 106.0, 105.0, 106.0, 25)  # 10 + 10 + 5, low not 50


def test_late_tick_of_a_minute_closed_by_grace_is_dropped() -> None:
    b = builder()
    b.on_tick(t(9, 15, 10), 100.0, 1000)
    closed = b.close_due(t(9, 16, 2))
    assert closed is not None
    assert b.on_tick(t(9, 15, 59, 500_000), 90.0, 1100) == (None, False)
    assert b.dropped_ticks == 1
    assert b.open_bar_start is None  # did not reopen the closed minute
    assert b.on_tick(t(9, 14, 0), 90.0, 1100) == (None, False)  # even older
    assert b.dropped_ticks == 2
    # the next minute is still accepted, and the dropped ticks did not move the baseline
    assert b.on_tick(t(9, 16, 5), 101.0, 1004) == (None, True)
    closed = b.close_due(t(9, 17, 2))
    assert closed is not None
    assert ohlcv(closed) == (101.0, 101.0, 101.0, 101.0, 4)


def test_duplicate_of_a_closed_bars_tick_is_dropped() -> None:
    b = builder()
    b.on_tick(t(9, 15, 50), 100.0, 1000)
    b.on_tick(t(9, 16, 1), 101.0, 1010)
    assert b.on_tick(t(9, 15, 50), 100.0, 1000) == (None, False)
    assert b.dropped_ticks == 1


def test_duplicate_tick_in_current_bar_is_harmless() -> None:
    b = builder()
    b.on_tick(t(9, 15, 5), 100.0, 1000)
    b.on_tick(t(9, 15, 10), 102.0, 1010)
    b.on_tick(t(9, 15, 10), 102.0, 1010)  # the same tick again
    b.on_tick(t(9, 15, 10), 102.0, 1010)
    closed, _ = b.on_tick(t(9, 16, 0), 101.0, 1010)
    assert closed is not None
    assert ohlcv(closed) == (100.0, 102.0, 100.0, 102.0, 10)  # volume not counted twice


def test_duplicate_of_the_closing_tick_is_harmless() -> None:
    b = builder()
    b.on_tick(t(9, 15, 5), 100.0, 1000)
    closed1, _ = b.on_tick(t(9, 16, 0), 101.0, 1010)
    closed2, applied = b.on_tick(t(9, 16, 0), 101.0, 1010)
    assert closed1 is not None and closed2 is None and applied is True
    closed = b.close_due(t(9, 17, 2))
    assert closed is not None
    assert ohlcv(closed) == (101.0, 101.0, 101.0, 101.0, 10)


def test_mark_history_bar_makes_older_ticks_stale() -> None:
    from messages.market import Bar

    b = builder()
    b.mark_history_bar(Bar(symbol=SYM, start=t(9, 20), open=100.0, high=101.0, low=99.0, close=100.0, volume=10))
    assert b.on_tick(t(9, 20, 30), 100.0, 500) == (None, False)
    assert b.dropped_ticks == 1
    assert b.on_tick(t(9, 21, 0), 100.0, 500) == (None, True)
    assert b.open_bar_start == t(9, 21)


def test_a_history_bar_before_the_bar_in_progress_keeps_that_bar() -> None:
    from messages.market import Bar

    b = builder()
    b.on_tick(t(9, 30, 0), 100.0, 1000)
    b.on_tick(t(9, 30, 10), 101.0, 1100)
    b.mark_history_bar(Bar(symbol="X", start=t(9, 28), open=99, high=99, low=98, close=98, volume=5))
    assert b.open_bar_start == t(9, 30)
    closed, applied = b.on_tick(t(9, 31), 102.0, 1200)
    assert applied and ohlcv(closed) == (100.0, 101.0, 100.0, 101.0, 100)


def test_a_history_bar_for_the_minute_in_progress_replaces_it() -> None:
    from messages.market import Bar

    b = builder()
    b.on_tick(t(9, 30, 0), 100.0, 1000)
    b.mark_history_bar(Bar(symbol="X", start=t(9, 30), open=99, high=101, low=98, close=100, volume=500))
    assert b.open_bar_start is None
    assert b.on_tick(t(9, 30, 40), 100.5, 1300) == (None, False), "the minute is closed now"
