"""R accounting for a short option position (strategy.md §6)."""

from __future__ import annotations

import pytest

from strategy.risk import max_drawdown, position_risk, r_multiple, short_pnl


def test_short_pnl_is_entry_minus_exit_times_quantity() -> None:
    assert short_pnl(150.0, 140.0, 65) == 650.0  # bought back lower: profit
    assert short_pnl(150.0, 161.0, 65) == -715.0  # bought back higher: loss
    assert short_pnl(150.0, 150.0, 130) == 0.0


def test_position_risk_is_stop_minus_entry_times_quantity() -> None:
    assert position_risk(150.0, 160.0, 65) == 650.0
    assert position_risk(200.0, 204.0, 650) == 2600.0


@pytest.mark.parametrize("sl_price", [150.0, 149.95, 100.0])
def test_position_risk_raises_when_stop_not_above_entry(sl_price: float) -> None:
    with pytest.raises(ValueError):
        position_risk(150.0, sl_price, 65)


def test_position_risk_raises_for_zero_quantity() -> None:
    with pytest.raises(ValueError):
        position_risk(150.0, 160.0, 0)


def test_r_multiple() -> None:
    risk = position_risk(150.0, 160.0, 65)  # 650
    assert r_multiple(short_pnl(150.0, 140.0, 65), risk) == 1.0
    assert r_multiple(short_pnl(150.0, 160.0, 65), risk) == -1.0  # stopped out at the stop = -1R
    assert r_multiple(short_pnl(150.0, 130.0, 65), risk) == 2.0
    assert r_multiple(short_pnl(150.0, 155.0, 65), risk) == -0.5


def test_max_drawdown_from_a_peak() -> None:
    # cumulative R: 1, -1, -0.5, -1.5, 1.5 -> peak 1, trough -1.5 -> 2.5
    assert max_drawdown([1.0, -2.0, 0.5, -1.0, 3.0]) == pytest.approx(2.5)


def test_max_drawdown_counts_from_zero_start() -> None:
    # The curve starts at 0, which is the first peak.
    assert max_drawdown([-1.0, -1.0]) == 2.0


def test_max_drawdown_later_deeper_fall_wins() -> None:
    # cumulative: 2, 1, 4, 0.5 -> falls 1 (from 2) and 3.5 (from 4)
    assert max_drawdown([2.0, -1.0, 3.0, -3.5]) == pytest.approx(3.5)


def test_max_drawdown_zero_when_never_falling() -> None:
    assert max_drawdown([]) == 0.0
    assert max_drawdown([1.0, 0.0, 2.0]) == 0.0


def test_max_drawdown_accepts_a_generator() -> None:
    assert max_drawdown(r for r in (1.0, -3.0)) == 3.0
