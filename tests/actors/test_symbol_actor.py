"""SymbolActor: ticks in; BarClosed / SwingDetected / RunningHighRaised / SwingLowBroken out (strategy.md §2-§3)."""

from __future__ import annotations

from datetime import datetime

import pytest

from actors.names import FILTER, JOURNAL, symbol_actor
from actors.symbol import SymbolActor
from messages.market import GetSwingState, Tick
from messages.portfolio import SessionEndDue
from messages.signals import BarClosed, RunningHighRaised, SwingDetected, SwingLowBroken
from tests.actors.probe import Harness, Probe, t

SYM = "NIFTY17JUN2115500CE"
NAME = symbol_actor(SYM)


@pytest.fixture
def rig(harness: Harness) -> tuple[Harness, Probe, Probe]:
    filt = harness.probe(FILTER, unpack=lambda batch: batch.signals)
    journal = harness.probe(JOURNAL)
    harness.start(SymbolActor, NAME, SYM)
    return harness, filt, journal


def tick(moment: datetime, ltp: float, volume: int | None = None) -> Tick:
    return Tick(symbol=SYM, time=moment, ltp=ltp, volume=volume)


def send(h: Harness, *ticks: Tick) -> None:
    """Each tick at its own time, as live: the clock reaches the tick's time first (earlier timers fire)."""
    for one in ticks:
        if one.time > h.clock.now():
            h.advance(one.time)
        h.tell(NAME, one)


def ohlc(bar_closed: BarClosed) -> tuple[float, float, float, float, int]:
    b = bar_closed.bar
    return (b.open, b.high, b.low, b.close, b.volume)


def feed_bars(h: Harness, first_minute: int, bars: list[tuple[float, float, float]]) -> None:
    """One minute per (H, L, C) from 09:<first_minute>: trades at H (:01), L (:20), C (:30)."""
    for i, (high, low, close) in enumerate(bars):
        minute = first_minute + i
        send(h, tick(t(9, minute, 1), high), tick(t(9, minute, 20), low), tick(t(9, minute, 30), close))


#: strategy.md §3 worked example (H, L, C): swing HIGH at bar 0 on bar 2, swing LOW at bar 2 on bar 4.
WORKED = [(210, 200, 204), (206, 196, 198), (203, 193, 195), (208, 197, 206), (212, 205, 211)]


def test_first_tick_of_a_later_minute_closes_the_bar_with_volume_and_vwap(rig) -> None:
    h, filt, journal = rig
    send(
        h,
        tick(t(9, 20, 5), 100.0, 1000),  # baseline only
        tick(t(9, 20, 30), 104.0, 1500),
        tick(t(9, 20, 50), 99.0, 1800),
    )
    assert filt.received == []

    send(h, tick(t(9, 21, 1), 101.0, 2000))
    [first] = filt.received
    assert isinstance(first, BarClosed)
    assert (first.symbol, first.bar.start, first.time) == (SYM, t(9, 20), t(9, 21, 1))
    assert ohlc(first) == (100.0, 104.0, 99.0, 99.0, 800)
    assert first.vwap == pytest.approx((104 + 99 + 99) / 3)

    send(h, tick(t(9, 21, 40), 103.0, 2600), tick(t(9, 22, 0, 500_000), 102.0, 2700))
    second = filt.received[1]
    assert isinstance(second, BarClosed) and len(filt.received) == 2
    assert ohlc(second) == (101.0, 103.0, 101.0, 103.0, 800)
    tp1, tp2 = (104 + 99 + 99) / 3, (103 + 101 + 103) / 3
    assert second.vwap == pytest.approx((tp1 * 800 + tp2 * 800) / 1600)
    assert journal.received == []


def test_worked_example_swings_go_to_the_journal_before_the_filter(rig) -> None:
    h, filt, journal = rig
    feed_bars(h, 20, WORKED)
    send(h, tick(t(9, 25, 1), 209.0))  # closes bar 4; below the running high 212, above the low

    assert filt.types() == [
        "BarClosed", "BarClosed", "BarClosed", "SwingDetected", "BarClosed", "BarClosed", "SwingDetected",
    ]
    bars = filt.of(BarClosed)
    assert [b.bar.start for b in bars] == [t(9, 20), t(9, 21), t(9, 22), t(9, 23), t(9, 24)]
    assert [ohlc(b)[1:4] for b in bars] == [tuple(map(float, x)) for x in WORKED]

    high, low = filt.of(SwingDetected)
    assert (high.swing_type, high.update, high.price) == ("HIGH", False, 210)
    assert (high.bar_time, high.confirmed_at, high.time) == (t(9, 20), t(9, 22), t(9, 23, 1))
    assert (low.symbol, low.option_type, low.swing_type, low.update, low.price) == (SYM, "CE", "LOW", False, 193)
    assert (low.bar_time, low.confirmed_at, low.time) == (t(9, 22), t(9, 24), t(9, 25, 1))
    assert low.highest_high == 212  # highest high of the bars after the swing bar (208, 212)
    assert low.vwap_at_swing == bars[2].vwap  # VWAP at the swing bar's close, not at confirmation
    assert low.vwap_at_swing != bars[4].vwap

    assert journal.received == [high, low]
    sent = h.sent(JOURNAL, FILTER)
    for swing in (high, low):
        i = sent.index((JOURNAL, swing))
        name, batch = sent[i + 1]
        assert name == FILTER and swing in batch.signals, "the journal must get the swing just before the filter"


def test_one_tick_that_creates_and_breaks_a_swing_low_sends_one_batch(rig) -> None:
    h, filt, _journal = rig
    feed_bars(h, 20, WORKED)
    filt.clear()
    send(h, tick(t(9, 25, 1), 192.0))  # closes bar 4 (swing LOW at 193) and trades below it

    [batch] = filt.messages
    assert (batch.symbol, batch.time) == (SYM, t(9, 25, 1))
    assert filt.types() == ["BarClosed", "SwingDetected", "SwingLowBroken"]
    swing, broken = filt.received[1:]
    assert (swing.swing_type, swing.price, broken.price, broken.ltp) == ("LOW", 193, 193, 192.0)


def test_running_high_then_break_of_the_swing_low(rig) -> None:
    h, filt, _journal = rig
    feed_bars(h, 20, WORKED)
    send(h, tick(t(9, 25, 1), 209.0))
    filt.clear()

    send(h, tick(t(9, 25, 10), 213.0))
    [raised] = filt.received
    assert isinstance(raised, RunningHighRaised)
    assert (raised.symbol, raised.price, raised.time, raised.restart_for) == (SYM, 213.0, t(9, 25, 10), None)

    send(h, tick(t(9, 25, 20), 212.5), tick(t(9, 25, 25), 193.0))  # neither a new high nor below 193
    assert len(filt.received) == 1

    send(h, tick(t(9, 25, 30), 192.95))
    broken = filt.received[-1]
    assert isinstance(broken, SwingLowBroken)
    assert (broken.symbol, broken.swing_bar_time, broken.price, broken.ltp, broken.time) == (
        SYM, t(9, 22), 193, 192.95, t(9, 25, 30),
    )

    send(h, tick(t(9, 25, 40), 190.0), tick(t(9, 25, 50), 215.0))  # broken once; no low left to watch
    assert len(filt.received) == 2


def test_first_trade_after_a_self_confirming_swing_bar_restarts_the_running_high(rig) -> None:
    h, filt, _journal = rig
    # bar 2 is both the lowest low and the bar that confirms it (low_watch[0] reaches 2)
    feed_bars(h, 20, [(110, 100, 105), (112, 99, 108), (115, 98, 110)])
    send(h, tick(t(9, 23, 5), 104.0))

    assert filt.types() == ["BarClosed", "BarClosed", "BarClosed", "SwingDetected", "RunningHighRaised"]
    swing, raised = filt.received[-2:]
    assert (swing.swing_type, swing.price, swing.bar_time, swing.confirmed_at, swing.highest_high) == (
        "LOW", 98, t(9, 22), t(9, 22), 115,
    )
    assert (raised.price, raised.restart_for, raised.time) == (104.0, t(9, 22), t(9, 23, 5))

    send(h, tick(t(9, 23, 10), 106.0), tick(t(9, 23, 15), 105.0))
    assert filt.types()[-1] == "RunningHighRaised" and len(filt.received) == 6
    assert (filt.received[-1].price, filt.received[-1].restart_for) == (106.0, None)


def test_quiet_bar_closes_on_its_timer_at_minute_end_plus_grace(rig) -> None:
    h, filt, _journal = rig
    send(h, tick(t(9, 20, 10), 100.0), tick(t(9, 20, 40), 101.0))

    h.advance(t(9, 21, 1, 999_000))
    assert filt.received == []

    h.advance(t(9, 21, 2))
    [closed] = filt.received
    assert (closed.bar.start, closed.time) == (t(9, 20), t(9, 21, 2))
    assert ohlc(closed)[:4] == (100.0, 101.0, 100.0, 101.0)

    send(h, tick(t(9, 21, 30), 102.0))  # a new bar, not a late tick of the closed one
    h.advance(t(9, 22, 1))
    assert len(filt.received) == 1
    h.advance(t(9, 22, 2))
    assert [b.bar.start for b in filt.of(BarClosed)] == [t(9, 20), t(9, 21)]


def test_bar_closed_by_a_tick_is_not_closed_again_by_its_timer(rig) -> None:
    h, filt, _journal = rig
    send(h, tick(t(9, 20, 10), 100.0), tick(t(9, 21, 0, 500_000), 103.0))
    assert [b.bar.start for b in filt.of(BarClosed)] == [t(9, 20)]

    h.advance(t(9, 21, 2))  # the 09:20 timer fires: nothing left to close
    assert len(filt.received) == 1

    h.advance(t(9, 22, 2))  # the 09:21 bar's own timer
    assert [b.bar.start for b in filt.of(BarClosed)] == [t(9, 20), t(9, 21)]
    assert ohlc(filt.received[-1])[:4] == (103.0, 103.0, 103.0, 103.0)


def test_out_of_order_tick_is_dropped(rig) -> None:
    h, filt, _journal = rig
    send(h, tick(t(9, 21, 10), 100.0), tick(t(9, 20, 59), 90.0), tick(t(9, 22, 1), 100.0))
    [closed] = filt.received
    assert closed.bar.start == t(9, 21)
    assert ohlc(closed)[:4] == (100.0, 100.0, 100.0, 100.0)


def test_the_close_closes_the_bar_in_progress_before_the_session_ends(rig) -> None:
    """Defect 2: the session's last bar (15:29) closed only at 15:30:02, after the session's end."""
    h, filt, journal = rig
    feed_bars(h, 20, WORKED[:4])
    send(h, tick(t(9, 24, 1), 212.0), tick(t(9, 24, 20), 205.0), tick(t(9, 24, 30), 211.0))
    h.advance(t(9, 25))
    h.tell(NAME, SessionEndDue(time=t(9, 25)))  # as if the market closed at 09:25
    assert filt.types()[-2:] == ["BarClosed", "SwingDetected"]
    low = filt.received[-1]
    assert (low.swing_type, low.price, low.time) == ("LOW", 193, t(9, 25))
    assert journal.received[-1] == low
    send(h, tick(t(9, 25, 10), 150.0))  # after the close: dropped
    assert filt.received[-1] == low


def test_a_tick_that_cannot_be_real_changes_nothing(rig) -> None:
    """The FeedActor drops them first; the engine's own check holds for every other way in."""
    h, filt, _journal = rig
    send(h, tick(t(9, 20, 1), 100.0, 1000))
    h.tell(NAME, Tick(symbol=SYM, time=datetime(5138, 6, 11, 9, 20, 5, tzinfo=t(9, 20).tzinfo), ltp=99.0))
    h.tell(NAME, tick(t(9, 20, 30), 15_500.0))  # a premium at the strike
    h.tell(NAME, tick(t(15, 30), 101.5))  # stamped at the close: opens no bar
    send(h, tick(t(9, 20, 40), 101.0, 1100), tick(t(9, 21, 1), 102.0, 1200))
    [closed] = filt.of(BarClosed)
    assert ohlc(closed) == (100.0, 101.0, 100.0, 101.0, 100)


def test_it_answers_with_its_current_state_of_a_swing_low(rig) -> None:
    h, _filt, _journal = rig
    feed_bars(h, 20, WORKED)
    send(h, tick(t(9, 25, 1), 209.0))
    state = h.ask(NAME, GetSwingState(swing_bar_time=t(9, 22)))
    assert (state.symbol, state.last_price, state.last_time, state.swing) == (SYM, 209.0, t(9, 25, 1), "unbroken")
    send(h, tick(t(9, 25, 10), 192.0))
    state = h.ask(NAME, GetSwingState(swing_bar_time=t(9, 22)))
    assert (state.last_price, state.swing, state.broken_at) == (192.0, "broken", t(9, 25, 10))
    # a swing low it never saw (a restarted actor starts empty) is unknown, not broken
    assert h.ask(NAME, GetSwingState(swing_bar_time=t(9, 21))).swing == "unknown"
