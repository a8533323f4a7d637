"""session_ticks / bar_prices: four ticks per bar that rebuild the recorded bar exactly."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest

from messages.base import IST
from messages.market import Bar, Tick
from replay.data import BarRow, load_session
from replay.ticks import TICK_OFFSETS, bar_prices, session_ticks
from strategy.bars import BarBuilder

ROOT = Path(__file__).resolve().parents[2]  # the project root
OPTIONS_0611 = ROOT.parent / "shared" / "data" / "nifty_options_2021-06-11.csv.gz"

CE = "NIFTY17JUN2115700CE"
PE = "NIFTY17JUN2115700PE"
T915 = datetime(2021, 6, 11, 9, 15, tzinfo=IST)


def bar(symbol: str, minute: int, o: float, h: float, low: float, c: float, v: int) -> BarRow:
    return BarRow(T915 + timedelta(minutes=minute), symbol, o, h, low, c, v)


def at(minute: int, second: int) -> datetime:
    return T915 + timedelta(minutes=minute, seconds=second)


def rows(ticks: list[Tick]) -> list[tuple[str, datetime, float, int | None]]:
    return [(t.symbol, t.time, t.ltp, t.volume) for t in ticks]


def rebuild(ticks: list[Tick]) -> dict[tuple[str, datetime], Bar]:
    """Bars from ticks through one BarBuilder per symbol (no grace needed: closed at the end)."""
    builders: dict[str, BarBuilder] = {}
    out: dict[tuple[str, datetime], Bar] = {}
    last_time = None
    for t in ticks:
        builder = builders.setdefault(t.symbol, BarBuilder(t.symbol, grace_seconds=2.0))
        closed, applied = builder.on_tick(t.time, t.ltp, t.volume)
        assert applied, f"tick dropped: {t}"
        if closed is not None:
            out[(closed.symbol, closed.start)] = closed
        last_time = t.time
    assert last_time is not None
    for builder in builders.values():
        closed = builder.close_due(last_time + timedelta(minutes=2))
        assert closed is not None
        out[(closed.symbol, closed.start)] = closed
        assert builder.dropped_ticks == 0
    return out


# --- bar_prices ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ohlc", "expected"),
    [
        ((100.0, 101.0, 95.0, 98.0), (100.0, 101.0, 95.0, 98.0)),  # high nearer
        ((100.0, 105.0, 99.0, 102.0), (100.0, 99.0, 105.0, 102.0)),  # low nearer
        ((100.0, 102.0, 98.0, 99.0), (100.0, 102.0, 98.0, 99.0)),  # tie: high first
        ((100.0, 100.0, 90.0, 95.0), (100.0, 100.0, 90.0, 95.0)),  # open at the high
        ((100.0, 110.0, 100.0, 105.0), (100.0, 100.0, 110.0, 105.0)),  # open at the low
        ((50.0, 50.0, 50.0, 50.0), (50.0, 50.0, 50.0, 50.0)),  # flat bar
        ((100.1, 100.21, 100.0, 100.1), (100.1, 100.0, 100.21, 100.1)),  # low nearer by one paisa
        ((100.1, 100.2, 99.99, 100.1), (100.1, 100.2, 99.99, 100.1)),  # high nearer by one paisa
    ],
    ids=["high-nearer", "low-nearer", "tie", "open-is-high", "open-is-low", "flat", "low-by-a-paisa", "high-by-a-paisa"],
)
def test_bar_prices_order(ohlc: tuple[float, float, float, float], expected: tuple[float, float, float, float]) -> None:
    assert bar_prices(bar(CE, 0, *ohlc, 0)) == expected


@pytest.mark.parametrize(
    "ohlc",
    [
        (100.1, 100.2, 100.0, 100.1),  # 100.2-100.1 > 100.1-100.0 in binary floats
        (215.65, 231.5, 199.8, 220.0),
        (0.15, 0.25, 0.05, 0.1),
        (42.6, 49.95, 35.25, 40.0),
    ],
)
def test_bar_prices_tie_in_rupees_is_a_tie_despite_float_noise(ohlc: tuple[float, float, float, float]) -> None:
    o, h, low, c = ohlc
    assert round(h - o, 2) == round(o - low, 2)  # an exact tie in paise
    assert bar_prices(bar(CE, 0, *ohlc, 0)) == (o, h, low, c)


# --- session_ticks -------------------------------------------------------------------


def test_four_ticks_per_bar_at_00_15_30_45() -> None:
    ticks = list(session_ticks([bar(CE, 0, 100.0, 104.0, 99.0, 101.0, 300)]))
    assert TICK_OFFSETS == (0, 15, 30, 45)
    assert rows(ticks) == [
        (CE, at(0, 0), 100.0, 0),
        (CE, at(0, 15), 99.0, 100),
        (CE, at(0, 30), 104.0, 200),
        (CE, at(0, 45), 101.0, 300),
    ]


def test_ticks_of_one_instant_go_in_symbol_order_and_minutes_in_time_order() -> None:
    bars = [
        bar(CE, 0, 100.0, 101.0, 99.5, 100.5, 75),
        bar(PE, 0, 50.0, 52.0, 49.5, 51.0, 150),
        bar(CE, 1, 100.5, 100.5, 98.0, 98.5, 0),
        bar(PE, 1, 51.0, 53.0, 51.0, 52.0, 10),
    ]
    ticks = list(session_ticks(bars))
    assert rows(ticks) == [
        (CE, at(0, 0), 100.0, 0),
        (PE, at(0, 0), 50.0, 0),
        (CE, at(0, 15), 99.5, 25),
        (PE, at(0, 15), 49.5, 50),
        (CE, at(0, 30), 101.0, 50),
        (PE, at(0, 30), 52.0, 100),
        (CE, at(0, 45), 100.5, 75),
        (PE, at(0, 45), 51.0, 150),
        (CE, at(1, 0), 100.5, 75),
        (PE, at(1, 0), 51.0, 150),
        (CE, at(1, 15), 100.5, 75),
        (PE, at(1, 15), 51.0, 153),
        (CE, at(1, 30), 98.0, 75),
        (PE, at(1, 30), 53.0, 156),
        (CE, at(1, 45), 98.5, 75),
        (PE, at(1, 45), 52.0, 160),
    ]


def test_symbol_order_within_an_instant_is_by_name_even_if_the_input_is_not() -> None:
    bars = [bar(PE, 0, 50.0, 50.0, 50.0, 50.0, 0), bar(CE, 0, 100.0, 100.0, 100.0, 100.0, 0)]
    assert [t.symbol for t in session_ticks(bars)][:2] == [CE, PE]


def test_cumulative_volume_carries_over_a_missing_minute() -> None:
    bars = [
        bar(CE, 0, 10.0, 10.0, 10.0, 10.0, 7),
        bar(PE, 1, 20.0, 20.0, 20.0, 20.0, 3),  # CE has no bar in minute 1
        bar(CE, 2, 10.0, 10.0, 10.0, 10.0, 5),
    ]
    volumes = [(t.symbol, t.time, t.volume) for t in session_ticks(bars)]
    assert [v for s, _, v in volumes if s == CE] == [0, 2, 4, 7, 7, 8, 10, 12]
    assert [v for s, _, v in volumes if s == PE] == [0, 1, 2, 3]


def test_ticks_are_valid_tick_messages() -> None:
    for t in session_ticks([bar(CE, 0, 100.0, 104.0, 99.0, 101.0, 300)]):
        assert isinstance(t, Tick)
        assert Tick.model_validate(t.model_dump()) == t
        assert t.time.utcoffset() == timedelta(hours=5, minutes=30)


def test_empty_session_has_no_ticks() -> None:
    assert list(session_ticks([])) == []


def test_rebuilt_small_bars_match() -> None:
    bars = [
        bar(CE, 0, 100.0, 104.0, 99.0, 101.0, 301),
        bar(CE, 1, 101.0, 101.0, 97.05, 97.05, 2),
        bar(CE, 2, 97.0, 98.0, 96.0, 97.5, 1),
    ]
    rebuilt = rebuild(list(session_ticks(bars)))
    got = [(b.start, b.open, b.high, b.low, b.close, b.volume) for b in rebuilt.values()]
    assert got == [(b.start, b.open, b.high, b.low, b.close, b.volume) for b in bars]


# --- the real file -------------------------------------------------------------------


@pytest.fixture(scope="module")
def real():
    session = load_session(OPTIONS_0611)
    return session, list(session_ticks(session.bars))


def test_real_file_tick_count_and_time_order(real) -> None:
    session, ticks = real
    assert len(ticks) == 4 * len(session.bars) == 18000
    keys = [(t.time, t.symbol) for t in ticks]
    assert keys == sorted(keys)
    assert {t.time.second for t in ticks} == {0, 15, 30, 45}
    assert ticks[0].time == T915 and ticks[-1].time == datetime(2021, 6, 11, 15, 29, 45, tzinfo=IST)


def test_real_file_cumulative_volume_never_falls(real) -> None:
    _, ticks = real
    last: dict[str, int] = {}
    for t in ticks:
        assert t.volume is not None
        assert t.volume >= last.get(t.symbol, 0)
        last[t.symbol] = t.volume


def test_real_file_bars_rebuilt_from_ticks_equal_the_recorded_bars(real) -> None:
    session, ticks = real
    rebuilt = rebuild(ticks)
    assert len(rebuilt) == len(session.bars) == 4500
    mismatches = []
    for b in session.bars:
        r = rebuilt[(b.symbol, b.start)]
        if (r.open, r.high, r.low, r.close, r.volume) != (b.open, b.high, b.low, b.close, b.volume):
            mismatches.append((b, r))
    assert mismatches == []


def test_real_file_second_and_third_ticks_follow_the_nearer_extreme(real) -> None:
    # the rule, checked in paise so that float noise cannot decide a tie
    session, ticks = real
    for i, b in enumerate(session.bars):
        minute_index, symbol_index = divmod(i, len(session.symbols))
        base = minute_index * 4 * len(session.symbols) + symbol_index
        prices = [ticks[base + k * len(session.symbols)].ltp for k in range(4)]
        up, down = round((b.high - b.open) * 100), round((b.open - b.low) * 100)
        first_extreme = b.high if up <= down else b.low
        second_extreme = b.low if up <= down else b.high
        assert prices == [b.open, first_extreme, second_extreme, b.close], b
