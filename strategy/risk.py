"""R accounting for short option positions (strategy.md §6)."""

from __future__ import annotations

from collections.abc import Iterable


def short_pnl(entry_price: float, exit_price: float, quantity: int) -> float:
    """Rupees made on ``quantity`` contracts sold at ``entry_price`` and bought back at ``exit_price``."""
    return (entry_price - exit_price) * quantity


def position_risk(entry_price: float, sl_price: float, quantity: int) -> float:
    """Rupees lost if the stop fills at ``sl_price``: ``(sl_price − entry_price) · quantity``.

    Raises ValueError when the stop is not above the entry (no risk defined).
    """
    risk = (sl_price - entry_price) * quantity
    if risk <= 0:
        raise ValueError(f"stop {sl_price} must be above entry {entry_price} for a short")
    return risk


def r_multiple(pnl: float, risk: float) -> float:
    """``pnl / risk`` (both rupees)."""
    return pnl / risk


def max_drawdown(r_values: Iterable[float]) -> float:
    """Largest fall, in R, of the cumulative R curve from a peak (the curve starts at 0)."""
    peak = 0.0
    total = 0.0
    worst = 0.0
    for r in r_values:
        total += r
        peak = max(peak, total)
        worst = max(worst, peak - total)
    return worst
