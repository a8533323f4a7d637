"""A small hand-made session for simulator tests: the NIFTY index and three options.

Independent of the recorded/synthetic builders on purpose: every tick and bar
is computed here. Day 2021-06-14, expiry 2021-06-17, one tick per symbol every
``step`` seconds from 09:15:00 to ``until``; lot 75, tick 0.05 rupees.
"""

from __future__ import annotations

import math
from datetime import date, datetime, timedelta
from datetime import time as dtime

from messages.base import IST
from messages.market import Bar
from simulator.market import Instrument, MarketData, SimTick

DAY = date(2021, 6, 14)
EXPIRY = date(2021, 6, 17)
LOT = 75
CE = "NIFTY17JUN2115800CE"
PE = "NIFTY17JUN2115800PE"
CE2 = "NIFTY17JUN2115900CE"
INDEX = "NIFTY"


def _price(base: float, amplitude: float, k: int, phase: float) -> float:
    raw = base + amplitude * math.sin(k / 25 + phase)
    return round(round(raw / 0.05) * 0.05, 2)


def build_market(step: int = 5, until: dtime = dtime(10, 30)) -> MarketData:
    """The session: ticks every ``step`` s per symbol, 1-minute bars from the same ticks."""
    instruments = {
        INDEX: Instrument(INDEX, "NSE_INDEX", 1, 0.05, name="NIFTY"),
        CE: Instrument(CE, "NFO", LOT, 0.05, EXPIRY, 15800.0, "CE"),
        PE: Instrument(PE, "NFO", LOT, 0.05, EXPIRY, 15800.0, "PE"),
        CE2: Instrument(CE2, "NFO", LOT, 0.05, EXPIRY, 15900.0, "CE"),
    }
    paths = {INDEX: (15790.0, 40.0, 0.0), CE: (100.0, 12.0, 0.0), PE: (90.0, 12.0, math.pi), CE2: (60.0, 9.0, 0.5)}
    first = datetime.combine(DAY, dtime(9, 15), IST)
    last = datetime.combine(DAY, until, IST)
    ticks: list[SimTick] = []
    volume = {s: 0 for s in instruments}
    k = 0
    moment = first
    while moment <= last:
        for symbol in sorted(instruments):
            base, amplitude, phase = paths[symbol]
            if symbol != INDEX:
                volume[symbol] += LOT * (1 + k % 3)
            exchange = instruments[symbol].exchange
            ticks.append(SimTick(symbol, exchange, moment, _price(base, amplitude, k, phase), volume[symbol]))
        k += 1
        moment += timedelta(seconds=step)
    return MarketData(day=DAY, expiry=EXPIRY, instruments=instruments, ticks=ticks, bars=bars_from(ticks), index_source="synthetic")


def bars_from(ticks: list[SimTick]) -> dict[str, list[Bar]]:
    """1-minute OHLCV bars (start IST) of each symbol; volume = contracts traded in the minute."""
    groups: dict[tuple[str, datetime], list[SimTick]] = {}
    for tick in ticks:
        groups.setdefault((tick.symbol, tick.time.replace(second=0, microsecond=0)), []).append(tick)
    bars: dict[str, list[Bar]] = {}
    previous: dict[str, int] = {}
    for (symbol, start), group in sorted(groups.items()):
        prices = [t.ltp for t in group]
        before = previous.get(symbol, 0)
        previous[symbol] = group[-1].volume
        bars.setdefault(symbol, []).append(
            Bar(symbol=symbol, start=start, open=prices[0], high=max(prices), low=min(prices), close=prices[-1], volume=group[-1].volume - before)
        )
    return bars

