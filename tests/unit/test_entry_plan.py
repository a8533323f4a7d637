"""Every row of the strategy.md §5 table through plan_entry."""

from __future__ import annotations

from datetime import datetime

import pytest

from messages.base import IST
from messages.signals import EntryCandidate
from strategy.entry_plan import WorkingEntry, plan_entry

X = "NIFTY17JUN2115500CE"
Y = "NIFTY17JUN2115600CE"


def cand(symbol: str = X, trigger: float = 149.95, quantity: int = 650, highest_high: float = 155.0) -> EntryCandidate:
    return EntryCandidate(
        symbol=symbol,
        option_type="CE",
        swing_price=round(trigger + 0.05, 2),
        swing_bar_time=datetime(2021, 6, 11, 9, 40, tzinfo=IST),
        highest_high=highest_high,
        sl_price=highest_high + 1.0,
        sl_points=round(highest_high + 1.0 - (trigger + 0.05), 2),
        lots=quantity // 65,
        quantity=quantity,
        trigger_price=trigger,
        limit_price=round(trigger - 3.0, 2),
    )


def working(symbol: str = X, trigger: float = 149.95, quantity: int = 650, filled: int = 0) -> WorkingEntry:
    return WorkingEntry(symbol=symbol, trigger_price=trigger, quantity=quantity, filled_quantity=filled)


@pytest.mark.parametrize("at_bar_close", [False, True])
def test_no_best_with_working_order_cancels_now(at_bar_close: bool) -> None:
    assert plan_entry(None, working(), at_bar_close) == "cancel"


@pytest.mark.parametrize("at_bar_close", [False, True])
def test_no_best_and_no_order_does_nothing(at_bar_close: bool) -> None:
    assert plan_entry(None, None, at_bar_close) == "none"


@pytest.mark.parametrize("at_bar_close", [False, True])
def test_best_without_order_places_now(at_bar_close: bool) -> None:
    assert plan_entry(cand(), None, at_bar_close) == "place"


@pytest.mark.parametrize("at_bar_close", [False, True])
def test_same_symbol_same_trigger_and_quantity_keeps(at_bar_close: bool) -> None:
    # The stop moving (highest high) is no reason to touch the entry order.
    assert plan_entry(cand(highest_high=160.0), working(), at_bar_close) == "keep"


@pytest.mark.parametrize("at_bar_close", [False, True])
def test_same_symbol_other_trigger_modifies(at_bar_close: bool) -> None:
    assert plan_entry(cand(trigger=139.95), working(trigger=149.95), at_bar_close) == "modify"


@pytest.mark.parametrize("at_bar_close", [False, True])
def test_same_symbol_other_quantity_modifies(at_bar_close: bool) -> None:
    assert plan_entry(cand(quantity=585), working(quantity=650), at_bar_close) == "modify"


def test_other_symbol_defers_the_switch_between_bar_closes() -> None:
    assert plan_entry(cand(symbol=Y), working(symbol=X), at_bar_close=False) == "defer_switch"


def test_other_symbol_switches_at_bar_close() -> None:
    assert plan_entry(cand(symbol=Y), working(symbol=X), at_bar_close=True) == "switch"


@pytest.mark.parametrize("at_bar_close", [False, True])
def test_no_switch_once_the_working_order_has_filled(at_bar_close: bool) -> None:
    assert plan_entry(cand(symbol=Y), working(symbol=X, filled=65), at_bar_close) == "keep"
