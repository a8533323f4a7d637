"""A seeded synthetic NIFTY options session (pure Python, reproducible).

Model, in order:

* **Spot**: one value per second 09:15:00-15:29:59 IST, geometric Brownian
  motion with an annualised intraday volatility drawn in 12-16 % (a little
  higher at the open and the close), on top of seeded regimes of 20-80
  minutes: trends (±0.15-0.45 % over the regime), mean reversion toward the
  regime's starting level, or plain noise. The index prints every 1-3 s
  (``NSE_INDEX``, volume 0).
* **Options**: ATM ± ``strike_window`` strikes around the opening spot, CE and
  PE, priced with Black-Scholes (European, :data:`RISK_FREE_RATE`, time to
  expiry = calendar time to 15:30 IST of the expiry day, shrinking through
  the session). Implied volatility: an ATM level a little above the realised
  volatility that drifts slowly (and rises when the spot falls), plus a smile
  (:func:`smile_vol`) and a small fixed offset per strike (shared by its CE
  and PE). Each trade is that fair value plus a bid/ask bounce and a little
  noise, rounded to ``tick_size``, never below it.
* **Trades**: each option prints about every ``tick_seconds`` (jittered, at
  millisecond instants of its own); each print adds a whole number of lots to
  the cumulative day volume, more near the ATM. A symbol's first print of the
  day is the opening quote and carries cumulative volume 0 (the baseline a
  :class:`strategy.bars.BarBuilder` takes), so every later lot counts.
* **Bars**: built from the ticks by :class:`strategy.bars.BarBuilder` (1-minute,
  IST, volume = increase of the cumulative volume).

Every random draw comes from :class:`random.Random` streams keyed by the seed,
so the same arguments give an identical :class:`~simulator.market.MarketData`.
"""

from __future__ import annotations

import math
import random
from datetime import date, datetime, time, timedelta
from typing import Literal

from messages.market import Bar
from simulator.market import Instrument, MarketData, SimTick, with_listed_strikes
from simulator.recorded import INDEX_EXCHANGE, MONTHS, OPTION_EXCHANGE
from strategy.bars import BarBuilder
from strategy.session import at

#: Annual risk-free rate of the Black-Scholes prices (continuous compounding).
RISK_FREE_RATE = 0.065
#: Seconds in the session 09:15:00-15:29:59 IST.
SESSION_SECONDS = 22_500
#: Trading days per year for the per-second volatility of the spot.
TRADING_DAYS = 252
#: Smile (:func:`smile_vol`): curvature and put-side slope per unit of ``ln(K / S)``.
SMILE_CURVE = 60.0
SMILE_SKEW = 0.4

UNDERLYING = "NIFTY"
_OPEN = time(9, 15)
_SECONDS_PER_YEAR = 365.0 * 86_400.0
_SQRT2 = math.sqrt(2.0)


def black_scholes(
    spot: float, strike: float, years: float, vol: float, option_type: Literal["CE", "PE"], rate: float = RISK_FREE_RATE
) -> float:
    """European Black-Scholes price, rupees.

    ``spot`` and ``strike`` rupees, ``years`` to expiry, ``vol`` annual
    fraction, ``rate`` annual, continuously compounded.

    At ``years <= 0`` the intrinsic value; at ``vol <= 0`` the discounted forward intrinsic value.
    """
    discount = math.exp(-rate * years) if years > 0 else 1.0
    if years <= 0 or vol <= 0:
        forward_intrinsic = spot - strike * discount
        return max(forward_intrinsic, 0.0) if option_type == "CE" else max(-forward_intrinsic, 0.0)
    sd = vol * math.sqrt(years)
    d1 = (math.log(spot / strike) + (rate + 0.5 * vol * vol) * years) / sd
    d2 = d1 - sd
    if option_type == "CE":
        return spot * _ncdf(d1) - strike * discount * _ncdf(d2)
    return strike * discount * _ncdf(-d2) - spot * _ncdf(-d1)


def smile_vol(atm_vol: float, strike: float, spot: float) -> float:
    """Implied volatility (annual fraction) at ``strike`` (rupees) for ATM level ``atm_vol`` at ``spot`` (rupees).

    Rises both ways from the spot, faster below it (the put skew): ``atm +
    SMILE_CURVE · x² + SMILE_SKEW · max(−x, 0)`` with ``x = ln(strike / spot)``;
    about +2.4 vol points 500 points above a 24,500 spot and +3.4 below.
    """
    x = math.log(strike / spot)
    return atm_vol + SMILE_CURVE * x * x + SMILE_SKEW * max(-x, 0.0)


def option_symbol(expiry: date, strike: float, option_type: Literal["CE", "PE"], name: str = UNDERLYING) -> str:
    """OpenAlgo symbol ``NAME`` + ``DDMMMYY`` + strike + type, e.g. ``NIFTY02SEP2524500CE``."""
    strike_text = str(int(strike)) if float(strike).is_integer() else f"{strike:g}"
    return f"{name}{expiry.day:02d}{MONTHS[expiry.month - 1]}{expiry.year % 100:02d}{strike_text}{option_type}"


def years_to_expiry(second: float, days_to_expiry: float) -> float:
    """Years (365-day calendar) from ``second`` seconds after 09:15:00 IST to the expiry.

    The expiry is 15:30 IST ``days_to_expiry`` days after the session's close
    (15:30 IST), so the time shrinks through the session.
    """
    seconds_left = days_to_expiry * 86_400.0 + (SESSION_SECONDS - second)
    return seconds_left / _SECONDS_PER_YEAR


def synthetic_market(
    seed: int,
    *,
    day: date,
    spot_open: float = 24500.0,
    strike_window: int = 10,
    strike_step: int = 50,
    lot_size: int = 75,
    tick_size: float = 0.05,
    days_to_expiry: float = 3.0,
    tick_seconds: float = 5.0,
) -> MarketData:
    """A reproducible synthetic session on ``day`` (09:15:00-15:29:59 IST); see the module docstring for the model.

    ``spot_open`` rupees; ATM = ``spot_open`` rounded to ``strike_step``
    (points); options for ATM ± ``strike_window`` strikes, CE and PE
    (``2 · (2 · strike_window + 1)`` symbols, 42 by default) on ``NFO`` with
    ``lot_size`` contracts and ``tick_size`` rupees; the expiry is ``day`` +
    ``days_to_expiry`` rounded to whole days (``days_to_expiry`` = days from
    the session's close to the expiry's 15:30). Each option prints about every
    ``tick_seconds`` seconds. The index is ``NIFTY`` on ``NSE_INDEX``
    (``index_source="synthetic"``). Same arguments → identical result.
    """
    if spot_open <= 0 or strike_step <= 0 or strike_window < 0 or lot_size <= 0 or tick_size <= 0:
        raise ValueError("spot_open, strike_step, lot_size and tick_size must be positive, strike_window >= 0")
    if tick_seconds <= 0 or days_to_expiry < 0:
        raise ValueError(f"tick_seconds must be positive and days_to_expiry >= 0, got {tick_seconds}, {days_to_expiry}")
    expiry = day + timedelta(days=math.floor(days_to_expiry + 0.5))
    open_at = at(day, _OPEN)
    atm = math.floor(spot_open / strike_step + 0.5) * strike_step

    realised_vol = random.Random(f"{seed}:vol").uniform(0.12, 0.16)
    spot = _spot_path(random.Random(f"{seed}:spot"), spot_open, realised_vol)
    atm_iv = _atm_iv_path(random.Random(f"{seed}:iv"), spot, realised_vol)

    instruments: dict[str, Instrument] = {
        UNDERLYING: Instrument(UNDERLYING, INDEX_EXCHANGE, 1, tick_size, name=UNDERLYING),
    }
    per_symbol: dict[str, list[SimTick]] = {}
    per_symbol[UNDERLYING] = _index_ticks(random.Random(f"{seed}:index"), spot, open_at, tick_size)
    for k in range(-strike_window, strike_window + 1):
        strike = float(atm + k * strike_step)
        # keyed by the strike, so a narrower window gives the same prices for the strikes it keeps
        iv_offset = random.Random(f"{seed}:iv:{strike:g}").gauss(0.0, 0.0015)
        # near-ATM strikes trade bigger: mean lots per print ~40 at the ATM, ~3 far out
        mean_lots = 2.0 + 38.0 * math.exp(-((k / 4.0) ** 2))
        for option_type in ("CE", "PE"):
            symbol = option_symbol(expiry, strike, option_type)
            instruments[symbol] = Instrument(
                symbol, OPTION_EXCHANGE, lot_size, tick_size, expiry=expiry, strike=strike, option_type=option_type
            )
            per_symbol[symbol] = _option_ticks(
                random.Random(f"{seed}:{symbol}"),
                symbol,
                option_type,
                strike,
                spot,
                atm_iv,
                iv_offset,
                mean_lots,
                open_at,
                days_to_expiry=days_to_expiry,
                lot_size=lot_size,
                tick_size=tick_size,
                tick_seconds=tick_seconds,
            )

    bars = {symbol: build_bars(symbol, ticks) for symbol, ticks in per_symbol.items()}
    ticks = [tick for symbol_ticks in per_symbol.values() for tick in symbol_ticks]
    ticks.sort(key=lambda t: (t.time, t.symbol))
    return MarketData(
        day=day,
        expiry=expiry,
        instruments=with_listed_strikes(instruments, option_symbol),
        ticks=ticks,
        bars=bars,
        underlying=UNDERLYING,
        index_source="synthetic",
    )


def build_bars(symbol: str, ticks: list[SimTick]) -> list[Bar]:
    """1-minute bars of one symbol's ticks (time order) through a :class:`BarBuilder`, the last bar closed too."""
    builder = BarBuilder(symbol, grace_seconds=0.0)
    bars: list[Bar] = []
    for tick in ticks:
        closed, _ = builder.on_tick(tick.time, tick.ltp, tick.volume)
        if closed is not None:
            bars.append(closed)
    if ticks:
        last = builder.close_due(ticks[-1].time + timedelta(minutes=2))
        if last is not None:
            bars.append(last)
    return bars


# --- internals ------------------------------------------------------------------------------


def _ncdf(x: float) -> float:
    return 0.5 * (1.0 + math.erf(x / _SQRT2))


def _spot_path(rng: random.Random, spot_open: float, vol: float) -> list[float]:
    """Spot (rupees) at each second of the session: GBM plus seeded regimes."""
    sigma = vol / math.sqrt(TRADING_DAYS * SESSION_SECONDS)  # per second, log terms
    regimes: list[tuple[int, float, float, float]] = []  # (end second, drift/s, reversion/s, vol multiplier)
    start = 0
    while start < SESSION_SECONDS:
        length = rng.randint(20, 80) * 60
        end = min(start + length, SESSION_SECONDS)
        kind = rng.choices(("trend", "revert", "noise"), weights=(0.55, 0.25, 0.20))[0]
        if kind == "trend":
            move = rng.choice((-1.0, 1.0)) * rng.uniform(0.0015, 0.0045)
            regimes.append((end, move / length, 0.0, rng.uniform(0.8, 1.1)))
        elif kind == "revert":
            half_life = rng.uniform(180.0, 600.0)
            regimes.append((end, 0.0, math.log(2.0) / half_life, rng.uniform(0.8, 1.1)))
        else:
            regimes.append((end, 0.0, 0.0, rng.uniform(0.9, 1.2)))
        start = end
    path: list[float] = []
    log_s = math.log(spot_open)
    gauss = rng.gauss
    second = 0
    for end, drift, reversion, multiplier in regimes:
        anchor = log_s
        while second < end:
            path.append(math.exp(log_s))
            minute = second / 60.0
            # U-shaped intraday volatility: livelier in the first half hour and the last 20 minutes
            shape = 1.0 + 0.3 * math.exp(-minute / 15.0) + 0.2 * math.exp(-(375.0 - minute) / 10.0)
            s = sigma * multiplier * shape
            log_s += drift - reversion * (log_s - anchor) - 0.5 * s * s + s * gauss(0.0, 1.0)
            second += 1
    return path


def _atm_iv_path(rng: random.Random, spot: list[float], realised_vol: float) -> list[float]:
    """ATM implied volatility (annual fraction) per second: a slow mean-reverting drift, up when the spot falls."""
    base = realised_vol + rng.uniform(0.0, 0.02)
    kappa = 1.0 / 1800.0  # mean reversion per second (~30 min)
    step = 0.004 * math.sqrt(2.0 * kappa)  # stationary deviation ~0.4 vol points
    leverage = 1.0  # +1 vol point per 1 % fall of the spot
    deviation = 0.0
    log_open = math.log(spot[0])
    out: list[float] = []
    gauss = rng.gauss
    for value in spot:
        out.append(max(0.05, base + deviation - leverage * (math.log(value) - log_open)))
        deviation += -kappa * deviation + step * gauss(0.0, 1.0)
    return out


def _index_ticks(rng: random.Random, spot: list[float], open_at: datetime, tick: float) -> list[SimTick]:
    out: list[SimTick] = []
    second = 0
    while second < SESSION_SECONDS:
        price = max(round(round(spot[second] / tick) * tick, 2), tick)
        out.append(SimTick(UNDERLYING, INDEX_EXCHANGE, open_at + timedelta(seconds=second), price, 0))
        second += rng.choice((1, 1, 2, 3))
    return out


def _option_ticks(
    rng: random.Random,
    symbol: str,
    option_type: Literal["CE", "PE"],
    strike: float,
    spot: list[float],
    atm_iv: list[float],
    iv_offset: float,
    mean_lots: float,
    open_at: datetime,
    *,
    days_to_expiry: float,
    lot_size: int,
    tick_size: float,
    tick_seconds: float,
) -> list[SimTick]:
    out: list[SimTick] = []
    uniform, gauss, expovariate = rng.uniform, rng.gauss, rng.expovariate
    cumulative = 0
    t = uniform(0.0, tick_seconds)
    first = True
    while True:
        millis = int(t * 1000.0)
        if millis >= SESSION_SECONDS * 1000:
            break
        second = millis // 1000
        s = spot[second]
        vol = smile_vol(atm_iv[second], strike, s) + iv_offset
        fair = black_scholes(s, strike, years_to_expiry(millis / 1000.0, days_to_expiry), vol, option_type)
        # bid/ask bounce (spread ~0.2 % of the price, at least two ticks) plus a little noise
        half_spread = max(tick_size, 0.001 * fair)
        price = fair + (half_spread if uniform(0.0, 1.0) < 0.5 else -half_spread) + gauss(0.0, 0.25 * half_spread)
        price = round(round(price / tick_size) * tick_size, 2)
        if price < tick_size:
            price = tick_size
        if first:
            first = False
        else:
            cumulative += (1 + int(expovariate(1.0 / mean_lots))) * lot_size
        out.append(SimTick(symbol, OPTION_EXCHANGE, open_at + timedelta(milliseconds=millis), price, cumulative))
        t += tick_seconds * uniform(0.4, 1.6)
    return out


__all__ = [
    "RISK_FREE_RATE",
    "black_scholes",
    "build_bars",
    "option_symbol",
    "smile_vol",
    "synthetic_market",
    "years_to_expiry",
]
