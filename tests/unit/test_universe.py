"""Expiry codes, ATM rounding and the 42-symbol universe (strategy.md §1)."""

from __future__ import annotations

from datetime import date

import pytest

from live.universe import (
    UniverseError,
    atm_strike,
    checked_lot_size,
    checked_spot,
    expiry_code,
    nearest_expiry,
    option_symbol,
    parse_expiry,
    universe,
)


def test_expiry_code_and_symbol_format() -> None:
    assert expiry_code(date(2025, 12, 30)) == "30DEC25"
    assert option_symbol("NIFTY", date(2025, 12, 30), 26000, "CE") == "NIFTY30DEC2526000CE"
    assert option_symbol("NIFTY", date(2021, 6, 17), 15600, "PE") == "NIFTY17JUN2115600PE"


@pytest.mark.parametrize("text", ["30DEC25", "30-DEC-25", "30dec25", " 30-Dec-25 "])
def test_parse_expiry_accepts_the_command_line_and_openalgo_forms(text: str) -> None:
    assert parse_expiry(text) == date(2025, 12, 30)


@pytest.mark.parametrize("text", ["2025-12-30", "30DEC2025", "", "31FEB25"])
def test_parse_expiry_rejects_other_forms(text: str) -> None:
    with pytest.raises(UniverseError, match="30DEC25"):
        parse_expiry(text)


@pytest.mark.parametrize(
    ("spot", "atm"), [(24243.0, 24250), (24224.99, 24200), (24225.0, 24250), (24275.0, 24300), (24300.0, 24300)]
)
def test_atm_is_spot_rounded_to_the_nearest_strike(spot: float, atm: int) -> None:
    assert atm_strike(spot, 50) == atm


def test_atm_of_a_non_positive_spot_is_an_error() -> None:
    with pytest.raises(UniverseError):
        atm_strike(0.0, 50)


@pytest.mark.parametrize("spot", [float("nan"), float("inf")])
def test_atm_of_a_non_finite_spot_is_an_error(spot: float) -> None:
    with pytest.raises(UniverseError, match="finite"):
        atm_strike(spot, 50)


def test_an_index_quote_and_a_lot_size_are_checked_up_to_their_bounds() -> None:
    assert [checked_spot(x) for x in (1_000, 26012.4, 1_000_000.0)] == [1000.0, 26012.4, 1_000_000.0]
    assert [checked_lot_size(x) for x in (1, 75, 75.0, 10_000)] == [1, 75, 75, 10_000]
    for spot in (999.99, 1_000_000.01, float("nan"), "26000", None, True):
        with pytest.raises(UniverseError, match="NIFTY quote"):
            checked_spot(spot)
    for lotsize in (0, 10_001, 75.5, float("nan"), float("inf"), "75", None, True):
        with pytest.raises(UniverseError, match="lot size"):
            checked_lot_size(lotsize)


def test_universe_is_atm_plus_minus_window_strikes_ce_and_pe() -> None:
    symbols = universe("NIFTY", date(2025, 12, 30), 26000, 10, 50)
    assert len(symbols) == 42 and len(set(symbols)) == 42
    assert symbols[:2] == ["NIFTY30DEC2525500CE", "NIFTY30DEC2525500PE"]
    assert symbols[-2:] == ["NIFTY30DEC2526500CE", "NIFTY30DEC2526500PE"]
    assert "NIFTY30DEC2526000CE" in symbols and "NIFTY30DEC2526000PE" in symbols


def test_nearest_expiry_is_the_first_on_or_after_today() -> None:
    listed = [date(2025, 12, 23), date(2025, 12, 30), date(2026, 1, 6)]
    assert nearest_expiry(listed, date(2025, 12, 24)) == date(2025, 12, 30)
    assert nearest_expiry(listed, date(2025, 12, 30)) == date(2025, 12, 30)
    with pytest.raises(UniverseError):
        nearest_expiry(listed, date(2026, 1, 7))
