"""The simulator's quote state and the market-data payloads built from it.

:class:`QuoteBoard` owns the day's :class:`Quote` of every symbol and applies
each played tick to it: ltp, day open/high/low, ``prev_close`` (the session's
first price, which a symbol also quotes before its first trade, as a real
server does before the open), cumulative volume and turnover (for the day
VWAP), and bid/ask = ltp ∓ one tick.

Two payloads are built from a quote: the REST ``quotes``/``multiquotes``
``data`` (:meth:`Quote.rest`) and the WebSocket ``market_data`` frame
(:func:`market_frame`) for mode 1 (LTP), 2 (Quote: adds open/high/low,
``close`` = prev close, volume, ``average_price``/``avg_trade_price``,
``last_trade_quantity``, ``oi``, ``change``, ``change_percent``) or 3 (Depth:
adds five synthetic levels a tick apart with lot-multiple quantities).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from simulator.market import Instrument, MarketData, SimTick
from simulator.replies import BROKER_NAME


def listed(market: MarketData, symbol: str, exchange: str) -> Instrument | None:
    """The instrument ``symbol`` on ``exchange``, or None if the market has no such pair."""
    inst = market.instruments.get(symbol)
    if inst is None or inst.exchange != exchange:
        return None
    return inst


@dataclass
class Quote:
    """The day's quote of one symbol (rupees; ``volume`` cumulative contracts)."""

    symbol: str
    exchange: str
    tick_size: float
    lot_size: int = 1
    ltp: float = 0.0
    open: float = 0.0
    high: float = 0.0
    low: float = 0.0
    prev_close: float = 0.0
    volume: int = 0
    last_quantity: int = 0
    turnover: float = 0.0
    time: datetime | None = None

    def update(self, tick: SimTick) -> None:
        price = tick.ltp
        if self.time is None:
            self.open = self.high = self.low = price
            self.prev_close = self.prev_close or price
        self.high = max(self.high, price)
        self.low = min(self.low, price)
        traded = max(0, tick.volume - self.volume)
        self.last_quantity = traded
        self.turnover += traded * price
        self.volume = max(self.volume, tick.volume)
        self.ltp = price
        self.time = tick.time

    @property
    def average_price(self) -> float:
        return round(self.turnover / self.volume, 2) if self.volume else self.ltp

    @property
    def bid(self) -> float:
        return round(max(0.0, self.ltp - self.tick_size), 2) if self.ltp else 0.0

    @property
    def ask(self) -> float:
        return round(self.ltp + self.tick_size, 2) if self.ltp else 0.0

    def rest(self) -> dict[str, Any]:
        """The ``quotes`` endpoint's ``data``."""
        return {
            "ask": self.ask,
            "bid": self.bid,
            "high": self.high,
            "low": self.low,
            "ltp": self.ltp,
            "oi": 0,
            "open": self.open,
            "prev_close": self.prev_close,
            "volume": self.volume,
        }


class QuoteBoard:
    """The :class:`Quote` of every symbol of ``market``, updated by :meth:`apply` as ticks play."""

    def __init__(self, market: MarketData) -> None:
        self._quotes: dict[str, Quote] = {
            s: Quote(s, i.exchange, i.tick_size, i.lot_size) for s, i in market.instruments.items()
        }
        # Before its first trade a symbol quotes its previous close, as a real
        # server does before the open; the session's first price stands in for it.
        for tick in market.ticks:
            quote = self._quotes.get(tick.symbol)
            if quote is not None and not quote.prev_close:
                quote.prev_close = quote.ltp = tick.ltp

    def apply(self, tick: SimTick) -> Quote:
        """Update the tick's symbol (creating a quote for a symbol the market does not list) and return it."""
        quote = self._quotes.get(tick.symbol)
        if quote is None:
            quote = self._quotes[tick.symbol] = Quote(tick.symbol, tick.exchange, 0.05)
        quote.update(tick)
        return quote

    def get(self, symbol: str) -> Quote | None:
        return self._quotes.get(symbol)

    def __getitem__(self, symbol: str) -> Quote:
        return self._quotes[symbol]


def _ms(moment: datetime) -> int:
    return round(moment.timestamp() * 1000)


def market_frame(tick: SimTick, q: Quote, mode: int) -> dict[str, Any]:
    """The WebSocket ``market_data`` frame of ``tick`` in ``mode`` (1 LTP, 2 Quote, 3 Depth)."""
    data: dict[str, Any] = {
        "symbol": tick.symbol,
        "exchange": tick.exchange,
        "ltp": tick.ltp,
        "timestamp": _ms(tick.time),
        "ltt": _ms(tick.time),
    }
    if mode >= 2:
        change = round(q.ltp - q.prev_close, 2)
        data.update(
            open=q.open,
            high=q.high,
            low=q.low,
            close=q.prev_close,
            volume=q.volume,
            average_price=q.average_price,
            avg_trade_price=q.average_price,
            last_trade_quantity=q.last_quantity,
            oi=0,
            change=change,
            change_percent=round(100 * change / q.prev_close, 2) if q.prev_close else 0.0,
        )
    if mode >= 3:
        lot = q.lot_size
        step = q.tick_size or 0.05
        data["depth"] = {
            "buy": [
                {"price": round(max(0.0, q.ltp - k * step), 2), "quantity": lot * k, "orders": k}
                for k in range(1, 6)
            ],
            "sell": [{"price": round(q.ltp + k * step, 2), "quantity": lot * k, "orders": k} for k in range(1, 6)],
        }
    return {
        "type": "market_data",
        "symbol": tick.symbol,
        "exchange": tick.exchange,
        "mode": mode,
        "broker": BROKER_NAME,
        "data": data,
    }
