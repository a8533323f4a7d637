"""SymbolEngine: bars + VWAP + swings + breaks + running highs for one symbol (strategy.md §2-§4)."""

from __future__ import annotations

from datetime import datetime

import pytest

from messages.base import IST
from messages.market import Bar
from messages.signals import BarClosed, RunningHighRaised, SwingDetected, SwingLowBroken
from strategy.symbol_engine import SymbolEngine

SYM = "NIFTY17JUN2115500CE"

# strategy.md §3 worked example (H, L, C)
WORKED = [
    (210.0, 200.0, 204.0),
    (206.0, 196.0, 198.0),
    (203.0, 193.0, 195.0),  # closes: HIGH at bar 0, 210
    (208.0, 197.0, 206.0),
    (212.0, 205.0, 211.0),  # closes: LOW at bar 2, 193
]


def t(minute: int, second: int = 0, hour: int = 9) -> datetime:
    return datetime(2021, 6, 11, hour, minute, second, tzinfo=IST)


def bar_minute(i: int) -> datetime:
    """Start of bar i of the session (bar 0 at 09:15)."""
    return t(15 + i)


class Feed:
    """Feeds bars as ticks C, H, L, C at seconds 10/20/30/40, cumulative volume +10 per tick."""

    def __init__(self, engine: SymbolEngine) -> None:
        self.engine = engine
        self.cum = 1000

    def tick(self, moment: datetime, price: float) -> list:
        self.cum += 10
        return self.engine.on_tick(moment, price, self.cum)

    def bar(self, i: int, h: float, l: float, c: float) -> list:
        start = bar_minute(i)
        out: list = []
        for sec, price in ((10, c), (20, h), (30, l), (40, c)):
            out += self.tick(start.replace(second=sec), price)
        return out

    def bars(self, bars: list[tuple[float, float, float]]) -> list:
        out: list = []
        for i, (h, l, c) in enumerate(bars):
            out += self.bar(i, h, l, c)
        return out


def engine() -> SymbolEngine:
    return SymbolEngine(SYM, grace_seconds=2.0)


def kinds(signals: list) -> list[str]:
    return [type(s).__name__ for s in signals]


def swings(signals: list) -> list[SwingDetected]:
    return [s for s in signals if isinstance(s, SwingDetected)]


def hist(i: int, h: float, l: float, c: float, volume: int = 100, o: float | None = None) -> Bar:
    return Bar(symbol=SYM, start=bar_minute(i), open=c if o is None else o, high=h, low=l, close=c, volume=volume)


def tp(h: float, l: float, c: float) -> float:
    return (h + l + c) / 3


# --- order of signals, the worked example through ticks -----------------------------


def test_worked_example_through_ticks_signal_order_and_fields() -> None:
    e = engine()
    f = Feed(e)
    out = f.bars(WORKED[:2])
    out += f.bar(2, *WORKED[2])
    assert swings(out) == []
    # the first tick of bar 3 closes bar 2: BarClosed, then the HIGH
    sig = f.tick(bar_minute(3).replace(second=5), 206.0)
    assert kinds(sig) == ["BarClosed", "SwingDetected"]
    closed, high = sig
    assert closed.bar.start == bar_minute(2)
    assert (closed.bar.high, closed.bar.low, closed.bar.close) == WORKED[2]
    assert closed.time == bar_minute(3).replace(second=5)
    assert high.swing_type == "HIGH" and high.update is False
    assert high.price == 210.0
    assert high.bar_time == bar_minute(0)
    assert high.confirmed_at == bar_minute(2)
    assert high.highest_high == 206.0  # highest high of bars 1..2
    assert high.option_type == "CE" and high.symbol == SYM

    f.bar(3, *WORKED[3])
    f.bar(4, *WORKED[4])
    # the first tick of bar 5 closes bar 4 -> LOW at bar 2, then the tick itself raises the running high
    sig = f.tick(bar_minute(5).replace(second=1), 213.0)
    assert kinds(sig) == ["BarClosed", "SwingDetected", "RunningHighRaised"]
    _, low, raised = sig
    assert low.swing_type == "LOW" and low.update is False
    assert low.price == 193.0
    assert low.bar_time == bar_minute(2)
    assert low.confirmed_at == bar_minute(4)
    assert low.highest_high == 212.0  # max(208, 212), bars 3..4 after the swing bar
    assert low.time == bar_minute(5).replace(second=1)
    assert raised == RunningHighRaised(symbol=SYM, price=213.0, time=bar_minute(5).replace(second=1), restart_for=None)
    assert [b.start for b in e.bars] == [bar_minute(i) for i in range(5)]


def test_break_on_the_tick_that_confirms_the_swing() -> None:
    e = engine()
    f = Feed(e)
    f.bars(WORKED)
    sig = f.tick(bar_minute(5).replace(second=1), 190.0)
    assert kinds(sig) == ["BarClosed", "SwingDetected", "SwingLowBroken"]
    broken = sig[2]
    assert broken == SwingLowBroken(
        symbol=SYM, swing_bar_time=bar_minute(2), price=193.0, ltp=190.0, time=bar_minute(5).replace(second=1)
    )
    assert e.unbroken_lows == []


def test_bar_closed_by_clock_then_running_high() -> None:
    e = engine()
    f = Feed(e)
    f.bars(WORKED)
    sig = e.on_clock(bar_minute(5).replace(second=1))
    assert sig == []  # 1 s after the minute: grace not over
    sig = e.on_clock(bar_minute(5).replace(second=2))
    assert kinds(sig) == ["BarClosed", "SwingDetected"]
    assert sig[1].price == 193.0 and sig[1].highest_high == 212.0
    assert sig[1].time == bar_minute(5).replace(second=2)
    assert f.tick(bar_minute(5).replace(second=3), 212.0) == []  # not above 212
    sig = f.tick(bar_minute(5).replace(second=4), 212.05)
    assert kinds(sig) == ["RunningHighRaised"]
    assert sig[0].price == 212.05 and sig[0].restart_for is None


def test_bar_closed_carries_session_vwap() -> None:
    e = engine()
    f = Feed(e)
    f.bars(WORKED[:2])
    sig = f.tick(bar_minute(2).replace(second=5), 200.0)
    closed = sig[0]
    assert isinstance(closed, BarClosed)
    # bar 0: ticks at cum 1010 (baseline), 1020, 1030, 1040 -> 30; bar 1: 40 (its first tick adds 10)
    assert [b.volume for b in e.bars] == [30, 40]
    expected = (tp(*WORKED[0]) * 30 + tp(*WORKED[1]) * 40) / 70
    assert closed.vwap == pytest.approx(expected, rel=1e-12)
    assert e.vwaps[-1] == closed.vwap


# --- vwap_at_swing ----------------------------------------------------------------


def test_vwap_at_swing_is_vwap_at_close_of_swing_bar() -> None:
    e = engine()
    f = Feed(e)
    f.bars(WORKED)
    sig = e.on_clock(bar_minute(5).replace(second=2))
    low = swings(sig)[0]
    # volumes 30, 40, 40 for bars 0..2
    at_bar2 = (tp(*WORKED[0]) * 30 + tp(*WORKED[1]) * 40 + tp(*WORKED[2]) * 40) / 110
    assert low.vwap_at_swing == pytest.approx(at_bar2, rel=1e-12)
    assert low.vwap_at_swing == pytest.approx(200.181818181818, rel=1e-12)
    assert e.vwaps[4] != pytest.approx(at_bar2)  # not the VWAP at confirmation


def test_vwap_at_swing_kept_on_update() -> None:
    bars = [
        (110.0, 100.0, 105.0, 100),
        (112.0, 102.0, 108.0, 100),
        (115.0, 104.0, 112.0, 100),  # LOW at bar 0, 100
        (106.0, 96.0, 98.0, 500),
        (109.0, 105.0, 107.0, 100),
        (110.0, 106.0, 109.0, 100),  # update: LOW at bar 3, 96
    ]
    e = engine()
    found = []
    for i, (h, l, c, v) in enumerate(bars):
        found += swings(e.on_history_bar(hist(i, h, l, c, v), bar_minute(i + 1)))
    assert [(s.swing_type, s.update, s.price, s.bar_time) for s in found] == [
        ("LOW", False, 100.0, bar_minute(0)),
        ("LOW", True, 96.0, bar_minute(3)),
    ]
    assert found[0].vwap_at_swing == tp(110.0, 100.0, 105.0)  # VWAP at the close of bar 0
    assert found[1].vwap_at_swing == found[0].vwap_at_swing  # frozen at formation
    assert e.vwaps[3] != pytest.approx(found[0].vwap_at_swing)
    assert found[1].highest_high == 110.0  # bars 4..5 after the new swing bar
    assert found[1].confirmed_at == bar_minute(5)


# --- highest high and the running high --------------------------------------------


SELF_CONFIRMED = [
    (110.0, 100.0, 105.0),
    (120.0, 99.0, 115.0),
    (109.0, 98.0, 106.0),
    (112.0, 97.0, 110.0),  # closes: LOW at bar 3 itself (97), the swing bar is the confirming bar
]


def test_swing_bar_is_confirming_bar_highest_high_is_its_own_high_then_restarts() -> None:
    e = engine()
    f = Feed(e)
    f.bars(SELF_CONFIRMED)
    first = bar_minute(4).replace(second=1)
    sig = f.tick(first, 104.0)
    assert kinds(sig) == ["BarClosed", "SwingDetected", "RunningHighRaised"]
    low, raised = sig[1], sig[2]
    assert (low.swing_type, low.price, low.bar_time, low.confirmed_at) == ("LOW", 97.0, bar_minute(3), bar_minute(3))
    assert low.highest_high == 112.0  # no later bar yet: the swing bar's own high
    # the first trade of the next bar restarts the running high, even below 112
    assert raised == RunningHighRaised(symbol=SYM, price=104.0, time=first, restart_for=bar_minute(3))
    assert e.unbroken_lows[0].highest_high == 104.0
    assert f.tick(bar_minute(4).replace(second=2), 103.0) == []
    assert f.tick(bar_minute(4).replace(second=3), 104.0) == []
    sig = f.tick(bar_minute(4).replace(second=4), 105.0)
    assert sig == [RunningHighRaised(symbol=SYM, price=105.0, time=bar_minute(4).replace(second=4), restart_for=None)]
    assert e.unbroken_lows[0].highest_high == 105.0


def test_restart_after_clock_close_comes_with_the_next_trade() -> None:
    e = engine()
    f = Feed(e)
    f.bars(SELF_CONFIRMED)
    sig = e.on_clock(bar_minute(4).replace(second=2))
    assert kinds(sig) == ["BarClosed", "SwingDetected"]
    assert sig[1].highest_high == 112.0
    moment = bar_minute(4).replace(second=30)
    assert f.tick(moment, 100.0) == [RunningHighRaised(symbol=SYM, price=100.0, time=moment, restart_for=bar_minute(3))]


def test_highest_high_uses_only_bars_after_the_swing_bar() -> None:
    # LOW at bar 0 (H 110) confirmed at bar 2: highest of bars 1..2 = 115, not 110 or an earlier bar
    e = engine()
    out = []
    for i, (h, l, c) in enumerate([(110.0, 100.0, 105.0), (112.0, 102.0, 108.0), (115.0, 104.0, 112.0)]):
        out += e.on_history_bar(hist(i, h, l, c), bar_minute(i + 1))
    (low,) = swings(out)
    assert (low.price, low.highest_high) == (100.0, 115.0)


def test_no_running_high_without_unbroken_low() -> None:
    e = engine()
    f = Feed(e)
    assert [s for s in f.bars(WORKED[:3]) if isinstance(s, RunningHighRaised)] == []
    # the tick closing bar 2 brings the swing HIGH, and a high trade raises nothing without a low
    assert kinds(f.tick(bar_minute(3).replace(second=5), 500.0)) == ["BarClosed", "SwingDetected"]
    assert f.tick(bar_minute(3).replace(second=6), 501.0) == []


# --- breaks ---------------------------------------------------------------------


def test_break_only_strictly_below() -> None:
    e = engine()
    f = Feed(e)
    f.bars(WORKED)
    e.on_clock(bar_minute(5).replace(second=2))
    assert f.tick(bar_minute(5).replace(second=10), 193.0) == []  # at the swing low: not a break
    assert len(e.unbroken_lows) == 1
    sig = f.tick(bar_minute(5).replace(second=11), 192.95)
    assert sig == [
        SwingLowBroken(
            symbol=SYM, swing_bar_time=bar_minute(2), price=193.0, ltp=192.95, time=bar_minute(5).replace(second=11)
        )
    ]
    assert e.unbroken_lows == []
    assert f.tick(bar_minute(5).replace(second=12), 150.0) == []  # broken once, never again


LOW_HIGH_LOW = [
    (110.0, 100.0, 105.0),
    (112.0, 102.0, 108.0),
    (115.0, 104.0, 112.0),  # LOW at bar 0, 100
    (113.0, 103.0, 110.0),
    (114.0, 103.0, 111.0),  # HIGH at bar 2, 115
    (116.0, 109.0, 115.0),
    (117.0, 112.0, 116.0),  # LOW at bar 3, 103
]


def test_several_unbroken_lows_break_separately() -> None:
    e = engine()
    f = Feed(e)
    out = f.bars(LOW_HIGH_LOW)
    out += e.on_clock(bar_minute(7).replace(second=2))
    assert [(s.swing_type, s.price, s.bar_time) for s in swings(out)] == [
        ("LOW", 100.0, bar_minute(0)),
        ("HIGH", 115.0, bar_minute(2)),
        ("LOW", 103.0, bar_minute(3)),
    ]
    assert not any(isinstance(s, SwingLowBroken) for s in out)
    assert [low.price for low in e.unbroken_lows] == [100.0, 103.0]
    sig = f.tick(bar_minute(7).replace(second=10), 100.0)  # below 103, not below 100
    assert kinds(sig) == ["SwingLowBroken"]
    assert (sig[0].price, sig[0].swing_bar_time) == (103.0, bar_minute(3))
    assert [low.price for low in e.unbroken_lows] == [100.0]
    sig = f.tick(bar_minute(7).replace(second=11), 99.95)
    assert kinds(sig) == ["SwingLowBroken"]
    assert (sig[0].price, sig[0].swing_bar_time, sig[0].ltp) == (100.0, bar_minute(0), 99.95)
    assert e.unbroken_lows == []


def test_one_trade_breaking_several_lows_breaks_each_oldest_first() -> None:
    e = engine()
    f = Feed(e)
    f.bars(LOW_HIGH_LOW)
    e.on_clock(bar_minute(7).replace(second=2))
    sig = f.tick(bar_minute(7).replace(second=10), 99.0)
    assert kinds(sig) == ["SwingLowBroken", "SwingLowBroken"]
    assert [(s.price, s.swing_bar_time, s.ltp) for s in sig] == [(100.0, bar_minute(0), 99.0), (103.0, bar_minute(3), 99.0)]


def test_running_high_follows_newest_unbroken_low() -> None:
    e = engine()
    f = Feed(e)
    f.bars(LOW_HIGH_LOW)
    sig = e.on_clock(bar_minute(7).replace(second=2))
    assert swings(sig)[0].highest_high == 117.0  # bars 4..6 after bar 3
    assert f.tick(bar_minute(7).replace(second=10), 117.0) == []
    sig = f.tick(bar_minute(7).replace(second=11), 117.5)
    assert sig == [RunningHighRaised(symbol=SYM, price=117.5, time=bar_minute(7).replace(second=11), restart_for=None)]
    assert [low.highest_high for low in e.unbroken_lows] == [117.5, 117.5]


# --- warm-up from history ----------------------------------------------------------


def test_history_path_worked_example() -> None:
    e = engine()
    out = []
    for i, (h, l, c) in enumerate(WORKED):
        sig = e.on_history_bar(hist(i, h, l, c, volume=100), bar_minute(i + 1))
        out.append(sig)
    assert [kinds(s) for s in out] == [
        ["BarClosed"],
        ["BarClosed"],
        ["BarClosed", "SwingDetected"],
        ["BarClosed"],
        ["BarClosed", "SwingDetected"],
    ]
    low = out[4][1]
    assert (low.swing_type, low.price, low.bar_time, low.confirmed_at, low.highest_high) == (
        "LOW", 193.0, bar_minute(2), bar_minute(4), 212.0,
    )
    assert low.time == bar_minute(5)
    # equal volumes: VWAP at bar 2 is the mean of the first three typical prices
    assert low.vwap_at_swing == pytest.approx(sum(tp(*b) for b in WORKED[:3]) / 3, rel=1e-12)
    assert e.last_price == 211.0


def test_history_bar_trades_before_it_closes() -> None:
    e = engine()
    for i, (h, l, c) in enumerate(WORKED):
        e.on_history_bar(hist(i, h, l, c), bar_minute(i + 1))
    # next bar: its high raises the running high, its low breaks the swing low, then it closes
    sig = e.on_history_bar(hist(5, 214.0, 190.0, 191.0, o=213.0), bar_minute(6))
    assert kinds(sig) == ["RunningHighRaised", "SwingLowBroken", "BarClosed"]
    assert sig[0].price == 214.0
    assert (sig[1].price, sig[1].ltp) == (193.0, 190.0)
    assert sig[2].bar.start == bar_minute(5)


def test_history_then_ticks() -> None:
    e = engine()
    for i, (h, l, c) in enumerate(WORKED):
        e.on_history_bar(hist(i, h, l, c), bar_minute(i + 1))
    # a stale history bar or a tick of a minute already warmed up is dropped and counted
    assert e.on_history_bar(hist(4, 212.0, 205.0, 211.0), bar_minute(6)) == []
    assert e.builder.dropped_ticks == 1
    assert e.on_tick(bar_minute(4).replace(second=59), 150.0, 10_000) == []
    assert e.builder.dropped_ticks == 2
    assert len(e.bars) == 5
    # live ticks continue the session; the first tick only sets the volume baseline
    assert e.on_tick(bar_minute(5).replace(second=1), 211.0, 10_000) == []
    e.on_tick(bar_minute(5).replace(second=2), 211.5, 10_050)
    sig = e.on_clock(bar_minute(6).replace(second=2))
    assert kinds(sig) == ["BarClosed"]
    assert sig[0].bar.volume == 50
    expected = (sum(tp(*b) for b in WORKED) * 100 + tp(211.5, 211.0, 211.5) * 50) / 550
    assert sig[0].vwap == pytest.approx(expected, rel=1e-12)
    assert len(e.bars) == 6


# --- strategy fidelity: vwap_at_swing of a HIGH, the session's last bar, impossible ticks ----------


def test_vwap_at_swing_of_a_high_is_kept_on_update() -> None:
    """strategy.md §3: LOW or HIGH, the VWAP at the close of the swing bar, frozen at creation."""
    bars = [
        (110.0, 100.0, 105.0, 100),
        (108.0, 98.0, 102.0, 100),
        (106.0, 96.0, 100.0, 100),  # HIGH at bar 0, 110
        (120.0, 97.0, 99.0, 500),
        (118.0, 95.0, 97.0, 100),  # update: HIGH at bar 3, 120
    ]
    e = engine()
    found = []
    for i, (h, l, c, v) in enumerate(bars):
        found += swings(e.on_history_bar(hist(i, h, l, c, v), bar_minute(i + 1)))
    assert [(s.swing_type, s.update, s.price, s.bar_time) for s in found] == [
        ("HIGH", False, 110.0, bar_minute(0)),
        ("HIGH", True, 120.0, bar_minute(3)),
    ]
    assert found[0].vwap_at_swing == tp(110.0, 100.0, 105.0)
    assert found[1].vwap_at_swing == found[0].vwap_at_swing
    assert e.vwaps[3] != pytest.approx(found[0].vwap_at_swing)


def test_the_close_closes_the_bar_in_progress_and_it_can_confirm_a_swing() -> None:
    """strategy.md §2: at the close the last bar closes first, then the session ends."""
    e = engine()
    feed = Feed(e)
    feed.bars(WORKED[:4])
    feed.bar(4, *WORKED[4])  # bar 4 is in progress: its close would confirm the swing LOW
    assert swings(e.on_clock(bar_minute(5))) == []  # no grace close before minute end + 2 s
    signals = e.close_session(bar_minute(5))
    assert kinds(signals) == ["BarClosed", "SwingDetected"]
    [low] = swings(signals)
    assert (low.swing_type, low.price, low.confirmed_at, low.time) == ("LOW", 193.0, bar_minute(4), bar_minute(5))
    # the session is over: later ticks and bars change nothing
    assert e.on_tick(bar_minute(5).replace(second=5), 150.0, 99_999) == []
    assert e.last_rejection == "after_close"
    assert e.on_history_bar(hist(5, 200.0, 190.0, 195.0), bar_minute(6)) == []
    assert len(e.bars) == 5


@pytest.mark.parametrize(
    ("moment", "price", "volume", "reason"),
    [
        (t(20, 5), float("nan"), 1000, "price_not_finite"),
        (t(20, 5), float("inf"), 1000, "price_not_finite"),
        (t(20, 5), 0.0, 1000, "price_not_positive"),
        (t(20, 5), -3.0, 1000, "price_not_positive"),
        (t(20, 5), 15_500.0, 1000, "price_above_strike"),
        (t(20, 5), 101.0, -1, "volume_negative"),
        (datetime(5138, 6, 11, 9, 20, 5, tzinfo=IST), 101.0, 1000, "other_day"),
        (datetime(2021, 6, 10, 15, 0, tzinfo=IST), 101.0, 1000, "other_day"),
        (t(20, 16), 101.0, 1000, "ahead"),
    ],
)
def test_a_tick_that_cannot_be_real_changes_nothing(moment: datetime, price: float, volume: int, reason: str) -> None:
    """strategy.md §2; the year-5138 tick used to freeze the symbol's bars for the day."""
    e = engine()
    now = t(20, 10)
    e.on_tick(t(20, 1), 100.0, 500, now)
    assert e.on_tick(moment, price, volume, now) == []
    assert (e.last_rejection, e.rejected[reason]) == (reason, 1)
    # the symbol carries on as if it never came
    e.on_tick(t(20, 9), 102.0, 600, now)
    [closed] = e.on_tick(t(21, 1), 101.0, 700, t(21, 1))
    assert isinstance(closed, BarClosed)
    assert (closed.bar.high, closed.bar.low, closed.bar.close, closed.bar.volume) == (102.0, 100.0, 102.0, 100)
    assert e.last_price == 101.0 and e.last_rejection == ""


def test_a_tick_up_to_five_seconds_ahead_of_the_clock_is_applied() -> None:
    e = engine()
    e.on_tick(t(20, 15), 100.0, 500, t(20, 10))
    assert e.last_rejection == "" and e.last_price == 100.0
