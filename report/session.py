"""What ``run.py report`` shows of one session, read from the journal (pure: no drawing, no files).

A live journal and a replay journal hold the same tables, so both report
alike: the positions (trades, R, rupees), the order events (entry triggers
and protective stops over time, fills), the swings and the closed 1-minute
bars with their VWAP (``bars``, schema 4).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from messages.orders import FINAL_STATUSES
from persistence.journal_store import JournalStore
from strategy.risk import max_drawdown
from strategy.session import at


@dataclass(frozen=True)
class Trade:
    """One position: times IST, prices rupees, ``quantity`` contracts, ``pnl`` rupees, ``r`` R multiple
    (``exit_*``, ``pnl`` and ``r`` None while open)."""

    symbol: str
    opened_at: datetime
    entry_price: float
    sl_price: float
    quantity: int
    closed_at: datetime | None
    exit_price: float | None
    pnl: float | None
    r: float | None
    reason: str


@dataclass(frozen=True)
class Level:
    """A working order's trigger price (rupees) from ``start`` to ``end`` (IST): an entry trigger or a stop."""

    role: str
    price: float
    start: datetime
    end: datetime


@dataclass
class SymbolChart:
    """One traded strike: its bars, VWAP, swing lows, entry triggers, stops and fills."""

    symbol: str
    #: (start IST, open, high, low, close, volume, vwap), oldest first
    bars: list[tuple[datetime, float, float, float, float, int, float]] = field(default_factory=list)
    #: (swing bar's start IST, price rupees) of each swing low created or updated
    swing_lows: list[tuple[datetime, float]] = field(default_factory=list)
    levels: list[Level] = field(default_factory=list)
    #: (time IST, price rupees, "SELL" or "BUY") of each fill
    fills: list[tuple[datetime, float, str]] = field(default_factory=list)


@dataclass
class SessionReport:
    """A session's report: trades, the cumulative-R curve, totals and one chart per traded strike."""

    day: date
    trades: list[Trade]
    #: (time IST, cumulative realised R) at the session's start and at each close, in time order
    curve: list[tuple[datetime, float]]
    charts: list[SymbolChart]
    halted: bool
    halt_reason: str
    #: where the day's data ends (IST): the close of its last bar, or the last trade's time if later
    end: datetime

    @property
    def closed(self) -> list[Trade]:
        return [t for t in self.trades if t.r is not None]

    @property
    def net_r(self) -> float:
        return sum(t.r for t in self.closed)

    @property
    def pnl(self) -> float:
        return sum(t.pnl or 0.0 for t in self.closed)

    @property
    def wins(self) -> int:
        return sum(1 for t in self.closed if t.r > 0)

    @property
    def max_drawdown_r(self) -> float:
        return max_drawdown([t.r for t in sorted(self.closed, key=lambda t: t.opened_at)])


def build_report(store: JournalStore, day: date, market_open, market_close) -> SessionReport:  # noqa: ANN001
    """The report of session ``day`` (IST date) from ``store``. ``market_open``/``market_close`` (IST
    times, ``MARKET_OPEN``/``MARKET_CLOSE``) bound the curve and end orders still working.

    Raises ``ValueError`` when the journal holds nothing of that day.
    """
    positions = store.positions(day)
    events = store.order_events(day)
    last_bar = store.last_bar_start(day)
    if not positions and not events and last_bar is None:
        known = ", ".join(d.isoformat() for d in store.sessions()) or "none"
        raise ValueError(f"the journal {store.path} holds nothing of {day.isoformat()} (sessions in it: {known})")
    trades = [_trade(p) for p in positions]
    start, end = at(day, market_open), at(day, market_close)
    curve = [(start, 0.0)]
    total = 0.0
    for t in sorted((t for t in trades if t.closed_at is not None), key=lambda t: t.closed_at):
        total += t.r or 0.0
        curve.append((t.closed_at, round(total, 4)))
    # when the broker ended each order (rejected, cancelled, filled: no event of ours may say so)
    ended = {o["orderid"]: o["updated_at"] for o in store.orders(day) if o["status"] in FINAL_STATUSES}
    charts = []
    for symbol in dict.fromkeys(t.symbol for t in trades):  # traded strikes, in the order first traded
        chart = SymbolChart(symbol)
        chart.bars = [
            (b["start"], b["open"], b["high"], b["low"], b["close"], b["volume"], b["vwap"])
            for b in store.bars(day, symbol)
        ]
        chart.swing_lows = [(s["bar_time"], s["price"]) for s in store.swings(day, symbol) if s["swing_type"] == "LOW"]
        mine = [e for e in events if e["symbol"] == symbol]
        chart.levels = levels(mine, end, ended)
        chart.fills = [(e["time"], e["average_price"], e["action"]) for e in mine if e["op"] == "fill"]
        charts.append(chart)
    halted, reason = store.is_halted(day)
    moments = [m for m in (last_bar + timedelta(minutes=1) if last_bar else None, curve[-1][0],
                           *(t.opened_at for t in trades)) if m is not None]
    return SessionReport(day, trades, curve, charts, halted, reason, min(max(moments), end))


def levels(events: list[dict[str, Any]], end: datetime, ended: dict[str, datetime] | None = None) -> list[Level]:
    """Entry triggers and stops (SL and SL-M orders) over time from the order events of a session, in order.

    An order's trigger holds from its place (or modify) to its next modify,
    its cancel or its first fill; one still working at the last event holds
    until the broker ended it (``ended``: orderid → the time its order went
    final, e.g. rejected), or to ``end``.
    """
    by_order: dict[str, list[dict[str, Any]]] = {}
    for e in events:
        if e["role"] in ("entry", "stop"):
            by_order.setdefault(e["orderid"], []).append(e)
    found: list[Level] = []
    for rows in by_order.values():
        role = rows[0]["role"]
        price = since = None
        for e in rows:
            if price is not None:  # any later event of the order ends the trigger it had
                found.append(Level(role, price, since, e["time"]))
                price = None
            if e["op"] in ("place", "modify") and e["trigger_price"]:
                price, since = e["trigger_price"], e["time"]
            elif e["op"] == "fill":
                break
        if price is not None:
            stop_at = (ended or {}).get(rows[0]["orderid"])
            found.append(Level(role, price, since, max(since, stop_at) if stop_at is not None else end))
    return sorted(found, key=lambda level: (level.start, level.role))


def _trade(p: dict[str, Any]) -> Trade:
    return Trade(
        p["symbol"], p["opened_at"], p["entry_price"], p["sl_price"], p["quantity"], p["closed_at"],
        p["exit_price"], p["pnl"], p["r"], p["reason"],
    )
