"""The watch-based swing detector, exactly as strategy.md §3."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

SwingType = Literal["LOW", "HIGH"]


@dataclass(frozen=True, slots=True)
class SwingChange:
    """A swing created (``update=False``) or moved (``update=True``) at bar ``index``."""

    swing_type: SwingType
    index: int
    price: float
    update: bool


class SwingDetector:
    """Detects swing lows and highs from closed bars (H, L, C).

    Feed every closed bar of the session in order to :meth:`on_bar`; it
    returns at most one :class:`SwingChange` per bar. Ties for the extreme go
    to the earliest bar. Creating a swing resets every watch counter; an
    update keeps them but moves the window start to the new swing bar + 1.
    """

    def __init__(self) -> None:
        self.highs: list[float] = []
        self.lows: list[float] = []
        self.closes: list[float] = []
        self._low_watch: list[int] = []
        self._high_watch: list[int] = []
        self.swing_type: SwingType | None = None
        self.swing_index = -1
        self.swing_price = 0.0

    def on_bar(self, high: float, low: float, close: float) -> SwingChange | None:
        """Add closed bar ``i`` and run the watch method over ``j = w … i-1``."""
        highs, lows, closes = self.highs, self.lows, self.closes
        highs.append(high)
        lows.append(low)
        closes.append(close)
        self._low_watch.append(0)
        self._high_watch.append(0)
        i = len(highs) - 1
        if i == 0:
            return None
        low_watch, high_watch = self._low_watch, self._high_watch
        kind = self.swing_type
        w = 0 if kind is None else self.swing_index + 1
        for j in range(w, i):
            higher = high > highs[j] and close > closes[j]
            lower = low < lows[j] and close < closes[j]
            if kind is None:
                if higher:
                    low_watch[j] += 1
                    if low_watch[j] >= 2:
                        return self._create("LOW", self._lowest(0, i))
                if lower:
                    high_watch[j] += 1
                    if high_watch[j] >= 2:
                        return self._create("HIGH", self._highest(0, i))
            elif kind == "LOW":
                if lower:
                    high_watch[j] += 1
                    if high_watch[j] >= 2:
                        return self._create("HIGH", self._highest(w, i))
                if higher:
                    low_watch[j] += 1
                    if low_watch[j] >= 2:
                        k = self._lowest(w, i)
                        if lows[k] < self.swing_price:
                            return self._move(k, lows[k])
            else:
                if higher:
                    low_watch[j] += 1
                    if low_watch[j] >= 2:
                        return self._create("LOW", self._lowest(w, i))
                if lower:
                    high_watch[j] += 1
                    if high_watch[j] >= 2:
                        k = self._highest(w, i)
                        if highs[k] > self.swing_price:
                            return self._move(k, highs[k])
        return None

    def _lowest(self, start: int, end: int) -> int:
        lows = self.lows
        best = start
        for k in range(start + 1, end + 1):
            if lows[k] < lows[best]:
                best = k
        return best

    def _highest(self, start: int, end: int) -> int:
        highs = self.highs
        best = start
        for k in range(start + 1, end + 1):
            if highs[k] > highs[best]:
                best = k
        return best

    def _create(self, kind: SwingType, index: int) -> SwingChange:
        price = self.lows[index] if kind == "LOW" else self.highs[index]
        self.swing_type, self.swing_index, self.swing_price = kind, index, price
        n = len(self._low_watch)
        self._low_watch = [0] * n
        self._high_watch = [0] * n
        return SwingChange(kind, index, price, update=False)

    def _move(self, index: int, price: float) -> SwingChange:
        self.swing_index, self.swing_price = index, price
        assert self.swing_type is not None
        return SwingChange(self.swing_type, index, price, update=True)
