"""The REST endpoints that read the market rather than the account.

``quotes`` and ``multiquotes`` answer from the :class:`~simulator.quotes.QuoteBoard`;
``search``, ``symbol`` and ``expiry`` from the market's instruments (tokens
are ``100000 +`` the symbol's rank in sorted order, expiries ``DD-MON-YY``);
``intervals`` lists ``1m`` and ``D``; ``history`` serves the 1-minute bars
whose minute has fully ended at simulated ``now`` (``D`` aggregates them per
day, stamped at IST midnight), timestamps in epoch seconds.

Each function takes what it reads explicitly and the validated request data
``d`` and returns a :data:`~simulator.replies.Reply`.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from datetime import time as dtime
from typing import Any

from messages.base import IST
from simulator.market import Instrument, MarketData
from simulator.quotes import QuoteBoard, listed
from simulator.replies import Reply, error


def quotes(market: MarketData, board: QuoteBoard, d: dict[str, Any]) -> Reply:
    if listed(market, d["symbol"], d["exchange"]) is None:
        return error(404, f"Symbol {d['symbol']} not found on exchange {d['exchange']}")
    return 200, {"status": "success", "data": board[d["symbol"]].rest()}


def multiquotes(market: MarketData, board: QuoteBoard, d: dict[str, Any]) -> Reply:
    results = []
    for item in d["symbols"]:
        symbol, exchange = item["symbol"], item["exchange"]
        if listed(market, symbol, exchange) is None:
            results.append({"symbol": symbol, "exchange": exchange, "error": f"Symbol {symbol} not found on exchange {exchange}"})
        else:
            results.append({"symbol": symbol, "exchange": exchange, "data": board[symbol].rest()})
    return 200, {"status": "success", "results": results}


def _expiry_text(day: date | None) -> str:
    return day.strftime("%d-%b-%y").upper() if day else ""


def _symbol_row(inst: Instrument, token: int) -> dict[str, Any]:
    is_option = inst.option_type is not None
    return {
        "brexchange": inst.exchange,
        "brsymbol": inst.symbol,
        "exchange": inst.exchange,
        "expiry": _expiry_text(inst.expiry),
        "freeze_qty": 1800 if is_option else 0,
        "id": token,
        "instrumenttype": "OPTIDX" if is_option else ("INDEX" if inst.exchange == "NSE_INDEX" else ""),
        "lotsize": inst.lot_size,
        "name": inst.name,
        "strike": inst.strike if inst.strike is not None else -0.01,
        "symbol": inst.symbol,
        "tick_size": inst.tick_size,
        "token": str(token),
    }


def _tokens(market: MarketData) -> dict[str, int]:
    return {s: 100_000 + n for n, s in enumerate(sorted(market.instruments))}


def search(market: MarketData, d: dict[str, Any]) -> Reply:
    words = [w.upper() for w in d["query"].split()]
    if not words:
        return error(400, "Query parameter is required and cannot be empty")
    tokens = _tokens(market)
    rows = [
        _symbol_row(inst, tokens[s])
        for s, inst in sorted(market.instruments.items())
        if all(w in s.upper() for w in words) and (not d.get("exchange") or inst.exchange == d["exchange"])
    ]
    if not rows:
        return error(404, "No matching symbols found")
    return 200, {"status": "success", "message": f"Found {len(rows)} matching symbols", "data": rows}


def symbol(market: MarketData, d: dict[str, Any]) -> Reply:
    inst = listed(market, d["symbol"], d["exchange"])
    if inst is None:
        return error(404, f"Symbol {d['symbol']} not found in exchange {d['exchange']}")
    return 200, {"status": "success", "data": _symbol_row(inst, _tokens(market)[inst.symbol])}


def expiry(market: MarketData, d: dict[str, Any]) -> Reply:
    symbol, exchange, kind = d["symbol"], d["exchange"], d["instrumenttype"]
    days = sorted(
        {
            i.expiry
            for i in market.instruments.values()
            if kind == "options" and i.option_type is not None and i.name == symbol and i.exchange == exchange and i.expiry
        }
    )
    if not days:
        return error(404, f"No expiry dates found for {symbol} {kind} in {exchange}")
    return 200, {
        "status": "success",
        "message": f"Found {len(days)} expiry dates for {symbol} {kind} in {exchange}",
        "data": [_expiry_text(day) for day in days],
    }


def intervals(d: dict[str, Any]) -> Reply:
    return 200, {
        "status": "success",
        "data": {"days": ["D"], "hours": [], "minutes": ["1m"], "months": [], "seconds": [], "weeks": []},
    }


def history(market: MarketData, now: datetime, d: dict[str, Any]) -> Reply:
    interval = d["interval"]
    if interval not in ("1m", "D"):
        return error(400, f"Invalid interval '{interval}'. Supported intervals: 1m, D")
    if listed(market, d["symbol"], d["exchange"]) is None:
        return error(404, f"Symbol {d['symbol']} not found on exchange {d['exchange']}")
    first, last = d["start_date"], d["end_date"]
    bars = [
        b
        for b in market.bars.get(d["symbol"], [])
        if b.start + timedelta(minutes=1) <= now and first <= b.start.astimezone(IST).date() <= last
    ]
    if interval == "1m":
        rows = [
            {
                "close": b.close,
                "high": b.high,
                "low": b.low,
                "oi": 0,
                "open": b.open,
                "timestamp": int(b.start.timestamp()),
                "volume": b.volume,
            }
            for b in bars
        ]
    else:
        days: dict[date, list] = {}
        for b in bars:
            days.setdefault(b.start.astimezone(IST).date(), []).append(b)
        rows = [
            {
                "close": group[-1].close,
                "high": max(b.high for b in group),
                "low": min(b.low for b in group),
                "oi": 0,
                "open": group[0].open,
                "timestamp": int(datetime.combine(day, dtime(0, 0), IST).timestamp()),
                "volume": sum(b.volume for b in group),
            }
            for day, group in sorted(days.items())
        ]
    return 200, {"status": "success", "data": rows}
