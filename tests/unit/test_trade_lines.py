"""The one INFO line a trader sees for each order, fill, stop, position and halt (persistence/trade_lines.py)."""

from __future__ import annotations

from datetime import datetime

from messages.base import IST
from messages.orders import OrderFilled, OrderSent
from messages.portfolio import PositionEvent
from messages.signals import SwingDetected
from messages.system import Halted
from persistence.trade_lines import trade_line

AT = datetime(2021, 6, 11, 10, 5, 30, tzinfo=IST)
X = "NIFTY17JUN2115500CE"


def sent(**change) -> OrderSent:
    fields = dict(time=AT, op="place", role="entry", orderid="E1", symbol=X, action="SELL", pricetype="SL",
                  trigger_price=149.95, price=146.95, quantity=650)
    return OrderSent(**{**fields, **change})


def test_orders_say_what_was_sent_with_its_terms() -> None:
    assert trade_line(sent()) == "10:05:30 ENTRY placed: SELL 650 NIFTY17JUN2115500CE SL trigger 149.95 limit 146.95, order E1"
    assert trade_line(sent(op="cancel")).startswith("10:05:30 ENTRY cancel sent: SELL 650")
    stop = sent(role="stop", orderid="S1", action="BUY", trigger_price=158.05, price=161.05, position_id="E1")
    assert trade_line(stop) == (
        "10:05:30 STOP placed: BUY 650 NIFTY17JUN2115500CE SL trigger 158.05 limit 161.05, order S1 (position E1)"
    )
    exit_ = sent(role="exit", orderid="X1", action="BUY", pricetype="MARKET", trigger_price=0, price=0, position_id="E1")
    assert trade_line(exit_) == "10:05:30 EXIT placed: BUY 650 NIFTY17JUN2115500CE MARKET, order X1 (position E1)"


def test_fills_positions_and_halts_have_their_line() -> None:
    fill = OrderFilled(time=AT, orderid="E1", role="entry", symbol=X, action="SELL", quantity=650, average_price=149.9)
    assert trade_line(fill) == "10:05:30 ENTRY FILLED: SELL 650 NIFTY17JUN2115500CE at 149.90, order E1"
    base = dict(time=AT, position_id="E1", symbol=X, option_type="CE", quantity=650, entry_price=149.9, sl_price=158.02)
    assert trade_line(PositionEvent(state="open", **base)) == (
        "10:05:30 POSITION OPEN E1: short 650 NIFTY17JUN2115500CE at 149.90, stop 158.02"
    )
    closed = PositionEvent(state="closed", exit_price=158.1, pnl=-5330.0, r=-1.01, reason="stop", **base)
    assert trade_line(closed) == (
        "10:05:30 POSITION CLOSED E1: 650 NIFTY17JUN2115500CE 149.90 -> 158.10 (stop), -1.01R, -5,330.00 rupees"
    )
    assert trade_line(Halted(time=AT, reason="daily_stop_r (-5.02R)")).startswith("10:05:30 HALT: daily_stop_r (-5.02R)")


def test_swings_are_not_a_traders_line() -> None:
    swing = SwingDetected(time=AT, symbol=X, option_type="CE", swing_type="LOW", update=False, price=150.0,
                          bar_time=AT, confirmed_at=AT, vwap_at_swing=151.0, highest_high=160.0)
    assert trade_line(swing) is None
