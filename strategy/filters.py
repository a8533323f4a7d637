"""The three filter stages and sizing (strategy.md §4).

Inclusive bounds are compared with a tolerance of :data:`EPS` so that a value
exactly on a bound (4 %, 2 %, 10 %, ₹100, ₹300) passes despite float noise.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from config.settings import Settings
from strategy.prices import EPS


def stage1_reason(price: float, vwap_at_swing: float, s: Settings) -> str:
    """Stage 1 (static, once per swing LOW). ``""`` if it passes, else the rejection reason.

    Passes when ``MIN_ENTRY_PRICE ≤ price ≤ MAX_ENTRY_PRICE`` (rupees) and
    ``(price − vwap_at_swing) / vwap_at_swing ≥ MIN_VWAP_PREMIUM``.
    """
    if price < s.min_entry_price - EPS:
        return "price_low"
    if price > s.max_entry_price + EPS:
        return "price_high"
    if vwap_at_swing <= 0 or (price - vwap_at_swing) / vwap_at_swing < s.min_vwap_premium - EPS:
        return "vwap_premium_low"
    return ""


def lots_for(sl_points: float, s: Settings) -> int:
    """``min(floor(R_VALUE / (sl_points · LOT_SIZE)), MAX_LOTS)``; 0 when ``sl_points ≤ 0``."""
    if sl_points <= 0:
        return 0
    return min(math.floor(s.r_value / (sl_points * s.lot_size) + EPS), s.max_lots)


@dataclass(frozen=True, slots=True)
class Stage2:
    """Stage 2 numbers for one candidate; ``reason`` is ``""`` when it qualifies."""

    sl_price: float
    sl_points: float
    sl_pct: float
    lots: int
    quantity: int
    reason: str

    @property
    def qualified(self) -> bool:
        return not self.reason


def stage2(price: float, highest_high: float, s: Settings) -> Stage2:
    """Stage 2 (dynamic): stop = highest high + SL_BUFFER; SL % band; at least one lot."""
    sl_price = highest_high + s.sl_buffer
    sl_points = sl_price - price
    sl_pct = sl_points / price
    lots = lots_for(sl_points, s)
    if sl_pct < s.min_sl_pct - EPS:
        reason = "sl_pct_low"
    elif sl_pct > s.max_sl_pct + EPS:
        reason = "sl_pct_high"
    elif lots < 1:
        reason = "lots_zero"
    else:
        reason = ""
    return Stage2(sl_price, sl_points, sl_pct, lots, lots * s.lot_size, reason)


def best_key(sl_points: float, price: float, symbol: str, s: Settings) -> tuple[float, float, str]:
    """Stage 3 ordering, smallest first: ``|sl_points − TARGET_SL_POINTS|``, higher price, symbol."""
    return (round(abs(sl_points - s.target_sl_points), 6), -price, symbol)
