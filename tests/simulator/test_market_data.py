"""The simulator's market data: a recorded session file and the seeded synthetic session."""

from __future__ import annotations

import csv
import gzip
import math
from collections import Counter
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from config.settings import Settings
from messages.base import IST
from messages.market import Bar
from messages.signals import SwingDetected
from replay.data import BarRow, load_session
from replay.ticks import session_ticks
from simulator.market import MarketData, SimTick
from simulator.recorded import market_from_recorded, parity_spot, parse_option_symbol
from simulator.synthetic import (
    RISK_FREE_RATE,
    SESSION_SECONDS,
    black_scholes,
    option_symbol,
    smile_vol,
    synthetic_market,
    years_to_expiry,
)
from strategy.bars import BarBuilder
from strategy.pool import CandidatePool
from strategy.symbol_engine import SymbolEngine

ROOT = Path(__file__).resolve().parents[2]  # the project root
DATA = ROOT.parent / "shared" / "data"  # read in place, never copied
OPTIONS_0611 = DATA / "nifty_options_2021-06-11.csv.gz"
SPOT_0611 = DATA / "nifty_spot_2021-06-11.csv.gz"
SPOT_0614 = DATA / "nifty_spot_2021-06-14.csv.gz"

DAY = date(2025, 8, 29)
OPEN = datetime(2025, 8, 29, 9, 15, tzinfo=IST)
CLOSE = datetime(2025, 8, 29, 15, 30, tzinfo=IST)


def tick_rows(ticks) -> list[tuple[str, datetime, float, int]]:
    return [(t.symbol, t.time, t.ltp, t.volume or 0) for t in ticks]


def bar_tuple(b) -> tuple:
    return (b.symbol, b.start, b.open, b.high, b.low, b.close, b.volume)


def on_grid(price: float, tick: float = 0.05) -> bool:
    return abs(price / tick - round(price / tick)) < 1e-6


def core_activity(market: MarketData, settings: Settings) -> Counter:
    """Run the pure core (one SymbolEngine per option + CandidatePool) over the option ticks; count decisions.

    The same loop as bench/replay.py's ``core_rate``. Keys: ``swing_low``,
    ``added`` (stage 1 passed), ``qualified`` (stage 2 passed), ``best``
    (a best CE/PE existed after a tick that signalled), ``rejected:<reason>``.
    """
    engines = {
        symbol: SymbolEngine(symbol, settings.bar_grace_seconds)
        for symbol, inst in market.instruments.items()
        if inst.exchange == "NFO"
    }
    pool = CandidatePool(settings)
    counts: Counter = Counter()
    for tick in market.ticks:
        engine = engines.get(tick.symbol)
        if engine is None:
            continue
        signals = engine.on_tick(tick.time, tick.ltp, tick.volume)
        for signal in signals:
            if isinstance(signal, SwingDetected):
                counts["swing_low"] += signal.swing_type == "LOW"
            for d in pool.on_signal(signal):
                counts[d.decision if d.decision != "rejected" else f"rejected:{d.reason}"] += 1
        if signals:
            counts["best"] += pool.best(engine.option_type) is not None
    return counts


# === recorded ========================================================================================


@pytest.fixture(scope="module")
def session_0611():
    return load_session(OPTIONS_0611)


@pytest.fixture(scope="module")
def with_spot() -> MarketData:
    return market_from_recorded(OPTIONS_0611, spot_path=SPOT_0611, lot_size=75)


@pytest.fixture(scope="module")
def parity_only() -> MarketData:
    return market_from_recorded(OPTIONS_0611, lot_size=75)


@pytest.fixture(scope="module")
def spot_rows_0611():
    """The recorded spot bars of 2021-06-11 as (start, o, h, l, c), read straight from the file."""
    with gzip.open(SPOT_0611, "rt", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    return [
        (datetime.fromisoformat(r["timestamp"]), float(r["open"]), float(r["high"]), float(r["low"]), float(r["close"]))
        for r in rows
    ]


def traded(market: MarketData) -> dict:
    """The options the session trades (it has their bars), not the broker's other listed strikes."""
    return {s: i for s, i in market.instruments.items() if i.exchange == "NFO" and s in market.bars}


@pytest.mark.parametrize("which", ["with_spot", "parity_only"])
def test_recorded_instruments_are_the_12_options_and_the_index(which: str, request) -> None:
    market: MarketData = request.getfixturevalue(which)
    assert market.day == date(2021, 6, 11) and market.expiry == date(2021, 6, 17)
    assert market.underlying == "NIFTY"
    options = traded(market)
    assert len(options) == 12 and len(market.bars) == 13
    assert {i.strike for i in options.values()} == {15600.0 + 50 * k for k in range(6)}
    assert Counter(i.option_type for i in options.values()) == {"CE": 6, "PE": 6}
    ce = options["NIFTY17JUN2115700CE"]
    assert (ce.expiry, ce.strike, ce.option_type, ce.lot_size, ce.tick_size, ce.name) == (
        date(2021, 6, 17), 15700.0, "CE", 75, 0.05, "NIFTY"
    )
    index = market.instruments["NIFTY"]
    assert (index.exchange, index.lot_size, index.expiry, index.strike, index.option_type) == (
        "NSE_INDEX", 1, None, None, None
    )


@pytest.mark.parametrize("which", ["with_spot", "parity_only"])
def test_recorded_option_ticks_are_exactly_the_replay_ticks(which: str, request, session_0611) -> None:
    market: MarketData = request.getfixturevalue(which)
    options = [t for t in market.ticks if t.exchange == "NFO"]
    assert tick_rows(options) == tick_rows(session_ticks(session_0611.bars))
    assert all(isinstance(t, SimTick) for t in market.ticks)
    keys = [(t.time, t.symbol) for t in market.ticks]
    assert keys == sorted(keys)


@pytest.mark.parametrize("which", ["with_spot", "parity_only"])
def test_recorded_option_bars_are_the_file_rows(which: str, request, session_0611) -> None:
    market: MarketData = request.getfixturevalue(which)
    got = [bar_tuple(b) for s, bars in market.bars.items() if s != "NIFTY" for b in bars]
    want = [bar_tuple(r) for r in session_0611.bars]
    assert sorted(got, key=lambda r: (r[1], r[0])) == want
    assert all(isinstance(b, Bar) for bars in market.bars.values() for b in bars)
    assert all(len(market.bars[s]) == 375 for s in traded(market))


def test_recorded_index_from_the_spot_file(with_spot: MarketData, spot_rows_0611) -> None:
    assert with_spot.index_source == "recorded"
    bars = with_spot.bars["NIFTY"]
    assert [(b.start, b.open, b.high, b.low, b.close, b.volume) for b in bars] == [r + (0,) for r in spot_rows_0611]
    index_ticks = [t for t in with_spot.ticks if t.symbol == "NIFTY"]
    assert {t.exchange for t in index_ticks} == {"NSE_INDEX"}
    spot_bars = [BarRow(start, "NIFTY", o, h, low, c, 0) for start, o, h, low, c in spot_rows_0611]
    assert tick_rows(index_ticks) == tick_rows(session_ticks(spot_bars))
    assert len(with_spot.ticks) == 4 * (12 + 1) * 375


def test_recorded_index_by_put_call_parity_is_close_to_the_recorded_spot(
    parity_only: MarketData, spot_rows_0611
) -> None:
    assert parity_only.index_source == "put-call parity"
    bars = parity_only.bars["NIFTY"]
    ticks = [t for t in parity_only.ticks if t.symbol == "NIFTY"]
    assert len(bars) == len(ticks) == 375
    # one tick per minute at :00, a flat bar with the same value
    assert all(t.time.second == 0 and t.exchange == "NSE_INDEX" and t.volume == 0 for t in ticks)
    assert [(t.time, t.ltp) for t in ticks] == [(b.start, b.close) for b in bars]
    assert all(b.open == b.high == b.low == b.close and b.volume == 0 for b in bars)
    spot = {start: c for start, _, _, _, c in spot_rows_0611}
    errors = [b.close - spot[b.start] for b in bars]
    # measured: max |error| 11.2 points, mean |error| 3.3, mean error +0.05 on a spot of ~15,800
    assert max(map(abs, errors)) < 15.0
    assert sum(map(abs, errors)) / len(errors) < 5.0
    assert abs(sum(errors) / len(errors)) < 2.0


def test_parity_picks_the_strike_where_call_and_put_are_closest() -> None:
    t = datetime(2021, 6, 11, 9, 15, tzinfo=IST)
    rows = [
        BarRow(t, "NIFTY17JUN2115700CE", 1, 1, 1, 130.0, 0),
        BarRow(t, "NIFTY17JUN2115700PE", 1, 1, 1, 30.0, 0),  # |C-P| = 100
        BarRow(t, "NIFTY17JUN2115800CE", 1, 1, 1, 70.0, 0),
        BarRow(t, "NIFTY17JUN2115800PE", 1, 1, 1, 68.0, 0),  # |C-P| = 2: this one
        BarRow(t, "NIFTY17JUN2115900CE", 1, 1, 1, 20.0, 0),  # no PE: ignored
        BarRow(t + timedelta(minutes=1), "NIFTY17JUN2115900CE", 1, 1, 1, 21.0, 0),  # no pair this minute
    ]
    assert parity_spot(rows) == [(t, 15802.0)]


def test_parse_option_symbol() -> None:
    parts = parse_option_symbol("NIFTY02SEP2524500CE")
    assert (parts.name, parts.expiry, parts.strike, parts.option_type) == ("NIFTY", date(2025, 9, 2), 24500.0, "CE")
    assert parse_option_symbol("BANKNIFTY30DEC2552000PE").name == "BANKNIFTY"
    for bad in ["NIFTY", "NIFTY02XYZ2524500CE", "NIFTY31FEB2524500CE", "NIFTY02SEP2524500FUT"]:
        with pytest.raises(ValueError):
            parse_option_symbol(bad)


def test_recorded_errors_name_the_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.csv.gz"
    with pytest.raises(ValueError, match="nope.csv.gz"):
        market_from_recorded(missing, lot_size=75)
    with pytest.raises(ValueError, match="nifty_spot_2021-06-14"):  # another day's spot
        market_from_recorded(OPTIONS_0611, spot_path=SPOT_0614, lot_size=75)
    with pytest.raises(ValueError, match="nifty_options_2021-06-11.*no rows for the index"):  # not a spot file
        market_from_recorded(OPTIONS_0611, spot_path=OPTIONS_0611, lot_size=75)
    header = "timestamp,symbol,open,high,low,close,volume,oi\n"
    bad_symbol = tmp_path / "bad_symbol.csv"
    bad_symbol.write_text(header + "2021-06-11T09:15:00+05:30,NIFTYXX15700CE,1,1,1,1,0,\n")
    with pytest.raises(ValueError, match="bad_symbol.csv.*NIFTYXX15700CE"):
        market_from_recorded(bad_symbol, lot_size=75)
    two_expiries = tmp_path / "two_expiries.csv"
    two_expiries.write_text(
        header
        + "2021-06-11T09:15:00+05:30,NIFTY17JUN2115700CE,1,1,1,1,0,\n"
        + "2021-06-11T09:15:00+05:30,NIFTY24JUN2115700PE,1,1,1,1,0,\n"
    )
    with pytest.raises(ValueError, match="two_expiries.csv.*one expiry"):
        market_from_recorded(two_expiries, lot_size=75)
    calls_only = tmp_path / "calls_only.csv"
    calls_only.write_text(header + "2021-06-11T09:15:00+05:30,NIFTY17JUN2115700CE,1,1,1,1,0,\n")
    with pytest.raises(ValueError, match="calls_only.csv.*put-call parity"):
        market_from_recorded(calls_only, lot_size=75)
    bad_spot = tmp_path / "bad_spot.csv"
    bad_spot.write_text(header + "2021-06-11T09:15:00+05:30,NIFTY,10,9,8,7,0,\n")
    with pytest.raises(ValueError, match="bad_spot.csv:2"):
        market_from_recorded(OPTIONS_0611, spot_path=bad_spot, lot_size=75)


# === synthetic =======================================================================================


@pytest.fixture(scope="module")
def synth() -> MarketData:
    return synthetic_market(1, day=DAY)


def test_synthetic_same_seed_gives_identical_data(synth: MarketData) -> None:
    again = synthetic_market(1, day=DAY)
    assert again.ticks == synth.ticks
    assert again.bars == synth.bars
    assert again.instruments == synth.instruments
    assert again == synth


def test_synthetic_different_seeds_differ(synth: MarketData) -> None:
    other = synthetic_market(2, day=DAY, strike_window=1)
    mine = synthetic_market(1, day=DAY, strike_window=1)
    assert other.instruments == mine.instruments  # same universe...
    assert tick_rows(other.ticks) != tick_rows(mine.ticks)  # ...different trades
    assert [b.close for b in other.bars["NIFTY"]] != [b.close for b in mine.bars["NIFTY"]]
    assert tick_rows(mine.ticks) == tick_rows(t for t in synth.ticks if t.symbol in mine.bars)


def test_synthetic_universe(synth: MarketData) -> None:
    assert (synth.day, synth.expiry, synth.underlying, synth.index_source) == (
        DAY, date(2025, 9, 1), "NIFTY", "synthetic"
    )
    options = traded(synth)
    assert len(options) == 42 and len(synth.bars) == 43
    assert {i.strike for i in options.values()} == {24500.0 + 50 * k for k in range(-10, 11)}
    for symbol, inst in options.items():
        assert symbol == option_symbol(inst.expiry, inst.strike, inst.option_type)
        assert (inst.lot_size, inst.tick_size, inst.expiry, inst.name) == (75, 0.05, date(2025, 9, 1), "NIFTY")
        parts = parse_option_symbol(symbol)
        assert (parts.expiry, parts.strike, parts.option_type) == (inst.expiry, inst.strike, inst.option_type)
    assert "NIFTY01SEP2524500CE" in options and "NIFTY01SEP2524000PE" in options
    index = synth.instruments["NIFTY"]
    assert (index.exchange, index.lot_size, index.option_type) == ("NSE_INDEX", 1, None)
    assert set(synth.bars) <= set(synth.instruments)


def test_the_broker_lists_untraded_strikes_beyond_the_traded_ones(synth: MarketData) -> None:
    """A real broker lists every strike of the expiry: a restart whose ATM has moved finds its universe."""
    listed = {s: i for s, i in synth.instruments.items() if i.exchange == "NFO" and s not in synth.bars}
    assert {i.strike for i in listed.values()} == {24500.0 + 50 * k for k in range(-30, 31) if abs(k) > 10}
    assert len(listed) == 2 * 40 and not any(t.symbol in listed for t in synth.ticks)


def test_synthetic_symbol_format_and_expiry_rounding() -> None:
    assert option_symbol(date(2025, 9, 2), 24500, "CE") == "NIFTY02SEP2524500CE"
    assert option_symbol(date(2025, 12, 30), 26000.0, "PE") == "NIFTY30DEC2526000PE"
    small = synthetic_market(3, day=date(2025, 8, 28), spot_open=24512.0, strike_window=1, days_to_expiry=4.6)
    assert small.expiry == date(2025, 9, 2)
    assert sorted(s for s in small.bars if s != "NIFTY") == [
        "NIFTY02SEP2524450CE", "NIFTY02SEP2524450PE", "NIFTY02SEP2524500CE",
        "NIFTY02SEP2524500PE", "NIFTY02SEP2524550CE", "NIFTY02SEP2524550PE",
    ]  # fmt: skip
    assert synthetic_market(3, day=DAY, strike_window=0, days_to_expiry=0.0).expiry == DAY


def test_synthetic_ticks_sorted_inside_the_session_on_the_grid(synth: MarketData) -> None:
    keys = [(t.time, t.symbol) for t in synth.ticks]
    assert keys == sorted(keys)
    assert len(set(keys)) == len(keys)
    assert synth.ticks[0].time >= OPEN and synth.ticks[-1].time < CLOSE
    assert all(t.time.utcoffset() == timedelta(hours=5, minutes=30) for t in synth.ticks[:: 997])
    for t in synth.ticks:
        assert t.ltp >= 0.05 and on_grid(t.ltp), t
        assert t.exchange == ("NSE_INDEX" if t.symbol == "NIFTY" else "NFO")


def test_synthetic_trade_rhythm_and_volume(synth: MarketData) -> None:
    by_symbol: dict[str, list[SimTick]] = {}
    for t in synth.ticks:
        by_symbol.setdefault(t.symbol, []).append(t)
    index = by_symbol.pop("NIFTY")
    gaps = {(b.time - a.time).total_seconds() for a, b in zip(index, index[1:])}
    assert gaps <= {1.0, 2.0, 3.0} and {t.volume for t in index} == {0}
    firsts = set()
    for symbol, ticks in by_symbol.items():
        # about one print every 5 s: 22,500 s / 5 = 4,500
        assert 4000 <= len(ticks) <= 5000, (symbol, len(ticks))
        firsts.add(ticks[0].time)
        assert ticks[0].volume == 0  # the opening quote is the baseline
        steps = [b.volume - a.volume for a, b in zip(ticks, ticks[1:])]
        assert min(steps) >= 75 and all(step % 75 == 0 for step in steps)
    assert len(firsts) > 30  # symbols do not all print at the same instants
    atm = by_symbol["NIFTY01SEP2524500CE"][-1].volume
    far = by_symbol["NIFTY01SEP2525000CE"][-1].volume
    assert atm > 5 * far  # near-ATM trades more


def test_synthetic_bars_agree_with_the_ticks(synth: MarketData) -> None:
    for symbol in ["NIFTY", "NIFTY01SEP2524500CE", "NIFTY01SEP2524300PE", "NIFTY01SEP2525000CE"]:
        builder = BarBuilder(symbol, grace_seconds=2.0)
        rebuilt: list[Bar] = []
        ticks = [t for t in synth.ticks if t.symbol == symbol]
        for t in ticks:
            closed, applied = builder.on_tick(t.time, t.ltp, t.volume)
            assert applied
            if closed is not None:
                rebuilt.append(closed)
        last = builder.close_due(CLOSE + timedelta(minutes=1))
        assert last is not None
        rebuilt.append(last)
        assert [bar_tuple(b) for b in synth.bars[symbol]] == [bar_tuple(b) for b in rebuilt]
        assert len(rebuilt) == 375
        assert [b.start for b in rebuilt] == [OPEN + timedelta(minutes=m) for m in range(375)]
        assert sum(b.volume for b in rebuilt) == ticks[-1].volume
    for bars in synth.bars.values():
        for b in bars:
            Bar.model_validate(b.model_dump())  # consistent OHLC, prices > 0


def test_black_scholes_monotone_in_spot_and_time() -> None:
    years = years_to_expiry(0, 3.0)
    for strike in (24000.0, 24500.0, 25000.0):
        calls = [black_scholes(s, strike, years, 0.14, "CE") for s in range(24000, 25001, 50)]
        puts = [black_scholes(s, strike, years, 0.14, "PE") for s in range(24000, 25001, 50)]
        assert all(b > a for a, b in zip(calls, calls[1:]))
        assert all(b < a for a, b in zip(puts, puts[1:]))
    # the value decays through the day at a fixed spot
    assert black_scholes(24500, 24500, years_to_expiry(0, 3.0), 0.14, "CE") > black_scholes(
        24500, 24500, years_to_expiry(SESSION_SECONDS - 1, 3.0), 0.14, "CE"
    )
    # ATM, ~3.3 days, 14 %: about 0.4 · S · σ · √T ≈ 125 rupees, plus carry
    assert 120 < black_scholes(24500, 24500, years, 0.14, "CE") < 145
    assert black_scholes(24500, 24000, 0.0, 0.14, "CE") == 500.0
    assert black_scholes(24500, 24000, 0.0, 0.14, "PE") == 0.0


def test_smile_rises_away_from_the_atm() -> None:
    atm = smile_vol(0.14, 24500, 24500)
    assert atm == pytest.approx(0.14)
    for k in range(1, 11):
        assert smile_vol(0.14, 24500 + 50 * k, 24500) > smile_vol(0.14, 24500 + 50 * (k - 1), 24500)
        assert smile_vol(0.14, 24500 - 50 * k, 24500) > smile_vol(0.14, 24500 - 50 * (k - 1), 24500)


def test_put_call_parity_across_strikes_before_noise() -> None:
    for spot, second in ((24480.0, 0), (24610.0, 12_000), (24390.0, SESSION_SECONDS - 1)):
        years = years_to_expiry(second, 3.0)
        for strike in (24000.0 + 50 * k for k in range(21)):
            vol = smile_vol(0.14, strike, spot)
            call = black_scholes(spot, strike, years, vol, "CE")
            put = black_scholes(spot, strike, years, vol, "PE")
            assert call - put == pytest.approx(spot - strike * math.exp(-RISK_FREE_RATE * years), abs=1e-6)


def test_synthetic_prices_follow_the_index_and_parity_holds_after_noise(synth: MarketData) -> None:
    index = {b.start: b.close for b in synth.bars["NIFTY"]}
    ce = {b.start: b.close for b in synth.bars["NIFTY01SEP2524500CE"]}
    pe = {b.start: b.close for b in synth.bars["NIFTY01SEP2524500PE"]}
    minutes = sorted(index)
    d_index = [index[b] - index[a] for a, b in zip(minutes, minutes[1:])]
    d_ce = [ce[b] - ce[a] for a, b in zip(minutes, minutes[1:])]
    d_pe = [pe[b] - pe[a] for a, b in zip(minutes, minutes[1:])]
    assert sum(x * y for x, y in zip(d_index, d_ce)) > 0  # CE moves with the index
    assert sum(x * y for x, y in zip(d_index, d_pe)) < 0  # PE against it
    options = [b for s, bars in synth.bars.items() if s != "NIFTY" for b in bars]
    errors = []
    for start, estimate in parity_spot(options):
        second = (start - OPEN).total_seconds() + 60
        carry = 24500 * (1 - math.exp(-RISK_FREE_RATE * years_to_expiry(second, 3.0)))  # K + C - P = S + K(1 - e^-rT)
        errors.append(estimate - carry - index[start])
    assert len(errors) == 375
    # measured for seed 1: max 7.0, mean |error| 1.3 points (closes are up to a few seconds apart)
    assert max(map(abs, errors)) < 15.0
    assert sum(map(abs, errors)) / len(errors) < 3.0


def test_synthetic_session_gives_the_strategy_candidates(synth: MarketData) -> None:
    in_band = {s for s, bars in synth.bars.items() if s != "NIFTY" and any(100 <= b.close <= 300 for b in bars)}
    assert len(in_band) >= 10
    counts = core_activity(synth, Settings(_env_file=None, lot_size=75))
    # measured for seed 1: 1,741 swing lows, 96 added (stage 1 passed), 38 qualified (stage 2 passed)
    assert counts["swing_low"] > 100
    assert counts["added"] >= 10
    assert counts["qualified"] >= 5
    assert counts["best"] > 0


def test_synthetic_parameters(synth: MarketData) -> None:
    slow = synthetic_market(5, day=DAY, strike_window=2, tick_seconds=30.0, lot_size=65, spot_open=24490.0)
    options = list(traded(slow).values())
    assert len(options) == 10 and {i.lot_size for i in options} == {65}
    assert {i.strike for i in options} == {24400.0, 24450.0, 24500.0, 24550.0, 24600.0}
    count = Counter(t.symbol for t in slow.ticks if t.exchange == "NFO")
    assert all(650 <= n <= 850 for n in count.values())  # 22,500 s / 30 s = 750
    volumes = [t.volume for t in slow.ticks if t.symbol == options[0].symbol]
    assert all((b - a) % 65 == 0 and b > a for a, b in zip(volumes, volumes[1:]))
    assert slow.bars["NIFTY"][0].open == pytest.approx(24490.0, abs=0.05)
    for bad in (dict(strike_step=0), dict(lot_size=0), dict(tick_seconds=0.0), dict(days_to_expiry=-1.0)):
        with pytest.raises(ValueError):
            synthetic_market(1, day=DAY, **bad)
