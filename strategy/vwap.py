"""Session-anchored, bar-based VWAP (strategy.md §2)."""

from __future__ import annotations


class SessionVwap:
    """``vwap_i = Σ(tp_k·v_k) / Σ v_k`` over the session's bars, ``tp = (H+L+C)/3``.

    While no volume has traded, the VWAP is the typical price of the latest bar.
    """

    def __init__(self) -> None:
        self._pv = 0.0
        self._volume = 0

    def add(self, high: float, low: float, close: float, volume: int) -> float:
        """Add one closed bar (rupees, contracts); returns the VWAP after it."""
        typical = (high + low + close) / 3.0
        self._pv += typical * volume
        self._volume += volume
        return self._pv / self._volume if self._volume > 0 else typical
